import type { Tables } from '../tables.js';

/**
 * Recurring schedules and paused queues: two small tables of their own, so
 * nothing in the job tables changes and workers of the previous release go
 * on unaware of them.
 *
 * `<job>_schedules` holds one row per schedule name. `enqueued_until` is the
 * instant up to which the schedule's slots are dealt with (enqueued, or
 * skipped when nothing ran then); a worker advances it with a compare-and-set
 * in the transaction that enqueues the slots' jobs, so each slot is enqueued
 * once however many workers try. The expression and zone are kept so that a
 * changed definition is noticed and restarts from its next slot;
 * `defined_at` tells which worker's definition is the newer one.
 *
 * `<job>_queue_states` holds whether a queue is paused; a queue without a row
 * is not.
 */
export function schedulesAndPause(t: Tables): string {
  return `
CREATE TABLE ${t.schedules} (
  name           text        PRIMARY KEY,
  cron           text        NOT NULL,
  timezone       text        NOT NULL,
  job_type       text        NOT NULL,
  queue          text        NOT NULL,
  enqueued_until timestamptz NOT NULL,
  last_slot      timestamptz,
  defined_at     timestamptz NOT NULL
);

CREATE TABLE ${t.queueStates} (
  queue      text        PRIMARY KEY,
  paused     boolean     NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
);
`;
}
