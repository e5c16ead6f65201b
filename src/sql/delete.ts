import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';

/**
 * Deletes one job from whichever table holds it, unless it runs now: a row
 * locked by a batch is skipped (SKIP LOCKED), and so is a job under a lease
 * that has not run out. `present` tells a running job from a missing one.
 */
export async function deleteJobRow(db: Queryable, t: Tables, jobId: string): Promise<{ deleted: number; present: boolean }> {
  const { rows } = await db.query<{ deleted: number; present: boolean }>(
    `WITH target AS (
       SELECT job_id FROM ${t.job}
       WHERE job_id = $1 AND NOT (locked_by IS NOT NULL AND process_at > now())
       FOR UPDATE SKIP LOCKED
     ), live AS (
       DELETE FROM ${t.job} j USING target WHERE j.job_id = target.job_id RETURNING j.job_id
     ), archived AS (
       DELETE FROM ${t.archivedJob} WHERE job_id = $1 RETURNING job_id
     )
     SELECT ((SELECT count(*) FROM live) + (SELECT count(*) FROM archived))::int AS deleted,
            EXISTS (SELECT 1 FROM ${t.job} WHERE job_id = $1) AS present`,
    [jobId],
  );
  return rows[0]!;
}
