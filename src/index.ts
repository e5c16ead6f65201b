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
  type WorkerRetryStrategy,
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
export { pauseQueue, resumeQueue } from './queue-state.js';
export type { ScheduleDefinition, Schedules } from './schedules.js';
export { listSchedules, type ScheduleInfo, type ListSchedulesOptions } from './schedule-list.js';
export { prune, type PruneOptions, type PruneResult } from './retention.js';
export {
  ARCHIVE_STATUSES,
  RETRYABLE_STATUSES,
  type ArchiveStatus,
  type RetryableStatus,
} from './archive-status.js';
export {
  cancelJob,
  cancelJobs,
  deleteJob,
  deleteJobs,
  retryJob,
  retryJobs,
  runJobNow,
  type CancelResult,
  type DeleteJobResult,
  type RetryJobsFilter,
  type RunNowResult,
} from './job-control.js';
export type { TableOptions } from './tables.js';
export type { DbClient, KyselyDb, DrizzleDb, KnexDb, PostgresJsDb, PrismaDb } from './db/shapes.js';
export type {
  JobPayloads,
  JobType,
  PayloadOf,
  Queryable,
  AnyJobInfo,
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
  DatabaseSetupError,
  MigrationError,
  NonErrorThrownError,
  JobFinishedError,
  JobTimeoutError,
  AbandonedJobError,
  LeaseLostError,
  JobCancelledError,
  DiscardJobError,
  SnoozeJobError,
} from './errors.js';
