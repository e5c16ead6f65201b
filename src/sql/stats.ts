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
  /** Milliseconds since the epoch: a number from every driver, where a timestamp may come back as text (Drizzle). */
  oldest_due_at: number | null;
  paused: boolean;
}

export async function countJobs(db: Queryable, t: Tables): Promise<JobCountsRow[]> {
  const { rows } = await db.query<JobCountsRow>(
    `SELECT queue, job_type,
            count(*) FILTER (WHERE process_at <= now())::int AS due,
            count(*) FILTER (WHERE process_at > now() AND locked_by IS NULL)::int AS scheduled,
            count(*) FILTER (WHERE process_at > now() AND locked_by IS NOT NULL)::int AS leased,
            count(*) FILTER (WHERE attempts > 0)::int AS retrying,
            count(*) FILTER (WHERE job_id IN (SELECT job_id FROM ${t.cancelRequests}))::int AS cancelling,
            (extract(epoch FROM min(process_at) FILTER (WHERE process_at <= now())) * 1000)::float8 AS oldest_due_at,
            EXISTS (SELECT FROM ${t.queueStates} AS s WHERE s.queue = j.queue AND s.paused) AS paused
     FROM ${t.job} AS j
     GROUP BY queue, job_type
     ORDER BY queue, job_type`,
  );
  return rows;
}
