import type { ArchiveStatus } from '../archive-status.js';
import { newJobId } from '../job-id.js';
import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';
import { ARCHIVED_COLUMNS, archivedValues, historyAfterFailure, storedErrorJson, type StoredError } from './jobs.js';

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

// A change enqueued with `onConflict: 'replace'` while the job ran waits in
// `replacement` until the run ends: then it goes into effect — due no
// earlier than the run's end, where the worker's claims will look.
const replaced = (field: 'payload' | 'priority' | 'process_at') =>
  ({
    payload: `replacement->'payload'`,
    priority: `(replacement->>'priority')::smallint`,
    process_at: `GREATEST((replacement->>'process_at')::timestamptz, clock_timestamp())`,
  })[field];

/** Each column a waiting change replaces, set from `replacement` when there is one, else to `otherwise`. */
function withReplacement(otherwise: { process_at: string }): string {
  return `payload = COALESCE(${replaced('payload')}, payload),
         priority = COALESCE(${replaced('priority')}, priority),
         process_at = CASE WHEN replacement IS NULL THEN ${otherwise.process_at} ELSE ${replaced('process_at')} END,
         replacement = NULL`;
}

/**
 * Archives a leased job as `success` or `failure`, its `attempts` then
 * counting this last run too; false when the lease was lost. A change
 * enqueued for it while it ran becomes a new job, `nextJobId`, with its key.
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
    `WITH finished AS (DELETE FROM ${t.job} WHERE job_id = $1 AND locked_by = $2 RETURNING *),
     replacing AS (
       INSERT INTO ${t.job} (job_id, queue, job_type, payload, enqueued_at, process_at, priority, unique_key)
       SELECT $5::uuid, queue, job_type, ${replaced('payload')}, clock_timestamp(), ${replaced('process_at')},
              ${replaced('priority')}, unique_key
       FROM finished WHERE replacement IS NOT NULL
     )
     INSERT INTO ${t.archivedJob} (${ARCHIVED_COLUMNS})
     SELECT ${archivedValues('$3', '$4::jsonb')}
     FROM finished`,
    [jobId, holder, status, error ? storedErrorJson(error) : null, newJobId()],
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
         error_history = ${historyAfterFailure('error_history', 'last_error')}, last_error = $4::jsonb,
         ${withReplacement({ process_at: `clock_timestamp() + $3::float8 * interval '1 millisecond'` })}
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
    `UPDATE ${t.job} SET locked_by = NULL, ${withReplacement({ process_at: 'now()' })} WHERE job_id = $1 AND locked_by = $2`,
    [jobId, holder],
  );
  return result.rowCount === 1;
}
