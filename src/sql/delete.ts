import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';

/** What deleting a job found: how many rows went (0 or 1), and whether it is still in the job table. */
export interface DeletedJobRow {
  deleted: number;
  present: boolean;
}

/**
 * Deletes jobs from whichever table holds each, in one statement, unless it
 * runs now: a row locked by a batch is skipped (SKIP LOCKED), and so is a
 * job under a lease that has not run out. `present` tells a running job
 * from a missing one. The rows come in the order of `jobIds`.
 */
export async function deleteJobRows(db: Queryable, t: Tables, jobIds: readonly string[]): Promise<DeletedJobRow[]> {
  if (jobIds.length === 0) return [];
  const { rows } = await db.query<DeletedJobRow>(
    `WITH wanted AS (
       SELECT job_id, nth FROM unnest($1::uuid[]) WITH ORDINALITY AS w(job_id, nth)
     ), target AS (
       SELECT job_id FROM ${t.job}
       WHERE job_id = ANY($1::uuid[]) AND NOT (locked_by IS NOT NULL AND process_at > now())
       FOR UPDATE SKIP LOCKED
     ), live AS (
       DELETE FROM ${t.job} j USING target WHERE j.job_id = target.job_id RETURNING j.job_id
     ), archived AS (
       DELETE FROM ${t.archivedJob} WHERE job_id = ANY($1::uuid[]) RETURNING job_id
     )
     SELECT (w.job_id IN (SELECT job_id FROM live) OR w.job_id IN (SELECT job_id FROM archived))::int AS deleted,
            EXISTS (SELECT 1 FROM ${t.job} AS j WHERE j.job_id = w.job_id) AS present
     FROM wanted AS w
     ORDER BY w.nth`,
    [jobIds],
  );
  return rows;
}
