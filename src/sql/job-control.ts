import { RETRYABLE_STATUSES, sqlList, type ArchiveStatus, type RetryableStatus } from '../archive-status.js';
import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';
import { notifyChannelFor } from './jobs.js';

// SQL of what is done to a job from outside its run: cancelling it, and
// putting an archived job back on its queue. Cancel requests for running
// jobs are read by the workers through `requestedCancels`.

/**
 * The columns a job keeps when it moves between the job table and the
 * archive, copied by name. A column both tables gain is added here once.
 */
export const CARRIED_COLUMNS = [
  'job_id',
  'queue',
  'job_type',
  'payload',
  'attempts',
  'enqueued_at',
  'last_error',
  'priority',
  'unique_key',
  'trace_context',
  'error_history',
] as const;

const CARRIED = CARRIED_COLUMNS.join(', ');

/** What `cancelJob` found and did; see its documentation. */
export type CancelResult = 'cancelled' | 'cancelling' | 'finished' | 'not-found';

/** The channel on which running jobs' cancel requests are announced; the payload is the job id. */
export function cancelChannelFor(t: Tables): string {
  return `${notifyChannelFor(t)}_cancel`;
}

/** What `runJobNow` found and did; see its documentation. */
export type RunNowResult = 'due-now' | 'already-due' | 'running' | 'finished' | 'not-found';

interface ControlStatements {
  cancel: string;
  runNow: string;
  retryOne: string;
  retryMany: string;
}

const cache = new WeakMap<Tables, ControlStatements>();

function statements(t: Tables): ControlStatements {
  let cached = cache.get(t);
  if (cached) return cached;
  const retryable = sqlList(RETRYABLE_STATUSES);
  // A job whose unique key an unfinished job holds stays in the archive: the
  // holder does its work. (One that takes the key meanwhile makes the retry
  // fail on the unique index, changing nothing.)
  const KEY_FREE = (archived: string) =>
    `(${archived}.unique_key IS NULL OR NOT EXISTS (
       SELECT 1 FROM ${t.job} AS holder WHERE holder.queue = ${archived}.queue AND holder.unique_key = ${archived}.unique_key))`;
  // A job back from the archive is due at once, with its history (attempts,
  // last_error); workers of its queue are woken at commit, as by enqueue,
  // once per queue. One row of counts comes back, never pg_notify's void,
  // which not every library can read (Prisma): these statements run on the
  // app's own objects.
  const requeue = (moved: string) => `retried AS (
        INSERT INTO ${t.job} (${CARRIED}, process_at)
        SELECT ${CARRIED}, statement_timestamp() FROM ${moved}
        RETURNING job_id, queue
      ), forgotten AS (
        -- A request left over from an earlier run must not cancel the next one.
        DELETE FROM ${t.cancelRequests} WHERE job_id IN (SELECT job_id FROM retried)
      )
      SELECT count(*)::int AS retried,
             (SELECT count(pg_notify('${notifyChannelFor(t)}', queue))::int
              FROM (SELECT DISTINCT queue FROM retried) AS woken) AS notified
      FROM retried`;
  cached = {
    // One statement, which never waits for a row lock: a job that no one
    // holds (waiting, scheduled, or under a lease that ran out) is archived
    // as cancelled; a job locked by a running batch, or under a live lease,
    // gets a request its worker hears of at commit.
    cancel: `WITH wanted AS (
        SELECT job_id, nth FROM unnest($1::uuid[]) WITH ORDINALITY AS w(job_id, nth)
      ), target AS (
        -- A live lease's row is left unlocked: its worker renews and completes it.
        SELECT job_id FROM ${t.job}
        WHERE job_id = ANY($1::uuid[]) AND (locked_by IS NULL OR process_at <= now())
        FOR UPDATE SKIP LOCKED
      ), cancelled AS (
        DELETE FROM ${t.job} AS j USING target
        WHERE j.job_id = target.job_id
        RETURNING j.*
      ), archived AS (
        INSERT INTO ${t.archivedJob} (${CARRIED}, process_at, status, finished_at)
        SELECT ${CARRIED}, process_at, 'cancelled', clock_timestamp() FROM cancelled
        RETURNING job_id
      ), answered AS (
        -- Requests made while it ran before, which that run never answered.
        DELETE FROM ${t.cancelRequests} WHERE job_id IN (SELECT job_id FROM cancelled)
      ), running AS (
        SELECT job_id FROM ${t.job}
        WHERE job_id = ANY($1::uuid[]) AND job_id NOT IN (SELECT job_id FROM target)
      ), requested AS (
        INSERT INTO ${t.cancelRequests} (job_id, xact)
        SELECT job_id, pg_current_xact_id() FROM running
        ON CONFLICT DO NOTHING
        RETURNING job_id
      ), moot AS (
        -- Requests whose job has ended meanwhile; skipped when another call holds them.
        SELECT job_id, xact FROM ${t.cancelRequests} AS r
        WHERE requested_at < now() - interval '1 minute'
          AND NOT EXISTS (SELECT 1 FROM ${t.job} AS j WHERE j.job_id = r.job_id)
        LIMIT 100
        FOR UPDATE SKIP LOCKED
      ), cleared AS (
        DELETE FROM ${t.cancelRequests} WHERE (job_id, xact) IN (SELECT job_id, xact FROM moot)
      )
      SELECT CASE
               WHEN w.job_id IN (SELECT job_id FROM archived) THEN 'cancelled'
               WHEN w.job_id IN (SELECT job_id FROM running) THEN 'cancelling'
               WHEN EXISTS (SELECT 1 FROM ${t.archivedJob} AS a WHERE a.job_id = w.job_id) THEN 'finished'
               ELSE 'not-found'
             END AS result,
             -- Evaluated once, for all of the requests; a count, not pg_notify's void (see requeue).
             (SELECT count(pg_notify('${cancelChannelFor(t)}', job_id::text))::int FROM requested) AS notified
      FROM wanted AS w
      ORDER BY w.nth`,
    // Like cancel, never waits for a row lock: a job locked by a running
    // batch, or under a live lease, is running and keeps its due time.
    runNow: `WITH target AS (
        SELECT job_id, process_at FROM ${t.job}
        WHERE job_id = $1 AND (locked_by IS NULL OR process_at <= now())
        FOR UPDATE SKIP LOCKED
      ), moved AS (
        UPDATE ${t.job} AS j SET process_at = statement_timestamp()
        FROM target
        WHERE j.job_id = target.job_id AND target.process_at > statement_timestamp()
        RETURNING j.queue
      )
      SELECT CASE
               WHEN EXISTS (SELECT 1 FROM moved) THEN 'due-now'
               WHEN EXISTS (SELECT 1 FROM target) THEN 'already-due'
               WHEN EXISTS (SELECT 1 FROM ${t.job} WHERE job_id = $1) THEN 'running'
               WHEN EXISTS (SELECT 1 FROM ${t.archivedJob} WHERE job_id = $1) THEN 'finished'
               ELSE 'not-found'
             END AS result,
             (SELECT count(pg_notify('${notifyChannelFor(t)}', queue))::int FROM moved) AS notified`,
    retryOne: `WITH moved AS (
        DELETE FROM ${t.archivedJob} AS a WHERE job_id = $1 AND status IN (${retryable}) AND ${KEY_FREE('a')}
        RETURNING ${CARRIED}
      ), ${requeue('moved')}`,
    // Of several archived jobs with one unique key, only the one that
    // finished last goes back: the key admits one unfinished job.
    retryMany: `WITH chosen AS (
        SELECT job_id FROM (
          SELECT a.job_id, a.unique_key,
                 row_number() OVER (PARTITION BY a.queue, a.unique_key ORDER BY a.finished_at DESC) AS nth
          FROM ${t.archivedJob} AS a
          WHERE status = ANY($1::text[])
            AND ($2::text IS NULL OR queue = $2)
            AND ($3::text IS NULL OR job_type = $3)
            AND ($4::timestamptz IS NULL OR finished_at >= $4)
            AND ($5::timestamptz IS NULL OR finished_at < $5)
            AND ($6::uuid[] IS NULL OR job_id = ANY($6))
            AND ${KEY_FREE('a')}
        ) AS candidate
        WHERE unique_key IS NULL OR nth = 1
      ), moved AS (
        DELETE FROM ${t.archivedJob} WHERE job_id IN (SELECT job_id FROM chosen)
        RETURNING ${CARRIED}
      ), ${requeue('moved')}`,
  };
  cache.set(t, cached);
  return cached;
}

/** Cancels jobs, or asks their workers to, in one statement; see `cancelJobs`. The results in the order of `jobIds`. */
export async function cancelJobRows(db: Queryable, t: Tables, jobIds: readonly string[]): Promise<CancelResult[]> {
  if (jobIds.length === 0) return [];
  const { rows } = await db.query<{ result: CancelResult }>(statements(t).cancel, [jobIds]);
  return rows.map((row) => row.result);
}

/** Makes a job that waits for its time due now; see `runJobNow`. */
export async function runJobRowNow(db: Queryable, t: Tables, jobId: string): Promise<RunNowResult> {
  const { rows } = await db.query<{ result: RunNowResult }>(statements(t).runNow, [jobId]);
  return rows[0]!.result;
}

/** Puts an archived job that did not succeed back on its queue; false when there is no such job. */
export async function retryArchivedJob(db: Queryable, t: Tables, jobId: string): Promise<boolean> {
  const { rows } = await db.query<{ retried: number }>(statements(t).retryOne, [jobId]);
  return rows[0]!.retried > 0;
}

/** Which archived jobs {@link retryArchivedJobs} takes back. */
export interface ArchivedJobFilter {
  statuses: readonly RetryableStatus[];
  queue: string | null;
  jobType: string | null;
  finishedAfter: Date | null;
  finishedBefore: Date | null;
  /** Only these jobs; null: any. */
  jobIds: readonly string[] | null;
}

/** Puts every archived job that matches `filter` back on its queue, in one statement; the number retried. */
export async function retryArchivedJobs(db: Queryable, t: Tables, filter: ArchivedJobFilter): Promise<number> {
  const { rows } = await db.query<{ retried: number }>(statements(t).retryMany, [
    filter.statuses as readonly ArchiveStatus[],
    filter.queue,
    filter.jobType,
    filter.finishedAfter,
    filter.finishedBefore,
    filter.jobIds,
  ]);
  return rows[0]!.retried;
}

/** The jobs among `jobIds` that someone asked to cancel (run by a worker before it completes them). */
export async function requestedCancels(db: Queryable, t: Tables, jobIds: readonly string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ job_id: string }>(
    `SELECT DISTINCT job_id FROM ${t.cancelRequests} WHERE job_id = ANY($1::uuid[])`,
    [jobIds],
  );
  return new Set(rows.map((row) => row.job_id));
}

/** Forgets the cancel requests of a job its worker archived as cancelled. */
export async function withdrawCancelRequests(db: Queryable, t: Tables, jobId: string): Promise<void> {
  await db.query(`DELETE FROM ${t.cancelRequests} WHERE job_id = $1`, [jobId]);
}

/**
 * For retrying a large selection in batches: how many archived jobs match
 * `filter`, and the finish time of the `nth` of them in finish order (null
 * when fewer match).
 */
export async function archivedBatchBoundary(
  db: Queryable,
  t: Tables,
  filter: Omit<ArchivedJobFilter, 'jobIds'>,
  nth: number,
  withCount: boolean,
): Promise<{ total: number | null; boundary: Date | null }> {
  const where = `status = ANY($1::text[])
            AND ($2::text IS NULL OR queue = $2)
            AND ($3::text IS NULL OR job_type = $3)
            AND ($4::timestamptz IS NULL OR finished_at >= $4)
            AND ($5::timestamptz IS NULL OR finished_at < $5)`;
  const { rows } = await db.query<{ total: number | null; boundary: Date | null }>(
    `SELECT ${withCount ? `(SELECT count(*)::int FROM ${t.archivedJob} WHERE ${where})` : 'NULL::int'} AS total,
            (SELECT finished_at FROM ${t.archivedJob} WHERE ${where}
             ORDER BY finished_at, job_id OFFSET $6 LIMIT 1) AS boundary`,
    [filter.statuses, filter.queue, filter.jobType, filter.finishedAfter, filter.finishedBefore, nth - 1],
  );
  return rows[0]!;
}
