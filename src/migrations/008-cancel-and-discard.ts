import { quote, type Tables } from '../tables.js';

/**
 * Cancelling and discarding jobs: the archive takes two more statuses, and
 * running jobs get a table of cancel requests.
 *
 * The status check is dropped and added again with the wider list, NOT
 * VALID: every archived row passed the narrower check, so validating would
 * only scan the whole archive while this migration's transaction holds it
 * locked, blocking workers that archive jobs. New and changed rows are
 * checked all the same. (`VALIDATE CONSTRAINT` can be run later at any time;
 * it scans without blocking inserts.) The list is spelled out because a
 * released migration never changes; src/archive-status.ts is the list the
 * code uses, and a test checks that the two agree.
 *
 * `cancelJob` must not wait for a running job's row lock, so it records a
 * request here instead of touching the job. The key includes the requesting
 * transaction, so two requests for one job never wait for each other either.
 */
export function cancelAndDiscard(t: Tables): string {
  const statusCheck = quote(`${t.archivedJobTableName}_status_check`);
  return `
ALTER TABLE ${t.archivedJob} DROP CONSTRAINT ${statusCheck};
ALTER TABLE ${t.archivedJob} ADD CONSTRAINT ${statusCheck}
  CHECK (status IN ('success', 'failure', 'cancelled', 'discarded')) NOT VALID;

CREATE TABLE ${t.cancelRequests} (
  job_id       uuid        NOT NULL,
  xact         xid8        NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (job_id, xact)
);
`;
}
