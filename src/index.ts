// The public surface of proletarian: everything an app imports comes from here.

export { migrate, schemaSql, type MigrateResult } from './migrate.js';
export { LATEST_SCHEMA_VERSION } from './migrations/index.js';
export {
  enqueue,
  enqueueMany,
  notifyChannel,
  DEFAULT_QUEUE,
  type EnqueueOptions,
  type EnqueueLimits,
  type JobSpec,
} from './enqueue.js';
export { createWorker, type Worker, type WorkerState, type StopOptions } from './worker/worker.js';
export type { RetentionOptions } from './worker/services/retention.js';
export type {
  WorkerOptions,
  JobDefinition,
  JobHandlers,
  FailedJobHook,
} from './worker/options.js';
export {
  exponentialBackoff,
  retryDelayFor,
  type RetryPolicy,
  type RetryStrategy,
  type RetryStrategyFunction,
  type ExponentialBackoffOptions,
} from './retry.js';
export {
  consoleLogger,
  silentLogger,
  LOG_EVENTS,
  type Logger,
  type LogFunction,
  type LevelLogger,
  type LogEvent,
  type LogLevel,
  type LogData,
} from './log.js';
export { queueStats, type JobTypeStats } from './stats.js';
export { deleteJob, type DeleteJobResult } from './delete-job.js';
export { prune, type PruneOptions, type PruneResult } from './retention.js';
export { ARCHIVE_STATUSES, type ArchiveStatus } from './archive-status.js';
export type { TableOptions } from './tables.js';
export type {
  JobPayloads,
  JobType,
  PayloadOf,
  Queryable,
  JobInfo,
  JobContext,
  JobDb,
  JobHandler,
} from './types.js';
export {
  ProletarianError,
  InvalidOptionError,
  InvalidNameError,
  InvalidPayloadError,
  SchemaNotReadyError,
  MigrationError,
  NonErrorThrownError,
  JobFinishedError,
  JobTimeoutError,
  AbandonedJobError,
  LeaseLostError,
} from './errors.js';
