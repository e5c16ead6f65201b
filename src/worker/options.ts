import { ARCHIVE_STATUSES } from '../archive-status.js';
import { InvalidOptionError } from '../errors.js';
import { consoleLogger, type Logger } from '../log.js';
import { validateName } from '../payload.js';
import { defaultRetryStrategy, validateRetryStrategy, type RetryStrategy, type WorkerRetryStrategy } from '../retry.js';
import { resolveTables, TABLE_OPTION_KEYS, type TableOptions, type Tables } from '../tables.js';
import {
  milliseconds,
  oneOf,
  optionalBoolean,
  optionalFunction,
  rejectUnknownKeys,
  requireObject,
  wholeNumber,
} from '../validate.js';
import type { AnyJobInfo, JobContext, JobHandler, JobType } from '../types.js';
import { DEFAULT_QUEUE } from '../enqueue.js';
import type { RetentionOptions } from './services/retention.js';
import { resolveSchedules, type ResolvedSchedule, type Schedules } from '../schedules.js';

/** A job type's handler with settings of its own. */
export interface JobDefinition<T extends string = string> {
  handler: JobHandler<T>;
  /** Overrides the worker's `retryStrategy` for this job type; a function sees the type's payload. */
  retryStrategy?: RetryStrategy<T>;
  /** Overrides the worker's `jobTimeout` for this job type, in ms. */
  timeout?: number;
  /**
   * `'transaction'`: the handler runs inside the job's transaction (with
   * others of its batch), and its `ctx.db` writes commit with the job's
   * removal. `'lease'`, for long work: the claim commits a lease at once, a
   * heartbeat renews it, the handler runs outside any transaction (`ctx.db`
   * runs each query on its own, from the pool), and completing archives the
   * job. A dead worker's leased job is taken over when its lease runs out.
   * @defaultValue `'transaction'`
   */
  mode?: 'transaction' | 'lease';
  /** Lease mode: how long a lease lasts without renewal, in ms; renewed every third of it. @defaultValue `30_000` */
  leaseDuration?: number;
}

/** The `handlers` map: a handler function or a {@link JobDefinition} per job type. */
export type JobHandlers = {
  [T in JobType]?: JobHandler<T> | JobDefinition<T>;
};

/**
 * Called once a job has failed for the last time (or was set aside after
 * `maxAbandonedRuns`, or discarded by its handler with a `DiscardJobError`),
 * in either mode inside the transaction that archives
 * it, just before commit: its writes through `ctx.db` commit with the
 * archiving. If it throws, only its own writes are undone.
 */
export type FailedJobHook = (job: AnyJobInfo, error: Error, ctx: JobContext) => Promise<void> | void;

/** Options of {@link createWorker}. */
export interface WorkerOptions extends TableOptions {
  /** Queue this worker serves. @defaultValue `'default'` */
  queue?: string;
  /**
   * Jobs run in parallel: one loop each, each holding one pool connection
   * while it works. Give the pool at least `concurrency + 1` connections.
   * @defaultValue `1`
   */
  concurrency?: number;
  /** Handlers by job type. The worker claims only these types (plus any, with `fallbackHandler`). */
  handlers: JobHandlers;
  /**
   * Runs jobs whose type has no entry in `handlers`. Without it, such jobs are
   * left for a worker that knows them.
   */
  fallbackHandler?: JobHandler<string>;
  /**
   * Most jobs a loop claims in one transaction. Quick jobs are claimed and
   * committed many at a time, which is what makes high throughput possible;
   * each loop learns how long jobs take and claims fewer of the slow ones, so
   * that a batch takes about 20 ms (and a slow job runs alone). Within a
   * batch jobs run one after another, each under its own savepoint: a failing
   * job never undoes another's work. Set `1` for one transaction per job.
   * @defaultValue `500`
   */
  batchSize?: number;
  /**
   * Wake up at once when jobs are enqueued, through PostgreSQL's
   * LISTEN/NOTIFY: one extra connection per process (outside the pool),
   * shared by all workers of the pool. Turn it off where LISTEN does not work,
   * e.g. behind PgBouncer in transaction mode; workers then rely on polling.
   * @defaultValue `true`
   */
  listen?: boolean;
  /**
   * How long an idle loop waits before looking for due jobs again, in ms. A
   * loop that finds jobs runs the next batch at once; it waits only when the
   * queue is empty, and a notification ends the wait early. Polling is what
   * picks up scheduled jobs and retries when they come due. Each wait is
   * jittered by ±10% so loops do not poll in lockstep.
   * @defaultValue `250`
   */
  pollInterval?: number;
  /** Retries for every job type that names none of its own. @defaultValue {@link exponentialBackoff}`()`: 5 retries, 1 s doubling */
  retryStrategy?: WorkerRetryStrategy;
  /**
   * Longest a handler may run, in ms, for job types that set no `timeout` of
   * their own. When it runs out, `ctx.signal` is aborted with a
   * `JobTimeoutError`, a query the handler has running is cancelled, its
   * writes are rolled back, and the attempt fails (and is retried as usual) —
   * even if the handler ignores the signal and goes on.
   * @defaultValue none
   */
  jobTimeout?: number;
  /**
   * Archive a job as failed, with an `AbandonedJobError`, once this many of
   * its runs died unfinished (its process crashed, its connection was lost,
   * its lease ran out) — a job that kills the process running it must not
   * take down worker after worker forever.
   * @defaultValue `3`
   */
  maxAbandonedRuns?: number;
  /**
   * Called after a job's final failure (or its discarding), in the
   * transaction that archives it; if it throws, the job is still archived
   * as it was and the error logged.
   */
  onFailedJob?: FailedJobHook;
  /** Called with each error met while polling, besides logging it; the worker keeps polling with backoff. */
  onPollingError?: (error: Error) => void;
  /** Where events go: a `log(event, data)` function or a pino-style logger. @defaultValue {@link consoleLogger}`()` */
  log?: Logger;
  /** How long `stop()` waits for running jobs before rolling them back, in ms. @defaultValue `10_000` */
  shutdownTimeout?: number;
  /**
   * Stop gracefully on SIGTERM and SIGINT, then let the signal take its usual
   * course (the process exits). @defaultValue `false`
   */
  handleSignals?: boolean;
  /** Name in logs, to tell workers apart. @defaultValue a random id */
  workerId?: string;
  /**
   * Delete archived jobs older than `olderThan` ms while the worker runs,
   * every `every` ms (default 10 minutes), in short batches; see `prune`.
   * @defaultValue off: the archive keeps everything
   */
  retention?: RetentionOptions;
  /**
   * Recurring jobs, by schedule name: `{ cron, timezone?, jobType, payload,
   * queue?, priority?, backfill? }`. Each slot's job is enqueued once, however
   * many workers have the schedule; a schedule left out of the code stops.
   * @defaultValue none
   */
  schedules?: Schedules;
  /**
   * How often the worker reports itself (and the jobs it runs) to the
   * dashboard's list of workers, in ms: one small upsert each time.
   * @defaultValue `10_000`
   */
  heartbeatInterval?: number;
}

/** A handler with everything it needs, after validation. */
export interface ResolvedHandler {
  handler: JobHandler<string>;
  retryStrategy: RetryStrategy;
  /** Milliseconds, or null for no limit. */
  timeout: number | null;
  mode: 'transaction' | 'lease';
  leaseDuration: number;
}

export interface ResolvedWorkerOptions {
  queue: string;
  concurrency: number;
  handlers: ReadonlyMap<string, ResolvedHandler>;
  fallback: ResolvedHandler | null;
  batchSize: number;
  listen: boolean;
  pollInterval: number;
  onFailedJob: FailedJobHook | null;
  onPollingError: ((error: Error) => void) | null;
  log: Logger;
  shutdownTimeout: number;
  handleSignals: boolean;
  workerId: string;
  maxAbandonedRuns: number;
  retention: RetentionOptions | null;
  schedules: readonly ResolvedSchedule[];
  heartbeatInterval: number;
  tables: Tables;
}

const WORKER_OPTIONS = new Set([
  'queue',
  'concurrency',
  'handlers',
  'fallbackHandler',
  'batchSize',
  'listen',
  'pollInterval',
  'retryStrategy',
  'jobTimeout',
  'maxAbandonedRuns',
  'onFailedJob',
  'onPollingError',
  'log',
  'shutdownTimeout',
  'handleSignals',
  'workerId',
  'retention',
  'schedules',
  'heartbeatInterval',
  ...TABLE_OPTION_KEYS,
]);

/** Validates every option once, at construction, with errors that name the option. */
export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  requireObject(options, 'createWorker needs options: { handlers: { jobType: handler, ... }, ... }');
  rejectUnknownKeys(options, WORKER_OPTIONS, 'unknown worker option');
  const defaultStrategy =
    options.retryStrategy === undefined
      ? defaultRetryStrategy
      : validateRetryStrategy('retryStrategy', options.retryStrategy);
  const defaults: HandlerDefaults = {
    retryStrategy: defaultStrategy,
    timeout: options.jobTimeout === undefined ? null : milliseconds('jobTimeout', options.jobTimeout, { above: 0 }),
  };

  const handlers = new Map<string, ResolvedHandler>();
  requireObject(options.handlers, 'handlers must be an object mapping job types to handler functions');
  for (const [jobType, entry] of Object.entries(options.handlers)) {
    if (entry === undefined) continue;
    validateName('job type', jobType);
    handlers.set(jobType, resolveHandler(`handlers[${JSON.stringify(jobType)}]`, entry, defaults));
  }
  const fallback =
    options.fallbackHandler === undefined
      ? null
      : resolveHandler('fallbackHandler', options.fallbackHandler, defaults);
  if (handlers.size === 0 && !fallback) {
    throw new InvalidOptionError('a worker needs at least one entry in handlers (or a fallbackHandler)');
  }

  return {
    queue: validateName('queue', options.queue ?? DEFAULT_QUEUE),
    concurrency: wholeNumber('concurrency', options.concurrency ?? 1, 1),
    handlers,
    fallback,
    batchSize: wholeNumber('batchSize', options.batchSize ?? 500, 1),
    listen: optionalBoolean('listen', options.listen, true),
    pollInterval: milliseconds('pollInterval', options.pollInterval ?? 250, { above: 0 }),
    onFailedJob: optionalFunction('onFailedJob', options.onFailedJob),
    onPollingError: optionalFunction('onPollingError', options.onPollingError),
    log: resolveLogger(options.log),
    shutdownTimeout: milliseconds('shutdownTimeout', options.shutdownTimeout ?? 10_000, { min: 0 }),
    handleSignals: optionalBoolean('handleSignals', options.handleSignals, false),
    workerId:
      options.workerId === undefined ? `worker-${Math.random().toString(36).slice(2, 10)}` : options.workerId,
    maxAbandonedRuns: wholeNumber('maxAbandonedRuns', options.maxAbandonedRuns ?? 3, 1),
    retention: resolveRetention(options.retention),
    // Jobs of a schedule that names no queue go to the worker's.
    schedules: resolveSchedules(options.schedules, options.queue ?? DEFAULT_QUEUE),
    heartbeatInterval: milliseconds('heartbeatInterval', options.heartbeatInterval ?? 10_000, { min: 100, max: 20_000 }),
    tables: resolveTables(options),
  };
}

const RETENTION_OPTIONS = new Set(['olderThan', 'status', 'every']);

function resolveRetention(retention: unknown): RetentionOptions | null {
  if (retention === undefined) return null;
  requireObject(retention, 'retention must be { olderThan, status?, every? }');
  rejectUnknownKeys(retention, RETENTION_OPTIONS, 'retention: unknown option');
  const { olderThan, status, every } = retention;
  return {
    olderThan: milliseconds('retention.olderThan', olderThan, { above: 0 }),
    ...(status === undefined ? {} : { status: oneOf('retention.status', status, ARCHIVE_STATUSES) }),
    ...(every === undefined ? {} : { every: milliseconds('retention.every', every, { above: 0 }) }),
  };
}

interface HandlerDefaults {
  retryStrategy: RetryStrategy;
  timeout: number | null;
}

const DEFINITION_KEYS = new Set(['handler', 'retryStrategy', 'timeout', 'mode', 'leaseDuration']);

function resolveHandler(where: string, entry: unknown, defaults: HandlerDefaults): ResolvedHandler {
  if (typeof entry === 'function') {
    return { handler: entry as JobHandler<string>, ...defaults, mode: 'transaction', leaseDuration: DEFAULT_LEASE_MS };
  }
  if (entry !== null && typeof entry === 'object' && typeof (entry as JobDefinition).handler === 'function') {
    const definition = entry as JobDefinition;
    rejectUnknownKeys(definition, DEFINITION_KEYS, `${where}: unknown option`);
    return {
      handler: definition.handler as JobHandler<string>,
      retryStrategy:
        definition.retryStrategy === undefined
          ? defaults.retryStrategy
          : validateRetryStrategy(`${where}.retryStrategy`, definition.retryStrategy),
      timeout:
        definition.timeout === undefined
          ? defaults.timeout
          : milliseconds(`${where}.timeout`, definition.timeout, { above: 0 }),
      mode: definition.mode === undefined ? 'transaction' : oneOf(`${where}.mode`, definition.mode, MODES),
      leaseDuration:
        definition.leaseDuration === undefined
          ? DEFAULT_LEASE_MS
          : milliseconds(`${where}.leaseDuration`, definition.leaseDuration, { min: MIN_LEASE_MS }),
    };
  }
  throw new InvalidOptionError(`${where} must be a function or { handler, retryStrategy?, timeout?, mode? }`);
}

const DEFAULT_LEASE_MS = 30_000;
// Renewals come every third of a lease; below this they would be most of the work.
const MIN_LEASE_MS = 1_000;

const MODES = ['transaction', 'lease'] as const;

function resolveLogger(log: unknown): Logger {
  if (log === undefined) return consoleLogger();
  if (typeof log === 'function') return log as Logger;
  if (
    log !== null &&
    typeof log === 'object' &&
    ['debug', 'info', 'warn', 'error'].every((level) => typeof (log as Record<string, unknown>)[level] === 'function')
  ) {
    return log as Logger;
  }
  throw new InvalidOptionError('log must be a function (event, data) or a logger with debug/info/warn/error methods');
}
