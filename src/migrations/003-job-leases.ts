import type { Tables } from '../tables.js';

/**
 * Leases, for job types that run outside a transaction (`mode: 'lease'`).
 * A leased job's `process_at` is its lease's end, so every claim passes it
 * over until the lease runs out, with no change to the claim itself;
 * `locked_by` names the holder, and `abandoned_runs` counts leases that ran
 * out without their holder finishing (a worker that died mid-job).
 * Adding nullable and constant-default columns rewrites nothing.
 */
export function jobLeases(t: Tables): string {
  return `
ALTER TABLE ${t.job}
  ADD COLUMN locked_by text,
  ADD COLUMN abandoned_runs integer NOT NULL DEFAULT 0;
`;
}
