import { quote, type Tables } from '../tables.js';

/**
 * Tells a worker that died mid-batch from one whose connection the database
 * ended (killed, restarted) while the worker lived on: only the first may be
 * a poison job's doing. A surviving worker reports its lost transaction in
 * `<job>_lost_transactions`; a job whose claim died keeps that claim's
 * transaction id in `aborted_claim` until a later claim, after the report
 * has had time to arrive, decides which it was. Adding a nullable column
 * rewrites nothing.
 */
export function lostConnections(t: Tables): string {
  return `
ALTER TABLE ${t.job} ADD COLUMN aborted_claim xid8;

CREATE TABLE ${t.lostTransactions} (
  xid         xid8        PRIMARY KEY,
  reported_at timestamptz NOT NULL DEFAULT now()
);

-- Reports are kept for a day; this finds the older ones.
CREATE INDEX ${quote(`${t.jobTableName}_lost_reported_idx`)} ON ${t.lostTransactions} (reported_at);
`;
}
