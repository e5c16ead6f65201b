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

export interface FinishedCountsRow {
  queue: string;
  job_type: string;
  succeeded_hour: number;
  failed_hour: number;
  succeeded_day: number;
  failed_day: number;
}

/**
 * Jobs archived as success and failure in the last hour and day, per queue
 * and job type: a range scan of the archive's `finished_at` index.
 */
export async function countFinished(db: Queryable, t: Tables): Promise<FinishedCountsRow[]> {
  const { rows } = await db.query<FinishedCountsRow>(
    `SELECT queue, job_type,
            count(*) FILTER (WHERE status = 'success' AND finished_at > now() - interval '1 hour')::int AS succeeded_hour,
            count(*) FILTER (WHERE status = 'failure' AND finished_at > now() - interval '1 hour')::int AS failed_hour,
            count(*) FILTER (WHERE status = 'success')::int AS succeeded_day,
            count(*) FILTER (WHERE status = 'failure')::int AS failed_day
     FROM ${t.archivedJob}
     WHERE finished_at > now() - interval '1 day' AND status IN ('success', 'failure')
     GROUP BY queue, job_type
     ORDER BY queue, job_type`,
  );
  return rows;
}
