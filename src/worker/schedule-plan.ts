import { cronSlots } from '../cron.js';
import type { ResolvedSchedule } from '../schedules.js';

/** A schedule's row as a round read it. */
export interface ScheduleRow {
  readonly cron: string;
  readonly timezone: string;
  /** Slots up to this instant are dealt with: enqueued, or skipped while nothing ran. */
  readonly enqueuedUntil: Date;
  /** When the row's cron and timezone were written. */
  readonly definedAt: Date;
}

/** What a round does with one schedule. */
export type SchedulePlan =
  /** Nothing to write; look again once the next slot comes near (null: no slot left). */
  | { readonly kind: 'wait'; readonly nextSlot: Date | null }
  /**
   * The row holds a definition written after this worker started, by a
   * newer deploy: leave the schedule to it.
   */
  | { readonly kind: 'defer' }
  /**
   * Move the row from `expected` (null: no row yet) to `enqueuedUntil` and
   * enqueue `slots`, in one transaction, only if the row still holds
   * `expected`. `reset` says why the definition is written: a schedule seen
   * for the first time, or a changed one.
   */
  | {
      readonly kind: 'advance';
      readonly expected: Date | null;
      readonly enqueuedUntil: Date;
      readonly slots: readonly Date[];
      readonly reset: 'new' | 'changed' | null;
    };

/** How far ahead of their time slots are enqueued: rounds come about once a second, so this covers the next one. */
export const LOOKAHEAD_MS = 2_000;

/**
 * Most slots one round enqueues for one schedule: computing a slot takes
 * tens of microseconds, and a long backfill of a frequent schedule is better
 * caught up over several rounds than in one that holds the event loop.
 */
export const MAX_SLOTS_PER_ROUND = 100;

/**
 * A row whose own definition has a slot overdue by this much is served by
 * nobody (say, the deploy that wrote it was rolled back): any worker may
 * take the schedule over, whatever its definition's age.
 */
export const ABANDONED_AFTER_MS = 60_000;

/**
 * Decides what a round does with `schedule`, given its row (null if none),
 * the database's time `now`, and when this worker first saw the database's
 * clock (`startedAt`). Pure, so that slot arithmetic is tested on its own.
 *
 * - A schedule without a row starts `backfill` ms before now.
 * - An unchanged one goes on from where its row is, or from `backfill` ms ago
 *   if that is later: missed slots older than that are skipped.
 * - A changed expression or zone restarts from now (or from where the row
 *   is, if later: its slots may be enqueued ahead), without backfill. The
 *   newest definition wins: one written after this worker started comes
 *   from a newer deploy, and this worker leaves it alone.
 */
export function planSchedule(
  schedule: ResolvedSchedule,
  row: ScheduleRow | null,
  now: Date,
  startedAt: Date,
): SchedulePlan {
  const { slots: cron, backfill } = schedule;
  const sinceBackfill = new Date(now.getTime() - backfill);
  let from: Date;
  let reset: 'new' | 'changed' | null = null;
  if (row === null) {
    from = sinceBackfill;
    reset = 'new';
  } else if (row.cron === cron.cron && row.timezone === cron.timezone) {
    from = later(row.enqueuedUntil, sinceBackfill);
  } else {
    if (row.definedAt.getTime() >= startedAt.getTime() && !abandoned(row, now)) return { kind: 'defer' };
    from = later(row.enqueuedUntil, now);
    reset = 'changed';
  }
  const slots = cron.between(from, new Date(now.getTime() + LOOKAHEAD_MS), MAX_SLOTS_PER_ROUND);
  const last = slots.at(-1);
  if (last === undefined && reset === null) return { kind: 'wait', nextSlot: cron.next(from) };
  return { kind: 'advance', expected: row?.enqueuedUntil ?? null, enqueuedUntil: last ?? from, slots, reset };
}

/** Whether the row's own definition has gone unserved for a while. */
function abandoned(row: ScheduleRow, now: Date): boolean {
  let next: Date | null;
  try {
    next = cronSlots('the stored schedule', row.cron, row.timezone).next(row.enqueuedUntil);
  } catch {
    return true; // a definition no worker can read serves nobody
  }
  return next !== null && next.getTime() < now.getTime() - ABANDONED_AFTER_MS;
}

function later(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}
