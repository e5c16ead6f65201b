import { quote, type Tables } from '../tables.js';

/**
 * What the dashboard needs.
 *
 * - `<job>_workers`: each running worker's row, upserted by its heartbeat
 *   (every 10 s, not per job) with the jobs it runs at that moment; the
 *   dashboard shows the rows seen in the last 30 s, and heartbeats delete
 *   rows silent for an hour.
 * - The archive's finished-at index now carries `status` and `queue`, so the
 *   overview counts the last day's finished jobs per queue from the index
 *   alone, however the rows lie in the table. It replaces the plain index
 *   (prune reads it the same way): the archive keeps two indexes, and each
 *   archived job writes a slightly wider entry.
 * - A partial index of the jobs that did not succeed, in the order the
 *   dashboard lists them: failed jobs are found among themselves, not among
 *   a million successes. A successful job, the common case, only has the
 *   predicate checked.
 *
 * The job table, the hot one, gets no index: its lists and counts read it
 * whole, which stays within the dashboard's budget at 100,000 queued jobs
 * and costs enqueues and claims nothing. Building the archive's indexes
 * reads the archive once and holds off archiving (workers finishing jobs)
 * meanwhile: about a second per million archived jobs.
 */
export function workersAndDashboard(t: Tables): string {
  const archiveIndex = (suffix: string) => quote(`${t.archivedJobTableName}_${suffix}`);
  return `
CREATE TABLE ${t.workers} (
  instance_id  text        PRIMARY KEY,
  worker_id    text        NOT NULL,
  queue        text        NOT NULL,
  host         text        NOT NULL,
  pid          integer     NOT NULL,
  concurrency  integer     NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  jobs_done    bigint      NOT NULL DEFAULT 0,
  running_jobs uuid[]      NOT NULL DEFAULT '{}'
);

CREATE INDEX ${archiveIndex('finished_idx')} ON ${t.archivedJob} (finished_at) INCLUDE (status, queue);
DROP INDEX ${t.schema}.${archiveIndex('finished_at_idx')};

CREATE INDEX ${archiveIndex('unsuccessful_idx')} ON ${t.archivedJob} (status, finished_at, job_id) WHERE status <> 'success';
`;
}
