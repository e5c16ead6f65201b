/** Severity of a log event, in pino's and the console's vocabulary. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Every event a worker logs, with its level. The names are stable: alert on
 * them, count them, filter on them.
 *
 * Every event's data holds the worker's context (`workerId`, `queue`); the
 * events of a job add its context too (`slot`, `jobId`, `jobType`,
 * `attempt`), then the fields named below. Errors come as
 * `error: { name, message, stack }`. A job's events carry the same data in
 * transaction mode and lease mode.
 */
export const LOG_EVENTS = {
  /** A worker began polling its queue. */
  'worker-started': 'info',
  /** `stop()` was called; no new jobs are claimed. */
  'worker-stopping': 'info',
  /** Every loop has ended; `stop()` resolves next. */
  'worker-stopped': 'info',
  /** A job was claimed and its handler is about to run. */
  'job-started': 'debug',
  /** A handler logged a message through `ctx.log`. */
  'job-log': 'info',
  /** The handler returned; the job was archived as `success` (in transaction mode, with the handler's writes). */
  'job-succeeded': 'debug',
  /** The handler failed and the retry strategy asked for another attempt. Data: `delayMs`, `error`. */
  'job-retry-scheduled': 'warn',
  /**
   * The handler failed for the last time (or the payload could not be decoded); the job was archived as `failure`.
   * Data: `error`.
   */
  'job-failed': 'error',
  /** The handler threw a `DiscardJobError`; the job was archived as `discarded`, not retried. Data: `error`. */
  'job-discarded': 'warn',
  /** The handler threw a `SnoozeJobError`; the job is due again in `delayMs`, no attempt counted. Data: `delayMs`. */
  'job-snoozed': 'debug',
  /** `cancelJob` asked for this claimed job; it was archived as `cancelled`, its writes rolled back, not retried. */
  'job-cancelled': 'info',
  /** `onFailedJob` threw; its writes were undone, the job stays archived as failed. Data: `error`. */
  'failed-job-hook-error': 'error',
  /** The retry strategy threw or returned something malformed; the job is treated as not retryable. Data: `error`. */
  'retry-strategy-error': 'error',
  /**
   * The last claim of this job died — with its worker, or only with its
   * connection — and it runs again at once, alone. Should it die again, a
   * lost connection that its surviving worker reported is not held against it.
   * Data: `abandonedRuns` (the runs of it that died with their worker so far),
   * `verdictInMs` (how long it waits first: when one more crash would set it
   * aside, for the verdict on this claim; else 0).
   */
  'job-claim-died': 'debug',
  /**
   * A run of this job died with its worker (a crash, or a lease that ran out); it is counted and the job runs again, alone.
   * Data: `abandonedRuns`, the runs of it that died so far.
   */
  'job-recovered': 'warn',
  /**
   * `maxAbandonedRuns` runs of this job died with their worker; it was archived as failed.
   * Data: `abandonedRuns`, `error` (the `AbandonedJobError` stored with it).
   */
  'job-set-aside': 'error',
  /** A lease-mode job's lease was lost while it ran; its outcome is not recorded. */
  'lease-lost': 'warn',
  /** A job failed after `stop()` began; it stays queued, no attempt counted. Data: `error`. */
  'job-interrupted': 'warn',
  /**
   * `stop()`'s timeout ran out while the handler still ran; its connection was closed, the job stays queued.
   * Data: `waitedMs`; or, without a job's context, `batchJobsRolledBack`: the finished jobs of its batch,
   * rolled back with it.
   */
  'job-abandoned': 'warn',
  /** Claiming or completing jobs failed (database down, connection reset, pool exhausted); polling backs off and retries. */
  'polling-error': 'error',
  /**
   * Like `polling-error`, for an error that will not clear by itself: the
   * login is refused, the database, tables or privileges are missing. The
   * worker keeps retrying with the same backoff, so fixing the setup resumes
   * work. Data: `problem` (`'authentication'`, `'database-missing'`,
   * `'permission-denied'` or `'schema-not-ready'`), `code` (the SQLSTATE),
   * `hint` (what to do), `consecutiveErrors`, `retryInMs`, `error`.
   */
  'setup-error': 'error',
  /** Polling works again after errors. */
  'polling-recovered': 'info',
  /** The connection listening for new jobs failed; it reconnects with backoff, and polling goes on meanwhile. */
  'listener-error': 'warn',
  /** The listening connection is back after errors. */
  'listener-reconnected': 'info',
  /** A pooled connection reported an error while the worker owned it or while idle. */
  'connection-error': 'warn',
  /** The worker's `retention` setting deleted old archived jobs. */
  'archive-pruned': 'info',
  /** Pruning the archive failed; the next round tries again. */
  'retention-error': 'error',
  /**
   * A schedule's job for one slot was enqueued, due at the slot's time, by this worker (one worker enqueues each slot).
   * Data: `schedule`, `slot` (ISO time), `jobId`.
   */
  'schedule-enqueued': 'debug',
  /**
   * A schedule's expression or time zone differs from the one stored; the new one holds from its next slot.
   * Data: `schedule`, `cron`, `timezone`, `previousCron`, `previousTimezone`.
   */
  'schedule-reset': 'info',
  /** A round of the worker's schedules failed (data: `error`), or one schedule's part of it (`schedule`, `error`); the next round tries again. */
  'schedule-error': 'error',
  /** The worker found its queue paused (`pauseQueue`): it claims nothing until it is resumed; running jobs finish. */
  'queue-paused': 'info',
  /** The worker found its queue resumed (`resumeQueue`) and claims again. */
  'queue-resumed': 'info',
  /** Reading whether the worker's queue is paused failed; the last state read holds, and the next round tries again. */
  'queue-state-error': 'error',
  /**
   * Looking up the cancel requests of running jobs made while no connection
   * listened failed: their handlers' signals were not aborted, but their
   * outcomes still find the requests when they complete.
   */
  'cancel-lookup-error': 'warn',
  /** The worker's heartbeat (its row in the dashboard's list of workers) failed; the next one tries again. */
  'heartbeat-error': 'warn',
  /** The schema is newer than this version of the library knows; usually a rolling deploy in progress. */
  'schema-newer-than-library': 'warn',
} as const satisfies Record<string, LogLevel>;

/** Name of an event a worker logs; see {@link LOG_EVENTS} for each one's meaning and level. */
export type LogEvent = keyof typeof LOG_EVENTS;

/** Structured data of a log event. Context (worker, queue, job) is merged in. */
export type LogData = Record<string, unknown>;

/**
 * A plain logging function: receives the event name, its level and its data.
 * It may carry `isLevelEnabled`, like pino's, to spare building events it would drop.
 */
export type LogFunction = ((event: LogEvent, data: LogData & { level: LogLevel }) => void) & {
  isLevelEnabled?: (level: LogLevel) => boolean;
};

/**
 * The subset of a pino (or bunyan, or winston-with-objects) logger that
 * Proletarian calls: `logger[level](data, event)`. A pino logger works as is.
 */
export interface LevelLogger {
  /** Optional, as in pino: levels it reports disabled are not built or sent. */
  isLevelEnabled?(level: LogLevel): boolean;
  debug(data: LogData, message: string): void;
  info(data: LogData, message: string): void;
  warn(data: LogData, message: string): void;
  error(data: LogData, message: string): void;
}

/** What the `log` option accepts: a function, or a pino-style logger object. */
export type Logger = LogFunction | LevelLogger;

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * The default logger: one line per event on the console at `level` and above.
 * @param options.level lowest level printed. @defaultValue `'info'`
 */
export function consoleLogger(options: { level?: LogLevel } = {}): LogFunction {
  const threshold = LEVEL_ORDER[options.level ?? 'info'];
  const log: LogFunction = (event, data) => {
    if (LEVEL_ORDER[data.level] < threshold) return;
    const { level, ...rest } = data;
    const line = `[proletarian] ${level} ${event} ${safeJson(rest)}`;
    if (level === 'error') console.error(line);
    else if (level === 'warn') console.warn(line);
    else console.log(line);
  };
  log.isLevelEnabled = (level) => LEVEL_ORDER[level] >= threshold;
  return log;
}

/** A logger that drops everything; handy in tests and benchmarks. */
export const silentLogger: LogFunction = Object.assign(() => {}, { isLevelEnabled: () => false });

/** Internal: logs an event with context merged in, whichever shape of logger was given. */
export type EmitLog = ((event: LogEvent, data?: LogData) => void) & {
  /** Whether `event` would be logged at all; lets hot paths skip building its data. */
  enabled(event: LogEvent): boolean;
};

export function createEmitter(logger: Logger, context: LogData): EmitLog {
  const enabled = (event: LogEvent): boolean => {
    try {
      return logger.isLevelEnabled?.(LOG_EVENTS[event]) ?? true;
    } catch {
      return true;
    }
  };
  const emit = (event: LogEvent, data: LogData = {}) => {
    if (!enabled(event)) return;
    const level = LOG_EVENTS[event];
    const merged = { ...context, ...data };
    try {
      if (typeof logger === 'function') logger(event, { ...merged, level });
      else logger[level](merged, event);
    } catch {
      // A broken logger must never take a job or the worker down with it.
    }
  };
  return Object.assign(emit, { enabled });
}

/** Errors as plain data, since `JSON.stringify(new Error())` is `{}`. */
export function errorData(error: Error): LogData {
  return { error: { name: error.name, message: error.message, stack: error.stack } };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
