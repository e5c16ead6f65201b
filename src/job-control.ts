import { RETRYABLE_STATUSES, type RetryableStatus } from './archive-status.js';
import { InvalidOptionError, SchemaNotReadyError } from './errors.js';
import { validateName } from './payload.js';
import { queryableOf } from './db/adapt.js';
import type { DbClient } from './db/shapes.js';
import type { Queryable } from './types.js';
import { deleteJobRows } from './sql/delete.js';
import {
  cancelJobRows,
  retryArchivedJob,
  retryArchivedJobs,
  runJobRowNow,
  type ArchivedJobFilter,
  type CancelResult,
  type RunNowResult,
} from './sql/job-control.js';
import { isUndefinedTableOrSchema } from './sql/migrations.js';
import { resolveTableOptions, type TableOptions, type Tables } from './tables.js';
import { describe, describeQuoted, oneOf, rejectUnknownKeys, requireObject, validDate } from './validate.js';

// What an app or an operator does to jobs from outside a worker: cancel or
// delete them, make one due now, or put archived jobs that did not succeed
// back on their queue. Each call is one statement on the connection given,
// so on a client inside a transaction it commits (and wakes workers) with
// that transaction, or not at all.

export type { CancelResult, RunNowResult } from './sql/job-control.js';

/**
 * Cancels a job:
 *
 * - `'cancelled'`: it was waiting (or scheduled, or waiting for a retry); it
 *   is now archived with status `cancelled` and will not run.
 * - `'cancelling'`: it is running. Its worker is told (at commit) to abort
 *   the handler's `ctx.signal` with a {@link JobCancelledError}; when the
 *   handler returns, the job is archived as `cancelled`, its writes through
 *   `ctx.db` rolled back, and not retried. A run that completes before the
 *   request reaches its worker ends as it would have.
 * - `'finished'`: it is already in the archive, with whatever status.
 * - `'not-found'`: there is no job with this id.
 *
 * Never waits for the job's row lock, so it returns at once even while the
 * job runs. Rejects with an {@link InvalidOptionError} when `jobId` is not a
 * job id (a UUID).
 */
export async function cancelJob(dbClient: DbClient, jobId: string, options: TableOptions = {}): Promise<CancelResult> {
  const ids = [requireJobId('cancelJob', jobId)];
  return (await onJobs('cancelJob', 'cancel', dbClient, ids, options, cancelJobRows))[0]!;
}

/**
 * {@link cancelJob} for many jobs in one statement: resolves to each job's
 * result, in the order of `jobIds` (a repeated id gets the same result each
 * time). The statement holds the row locks of every job it cancels until the
 * caller's transaction ends: pass thousands at a time, not millions.
 */
export async function cancelJobs(
  dbClient: DbClient,
  jobIds: readonly string[],
  options: TableOptions = {},
): Promise<CancelResult[]> {
  return onJobs('cancelJobs', 'cancel', dbClient, requireJobIds('cancelJobs', jobIds), options, cancelJobRows);
}

/** What {@link deleteJob} did: deleted it, left it because it runs now, or found no such job. */
export type DeleteJobResult = 'deleted' | 'running' | 'not-found';

/**
 * Deletes a job that is not running — waiting, scheduled, retrying, or
 * archived — for good. A running job is left alone (`'running'`): it would
 * only come back with its batch's commit. Never waits for the job's row lock.
 */
export async function deleteJob(dbClient: DbClient, jobId: string, options: TableOptions = {}): Promise<DeleteJobResult> {
  const ids = [requireJobId('deleteJob', jobId)];
  return deleteResultOf((await onJobs('deleteJob', 'delete', dbClient, ids, options, deleteJobRows))[0]!);
}

/**
 * {@link deleteJob} for many jobs in one statement: resolves to each job's
 * result, in the order of `jobIds`.
 */
export async function deleteJobs(
  dbClient: DbClient,
  jobIds: readonly string[],
  options: TableOptions = {},
): Promise<DeleteJobResult[]> {
  const rows = await onJobs('deleteJobs', 'delete', dbClient, requireJobIds('deleteJobs', jobIds), options, deleteJobRows);
  return rows.map(deleteResultOf);
}

/** Runs `statement` for the jobs `ids` on `dbClient`, with the tables of `options`, as `caller`. */
async function onJobs<T>(
  caller: string,
  action: string,
  dbClient: DbClient,
  ids: readonly string[],
  options: TableOptions,
  statement: (db: Queryable, tables: Tables, ids: readonly string[]) => Promise<T[]>,
): Promise<T[]> {
  const db = queryableOf(dbClient);
  const tables = resolveTableOptions(options, caller);
  return schemaReady(tables, action, () => statement(db, tables, ids));
}

function deleteResultOf(row: { deleted: number; present: boolean }): DeleteJobResult {
  if (row.deleted > 0) return 'deleted';
  return row.present ? 'running' : 'not-found';
}

/**
 * Makes a job that waits for its time — scheduled with `processAt` or
 * `processIn`, or waiting out a retry's delay — due at once, and wakes the
 * workers of its queue at commit, as `enqueue` does:
 *
 * - `'due-now'`: it was waiting for its time; it is due now.
 * - `'already-due'`: it was due already (waiting for a worker); nothing changed.
 * - `'running'`: a worker runs it now; nothing changed.
 * - `'finished'`: it is in the archive.
 * - `'not-found'`: there is no job with this id.
 *
 * Its priority, attempts and unique key stay as they are; among due jobs of
 * its queue it is claimed in the usual order. Never waits for the job's row
 * lock. Rejects with an {@link InvalidOptionError} when `jobId` is not a job
 * id (a UUID).
 */
export async function runJobNow(dbClient: DbClient, jobId: string, options: TableOptions = {}): Promise<RunNowResult> {
  const db = queryableOf(dbClient);
  const id = requireJobId('runJobNow', jobId);
  const tables = resolveTableOptions(options, 'runJobNow');
  return schemaReady(tables, 'run a job now', () => runJobRowNow(db, tables, id));
}

/**
 * Puts a job archived as `failure`, `cancelled` or `discarded` back on its
 * queue, due at once. Its history stays: `attempts` and `last_error` are
 * kept, so the handler's `ctx.attempt` goes on counting (a job whose retries
 * were used up gets one more run, and more only if its retry strategy allows
 * that attempt). Resolves to false when no such job is archived (never
 * enqueued, already back, or archived as `success`).
 */
export async function retryJob(dbClient: DbClient, jobId: string, options: TableOptions = {}): Promise<boolean> {
  const db = queryableOf(dbClient);
  const id = requireJobId('retryJob', jobId);
  const tables = resolveTableOptions(options, 'retryJob');
  return schemaReady(tables, 'retry', () => retryArchivedJob(db, tables, id));
}

/** Which archived jobs {@link retryJobs} puts back; every field narrows the selection. */
export interface RetryJobsFilter {
  /** Only jobs of this queue. @defaultValue every queue */
  queue?: string;
  /** Only jobs of this job type. @defaultValue every type */
  jobType?: string;
  /**
   * Only jobs archived with this status, or one of these. Cancelled and
   * discarded jobs were ended on purpose, so they are retried only when asked
   * for. @defaultValue `'failure'`
   */
  status?: RetryableStatus | readonly RetryableStatus[];
  /** Only jobs that finished at or after this time. */
  finishedAfter?: Date;
  /** Only jobs that finished before this time. */
  finishedBefore?: Date;
  /**
   * Only these jobs (ids as `enqueue` returned them): a selection made
   * elsewhere, put back in one statement. Ids of jobs not archived, or
   * archived with another status, are passed over.
   */
  jobIds?: readonly string[];
}

const FILTER_KEYS = new Set(['queue', 'jobType', 'status', 'finishedAfter', 'finishedBefore', 'jobIds']);

/**
 * {@link retryJob} for every archived job that matches `filter`, in one
 * statement; resolves to how many were put back. `retryJobs(pool, {})` puts
 * back every job archived as `failure`. The statement moves all of them at
 * once: narrow a large archive by time (the archive's `finished_at` is
 * indexed) rather than retrying millions of jobs in one transaction.
 */
export async function retryJobs(dbClient: DbClient, filter: RetryJobsFilter, options: TableOptions = {}): Promise<number> {
  const db = queryableOf(dbClient);
  const resolved = resolveFilter(filter);
  const tables = resolveTableOptions(options, 'retryJobs');
  return schemaReady(tables, 'retry', () => retryArchivedJobs(db, tables, resolved));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function requireJobId(caller: string, jobId: unknown, name = 'jobId'): string {
  if (typeof jobId !== 'string' || !UUID.test(jobId)) {
    throw new InvalidOptionError(
      `${caller}: ${name} must be a job id as enqueue returned it (a UUID); got ${describeQuoted(jobId)}`,
    );
  }
  return jobId;
}

function requireJobIds(caller: string, jobIds: unknown): readonly string[] {
  if (!Array.isArray(jobIds)) {
    throw new InvalidOptionError(`${caller}: jobIds must be an array of job ids; got ${describe(jobIds)}`);
  }
  return jobIds.map((jobId: unknown, i) => requireJobId(caller, jobId, `jobIds[${i}]`));
}

function resolveFilter(filter: RetryJobsFilter): ArchivedJobFilter {
  requireObject(filter, 'retryJobs needs a filter: { queue?, jobType?, status?, finishedAfter?, finishedBefore?, jobIds? }');
  rejectUnknownKeys(filter, FILTER_KEYS, 'unknown retryJobs filter');
  const { status, queue, jobType, finishedAfter, finishedBefore, jobIds } = filter;
  const statuses = status === undefined ? ['failure' as const] : Array.isArray(status) ? status : [status];
  if (statuses.length === 0) {
    throw new InvalidOptionError(`status must be a status or a non-empty list of them; got ${describe(status)}`);
  }
  const resolved: ArchivedJobFilter = {
    statuses: statuses.map((one: unknown) => oneOf('status', one, RETRYABLE_STATUSES)),
    queue: queue === undefined ? null : validateName('queue', queue),
    jobType: jobType === undefined ? null : validateName('job type', jobType),
    finishedAfter: finishedAfter === undefined ? null : validDate('finishedAfter', finishedAfter),
    finishedBefore: finishedBefore === undefined ? null : validDate('finishedBefore', finishedBefore),
    jobIds: jobIds === undefined ? null : requireJobIds('retryJobs', jobIds),
  };
  if (resolved.finishedAfter && resolved.finishedBefore && resolved.finishedAfter >= resolved.finishedBefore) {
    throw new InvalidOptionError(
      `finishedAfter must be earlier than finishedBefore; got ${resolved.finishedAfter.toISOString()} ` +
        `and ${resolved.finishedBefore.toISOString()}`,
    );
  }
  return resolved;
}

async function schemaReady<T>(tables: Tables, action: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isUndefinedTableOrSchema(error)) {
      throw new SchemaNotReadyError(
        `cannot ${action}: Proletarian's tables in ${tables.schema} are missing or older than this library; ` +
          'run `await migrate(pool)` or `npx proletarian migrate` first',
        { cause: error },
      );
    }
    throw error;
  }
}
