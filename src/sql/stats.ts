import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';

// SQL of queue statistics: read-only, over the live job table only (the
// archive can be large; counting it belongs in the app's own reporting).

export interface JobCountsRow {
  queue: string;
  job_type: string;
  due: number;
  scheduled: number;
  leased: number;
  retrying: number;
  cancelling: number;
  oldest_due_at: Date | null;
}

export async function countJobs(db: Queryable, t: Tables): Promise<JobCountsRow[]> {
  const { rows } = await db.query<JobCountsRow>(
    `SELECT queue, job_type,
            count(*) FILTER (WHERE process_at <= now())::int AS due,
            count(*) FILTER (WHERE process_at > now() AND locked_by IS NULL)::int AS scheduled,
            count(*) FILTER (WHERE process_at > now() AND locked_by IS NOT NULL)::int AS leased,
            count(*) FILTER (WHERE attempts > 0)::int AS retrying,
            count(*) FILTER (WHERE job_id IN (SELECT job_id FROM ${t.cancelRequests}))::int AS cancelling,
            min(process_at) FILTER (WHERE process_at <= now()) AS oldest_due_at
     FROM ${t.job}
     GROUP BY queue, job_type
     ORDER BY queue, job_type`,
  );
  return rows;
}
