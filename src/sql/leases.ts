import type { ArchiveStatus } from '../archive-status.js';
import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';
import { ARCHIVED_COLUMNS, storedErrorJson, type StoredError } from './jobs.js';

// SQL of jobs that run outside a transaction, under a lease (the lease claim
// itself is in claim.ts). Each statement commits on its own and is guarded
// by `locked_by`, so a holder whose lease ran out (and was taken over)
// changes nothing.

/**
 * Extends a lease: `'lost'` when it is no longer ours, `'cancel-requested'`
 * when someone asked to cancel the job (heard this way even by a worker that
 * does not listen for the requests).
 */
export async function renewLease(
  db: Queryable,
  t: Tables,
  jobId: string,
  holder: string,
  leaseMs: number,
): Promise<'renewed' | 'lost' | 'cancel-requested'> {
  const { rows } = await db.query<{ cancel_requested: boolean }>(
    `UPDATE ${t.job} SET process_at = clock_timestamp() + $3::float8 * interval '1 millisecond'
     WHERE job_id = $1 AND locked_by = $2
     RETURNING EXISTS (SELECT 1 FROM ${t.cancelRequests} WHERE job_id = $1) AS cancel_requested`,
    [jobId, holder, leaseMs],
  );
  const row = rows[0];
  return !row ? 'lost' : row.cancel_requested ? 'cancel-requested' : 'renewed';
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
 * Ends a leased job's run without counting an attempt: due again after
 * `delayMs` (its handler snoozed it); false when the lease was lost.
 */
export async function snoozeLeasedJob(
  db: Queryable,
  t: Tables,
  jobId: string,
  holder: string,
  delayMs: number,
): Promise<boolean> {
  const result = await db.query(
    `UPDATE ${t.job} SET locked_by = NULL, process_at = clock_timestamp() + $3::float8 * interval '1 millisecond'
     WHERE job_id = $1 AND locked_by = $2`,
    [jobId, holder, delayMs],
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
