import type { Tables } from '../tables.js';

/**
 * The original Proletarian's two tables, with the payload as `jsonb` (so it
 * can be queried) and the last error kept with a retried or failed job.
 */
export function initialSchema(t: Tables): string {
  return `
CREATE TABLE ${t.job} (
  job_id      uuid        PRIMARY KEY,
  queue       text        NOT NULL,
  job_type    text        NOT NULL,
  payload     jsonb       NOT NULL,
  attempts    integer     NOT NULL DEFAULT 0,
  enqueued_at timestamptz NOT NULL DEFAULT now(),
  process_at  timestamptz NOT NULL DEFAULT now(),
  last_error  jsonb
);

-- Serves the claim: due jobs of one queue, oldest first; job ids are UUIDv7,
-- so they break ties between jobs due at the same instant in enqueue order.
CREATE INDEX ${quoteIndex(t.jobTableName, 'claim_idx')} ON ${t.job} (queue, process_at, job_id);

CREATE TABLE ${t.archivedJob} (
  job_id      uuid        PRIMARY KEY,
  queue       text        NOT NULL,
  job_type    text        NOT NULL,
  payload     jsonb       NOT NULL,
  attempts    integer     NOT NULL,
  enqueued_at timestamptz NOT NULL,
  process_at  timestamptz NOT NULL,
  status      text        NOT NULL CHECK (status IN ('success', 'failure')),
  finished_at timestamptz NOT NULL DEFAULT now(),
  last_error  jsonb
);
`;
}

function quoteIndex(table: string, suffix: string): string {
  return `"${table}_${suffix}"`;
}
