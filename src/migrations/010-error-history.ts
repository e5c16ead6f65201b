import type { Tables } from '../tables.js';

/**
 * Error history: the errors of a job's earlier failed attempts, oldest
 * first, as a JSON array beside `last_error` (the latest), so that a job's
 * every attempt can be shown with its error. A failure moves the previous
 * `last_error` onto the array, which keeps the last 20 of them
 * (`MAX_ERROR_HISTORY`); a job that never failed twice leaves it null, so a
 * success writes nothing more. Nullable columns rewrite
 * nothing. Workers of an older version leave the history as it is: a job
 * they fail shows only its latest error and those recorded before.
 */
export function errorHistory(t: Tables): string {
  return `
ALTER TABLE ${t.job} ADD COLUMN error_history jsonb;

ALTER TABLE ${t.archivedJob} ADD COLUMN error_history jsonb;
`;
}
