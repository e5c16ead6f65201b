import type { ArchiveStatus } from '../archive-status.js';
import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';
import { ARCHIVED_COLUMNS, storedErrorJson, type JobRow, type StoredError } from './jobs.js';

// SQL of jobs that run outside a transaction, under a lease. Each statement
// commits on its own; every one after the claim is guarded by `locked_by`, so
// a holder whose lease ran out (and was taken over) changes nothing.

/** A job row as leased; `abandoned_runs` includes the run this lease found abandoned, if any. */
export interface LeasedJobRow extends JobRow {
  abandoned_runs: number;
}

/**
 * Leases the oldest due job of these types: its `process_at` moves to the
 * lease's end, so no claim sees it until the lease runs out. A job still
 * marked with a holder was abandoned by it: that run is counted in
 * `abandoned_runs`. `attempts` is left alone; as in transaction mode, it
 * counts only runs that ended in a recorded failure.
 */
export async function leaseNextJob(
  db: Queryable,
  t: Tables,
  queue: string,
  jobTypes: readonly string[],
  holder: string,
  leaseMs: number,
): Promise<LeasedJobRow | null> {
  const { rows } = await db.query<LeasedJobRow>(
    `WITH next AS (
       SELECT job_id, process_at FROM ${t.job}
       WHERE queue = $1 AND process_at <= now() AND job_type = ANY($2::text[])
       ORDER BY process_at, job_id
       LIMIT 1
       FOR UPDATE SKIP LOCKED
     )
     UPDATE ${t.job} AS j
     SET locked_by = $3,
         process_at = clock_timestamp() + $4::float8 * interval '1 millisecond',
         abandoned_runs = j.abandoned_runs + (j.locked_by IS NOT NULL)::int
     FROM next
     WHERE j.job_id = next.job_id
     RETURNING j.job_id, j.queue, j.job_type, j.payload::text AS payload, j.attempts, j.enqueued_at,
               next.process_at, j.abandoned_runs`,
    [queue, jobTypes, holder, leaseMs],
  );
  return rows[0] ?? null;
}

/** Extends a lease; false when it is no longer ours. */
export async function renewLease(db: Queryable, t: Tables, jobId: string, holder: string, leaseMs: number): Promise<boolean> {
  const result = await db.query(
    `UPDATE ${t.job} SET process_at = clock_timestamp() + $3::float8 * interval '1 millisecond'
     WHERE job_id = $1 AND locked_by = $2`,
    [jobId, holder, leaseMs],
  );
  return result.rowCount === 1;
}

/**
 * Archives a leased job as `success` or `failure`, its `attempts` then
 * counting this last run too; false when the lease was lost.
 */
export async function archiveLeasedJob(
  db: Queryable,
  t: Tables,
  jobId: string,
  holder: string,
  status: ArchiveStatus,
  error: StoredError | null,
): Promise<boolean> {
  const result = await db.query(
    `WITH finished AS (DELETE FROM ${t.job} WHERE job_id = $1 AND locked_by = $2 RETURNING *)
     INSERT INTO ${t.archivedJob} (${ARCHIVED_COLUMNS})
     SELECT job_id, queue, job_type, payload, attempts + 1, enqueued_at, process_at, $3, clock_timestamp(),
            COALESCE($4::jsonb, last_error)
     FROM finished`,
    [jobId, holder, status, error ? storedErrorJson(error) : null],
  );
  return result.rowCount === 1;
}

/** Ends a leased job's failed attempt: counted, and due again after `delayMs`; false when the lease was lost. */
export async function retryLeasedJob(
  db: Queryable,
  t: Tables,
  jobId: string,
  holder: string,
  delayMs: number,
  error: StoredError,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE ${t.job}
     SET locked_by = NULL, attempts = attempts + 1,
         process_at = clock_timestamp() + $3::float8 * interval '1 millisecond', last_error = $4::jsonb
     WHERE job_id = $1 AND locked_by = $2`,
    [jobId, holder, delayMs, storedErrorJson(error)],
  );
  return result.rowCount === 1;
}

/**
 * Gives a leased job back, due at once, no attempt counted (a shutdown
 * interrupted it); false when the lease was lost.
 */
export async function releaseLeasedJob(db: Queryable, t: Tables, jobId: string, holder: string): Promise<boolean> {
  const result = await db.query(
    `UPDATE ${t.job} SET locked_by = NULL, process_at = now() WHERE job_id = $1 AND locked_by = $2`,
    [jobId, holder],
  );
  return result.rowCount === 1;
}
