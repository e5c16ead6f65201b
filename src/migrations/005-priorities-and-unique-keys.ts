import { quote, type Tables } from '../tables.js';

/**
 * Priorities and unique keys.
 *
 * - `priority`: lower runs first. The claim index leads with it after the
 *   queue, so a claim still reads one index range in claim order; it
 *   replaces the index on (queue, process_at, job_id), which would only
 *   cost every insert and delete.
 * - `unique_key`: at most one unfinished job per queue and key, enforced by
 *   a partial unique index. A finished job leaves the job table, which
 *   frees its key. `replacement` holds a change enqueued with
 *   `onConflict: 'replace'` for a job running under a lease, until its run
 *   ends.
 * - The archive keeps both, so a job retried from the archive keeps them.
 *
 * Constant-default and nullable columns rewrite no rows. Building the new
 * claim index holds off enqueues and claims while it runs, which takes as
 * long as reading the job table once (about a second per million jobs).
 */
export function prioritiesAndUniqueKeys(t: Tables): string {
  const index = (suffix: string) => quote(`${t.jobTableName}_${suffix}`);
  return `
ALTER TABLE ${t.job}
  ADD COLUMN priority    smallint NOT NULL DEFAULT 0,
  ADD COLUMN unique_key  text,
  ADD COLUMN replacement jsonb;

ALTER TABLE ${t.archivedJob}
  ADD COLUMN priority   smallint NOT NULL DEFAULT 0,
  ADD COLUMN unique_key text;

-- Serves the claim: due jobs of one queue, most urgent first, then oldest
-- first; job ids are UUIDv7, so they break ties in enqueue order.
CREATE INDEX ${index('claim_order_idx')} ON ${t.job} (queue, priority, process_at, job_id);
DROP INDEX ${t.schema}.${index('claim_idx')};

CREATE UNIQUE INDEX ${index('unique_key_idx')} ON ${t.job} (queue, unique_key) WHERE unique_key IS NOT NULL;
`;
}
