import type pg from 'pg';
import type { LogData } from './log.js';

/**
 * The map from job type to payload type. Empty by default, so any job type
 * with any payload is accepted. Declare your job types once and `enqueue`,
 * `enqueueMany` and the `handlers` of `createWorker` are checked by the
 * compiler — unknown job types and wrong payloads become type errors:
 *
 * ```ts
 * declare module 'proletarian' {
 *   interface JobPayloads {
 *     'confirmation-email': { email: string };
 *     'reindex-user': { userId: number };
 *   }
 * }
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface JobPayloads {}

type DeclaredJobType = keyof JobPayloads & string;

/** A job type: any string until {@link JobPayloads} is declared, then one of its keys. */
export type JobType = [DeclaredJobType] extends [never] ? string : DeclaredJobType;

/** The payload type of job type `T`: from {@link JobPayloads} when declared, else `unknown`. */
export type PayloadOf<T extends string> = T extends DeclaredJobType ? JobPayloads[T] : unknown;

/**
 * Anything that runs a query: a `pg.Pool`, a `pg.Client`, or a `pg.PoolClient`
 * (inside your own transaction, for the outbox pattern).
 */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** Named statements (prepared once per connection) are passed this way. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/**
 * A job of any type, as the worker-wide `retryStrategy` and `onFailedJob`
 * see it: with {@link JobPayloads} declared, a union over its types, so
 * that checking `jobType` narrows `payload`; else a {@link JobInfo} of any
 * type. (A job run by `fallbackHandler` may be of a type not declared.)
 */
export type AnyJobInfo = { [T in JobType]: JobInfo<T> }[JobType];

/** A job as the retry strategy and the failed-job hook see it. */
export interface JobInfo<T extends string = string> {
  /** The job's id, as returned by `enqueue`. */
  readonly jobId: string;
  readonly jobType: T;
  readonly queue: string;
  readonly payload: PayloadOf<T>;
  /**
   * Which attempt this is: 1 on the first, 2 on the first retry, and so on —
   * the runs that ended in a recorded failure, plus one, in either mode. A
   * run that died unfinished (a crash, a lost lease) is no attempt.
   */
  readonly attempt: number;
  readonly enqueuedAt: Date;
  /** When the job became due for this attempt. */
  readonly processAt: Date;
  /** Lower runs first; 0 unless enqueued with a `priority`. */
  readonly priority: number;
}

/**
 * The job's own transaction, as handed to a handler. Everything run through
 * `query` commits together with the job's removal from the queue — or, when
 * the handler fails, is rolled back while the failed attempt is recorded.
 * Do not run `BEGIN`, `COMMIT` or `ROLLBACK` through it.
 */
export interface JobDb {
  query: pg.ClientBase['query'];
}

/** Everything a handler gets besides its payload. */
export interface JobContext<T extends string = string> extends JobInfo<T> {
  /** The job's transaction; see {@link JobDb}. */
  readonly db: JobDb;
  /**
   * Aborted when the worker is stopping, when the job's timeout runs out, or
   * (with a `JobCancelledError`) when `cancelJob` cancels the job; long
   * handlers should give up soon after.
   */
  readonly signal: AbortSignal;
  /** Logs through the worker's logger, with the job's context merged in. */
  readonly log: (message: string, data?: LogData) => void;
}

/**
 * A job handler: resolve to succeed, throw (or reject) to fail the attempt.
 * Throw a `DiscardJobError` to end the job for good, a `SnoozeJobError` to
 * put it back for later without counting an attempt.
 */
export type JobHandler<T extends string = string> = (
  payload: PayloadOf<T>,
  ctx: JobContext<T>,
) => Promise<void> | void;

