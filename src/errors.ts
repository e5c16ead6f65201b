import type { SetupProblemKind } from './database-errors.js';

/**
 * Every error Proletarian throws on purpose is a {@link ProletarianError}, so an
 * app can tell ours from the driver's with one `instanceof`.
 */
export class ProletarianError extends Error {
  override name = 'ProletarianError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** An option passed to `enqueue`, `createWorker`, `migrate`, `prune` or a retry helper is invalid. */
export class InvalidOptionError extends ProletarianError {
  override name = 'InvalidOptionError';
}

/** A job type or queue name is empty, not a string, or too long. */
export class InvalidNameError extends ProletarianError {
  override name = 'InvalidNameError';
}

/** A payload cannot be stored as JSON without losing data. */
export class InvalidPayloadError extends ProletarianError {
  override name = 'InvalidPayloadError';
}

/** The Proletarian tables are missing or older than this library expects. */
export class SchemaNotReadyError extends ProletarianError {
  override name = 'SchemaNotReadyError';
}

/**
 * The database refuses the setup for a reason that will not clear by itself:
 * the login (a wrong password, an unknown role or one without LOGIN), a
 * database that does not exist, or privileges the role lacks. The message
 * says what to change; `code` is the SQLSTATE (when the server sent one) and
 * `cause` the driver's error.
 */
export class DatabaseSetupError extends ProletarianError {
  override name = 'DatabaseSetupError';
  readonly kind: Exclude<SetupProblemKind, 'schema-not-ready'>;
  readonly code: string | undefined;
  constructor(
    message: string,
    details: { kind: Exclude<SetupProblemKind, 'schema-not-ready'>; code?: string | undefined; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = details.kind;
    this.code = details.code;
  }
}

/** Installing or upgrading the schema failed; the whole upgrade was rolled back. */
export class MigrationError extends ProletarianError {
  override name = 'MigrationError';
}

/**
 * A handler threw or rejected with something that is not an `Error`
 * (a string, `undefined`, a plain object); the value is kept in `thrown`.
 */
export class NonErrorThrownError extends ProletarianError {
  override name = 'NonErrorThrownError';
  readonly thrown: unknown;
  constructor(thrown: unknown) {
    super(`handler threw a non-Error value: ${describeValue(thrown)}`);
    this.thrown = thrown;
  }
}

/**
 * A handler ran longer than its job type's `timeout`. Its `ctx.signal` was
 * aborted with this error, its writes were rolled back, and the attempt
 * failed like any other (the retry strategy decides what happens next).
 */
export class JobTimeoutError extends ProletarianError {
  override name = 'JobTimeoutError';
  readonly timeoutMs: number;
  constructor(jobType: string, timeoutMs: number) {
    super(`job of type "${jobType}" timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A job was set aside as failed because the workers running it kept dying:
 * `maxAbandonedRuns` of its runs ended unfinished (a crashed process, a lost
 * connection, a lease that ran out).
 */
export class AbandonedJobError extends ProletarianError {
  override name = 'AbandonedJobError';
  readonly abandonedRuns: number;
  constructor(abandonedRuns: number, maxAbandonedRuns: number) {
    super(
      `set aside: the worker running it stopped without finishing ${abandonedRuns} times ` +
        `(maxAbandonedRuns: ${maxAbandonedRuns}); it may crash or hang its process`,
    );
    this.abandonedRuns = abandonedRuns;
  }
}

/**
 * A lease-mode job's lease was lost (it ran out, e.g. while the process was
 * paused, and another worker may have taken the job). `ctx.signal` is
 * aborted with this error; whatever the handler does next is not recorded.
 */
export class LeaseLostError extends ProletarianError {
  override name = 'LeaseLostError';
}

/**
 * The job was cancelled by `cancelJob` while it ran: its handler's
 * `ctx.signal` is aborted with this error. However the handler then ends,
 * the job is archived as `cancelled` (its writes through `ctx.db` rolled back
 * in transaction mode) and not retried.
 */
export class JobCancelledError extends ProletarianError {
  override name = 'JobCancelledError';
  readonly jobId: string;
  constructor(jobId: string) {
    super(`job ${jobId} was cancelled`);
    this.jobId = jobId;
  }
}

/**
 * Thrown by a handler to end its job for good: no retry, whatever the retry
 * strategy says. The handler's writes through `ctx.db` are rolled back (in
 * transaction mode), the job is archived as `discarded` with this error as
 * its `last_error`, and `onFailedJob` runs.
 */
export class DiscardJobError extends ProletarianError {
  override name = 'DiscardJobError';
  constructor(reason = 'discarded by its handler', options?: { cause?: unknown }) {
    super(reason, options);
  }
}

// As processIn's bound: beyond it a Date would leave PostgreSQL's range.
const MAX_SNOOZE_MS = 100 * 365.25 * 24 * 3600 * 1000;

/**
 * Thrown by a handler to put its job back for later: due again in `delayMs`
 * milliseconds, with no attempt counted (`ctx.attempt` is the same next
 * time). The handler's writes through `ctx.db` are rolled back (in
 * transaction mode). A `delayMs` that is not a number from 0 to 100 years
 * throws an {@link InvalidOptionError} instead, which fails the attempt.
 */
export class SnoozeJobError extends ProletarianError {
  override name = 'SnoozeJobError';
  readonly delayMs: number;
  constructor(delayMs: number) {
    if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0 || delayMs > MAX_SNOOZE_MS) {
      throw new InvalidOptionError(
        `SnoozeJobError: delayMs must be a number of milliseconds from 0 to ${MAX_SNOOZE_MS} (100 years); ` +
          `got ${String(delayMs)}`,
      );
    }
    super(`snoozed for ${delayMs} ms`);
    this.delayMs = delayMs;
  }
}

/** `ctx.db` was used after its job had finished; the connection belongs to someone else by then. */
export class JobFinishedError extends ProletarianError {
  override name = 'JobFinishedError';
}

/** Turns anything thrown into an `Error`, so the rest of the code deals with one shape. */
export function toError(thrown: unknown): Error {
  return thrown instanceof Error ? thrown : new NonErrorThrownError(thrown);
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json.length > 200 ? `${json.slice(0, 200)}…` : json;
  } catch {
    // fall through to String()
  }
  return String(value);
}
