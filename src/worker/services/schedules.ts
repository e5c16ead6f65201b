import type pg from 'pg';
import { enqueueMany, type JobSpec } from '../../enqueue.js';
import { toError } from '../../errors.js';
import { errorData, type EmitLog } from '../../log.js';
import type { ResolvedSchedule } from '../../schedules.js';
import { advanceSchedule, readSchedules, type ScheduleRowData } from '../../sql/schedules.js';
import { tableOptionsOf, type Tables } from '../../tables.js';
import { requireCommitted } from '../connection.js';
import { LOOKAHEAD_MS, planSchedule, type SchedulePlan } from '../schedule-plan.js';
import type { PeriodicTask } from './periodic-service.js';

// Rounds come about once a second: an every-second schedule's slots are then
// enqueued one to two seconds ahead (LOOKAHEAD_MS), and run on time.
const ROUND_MS = 1_000;

// A schedule whose row holds a newer deploy's definition is looked at again
// this often, in case that deploy goes away.
const DEFERRED_RECHECK_MS = 10_000;

/**
 * The `schedules` option: every round, enqueue the slots of each schedule
 * that fall before the next round, with `processAt` at the slot's time.
 * Every worker with schedules runs this, and none leads: each slot's job is
 * enqueued in the transaction that moves the schedule's row past the slot,
 * and only the worker that moved the row from the state it read does so (see
 * `advanceSchedule`). A round reads the database only when one of its
 * schedules has a slot coming near.
 */
export function schedulesTask(
  pool: pg.Pool,
  tables: Tables,
  schedules: readonly ResolvedSchedule[],
  emit: EmitLog,
): PeriodicTask {
  // Per schedule, the database time before which it surely has nothing to enqueue.
  const quietUntil = new Map<string, number>();
  // The database's clock minus ours, as of the last read.
  let clockOffset = 0;
  let startedAt: Date | null = null;

  const advance = async (schedule: ResolvedSchedule, plan: Extract<SchedulePlan, { kind: 'advance' }>, now: Date) => {
    const client = await pool.connect();
    // Unheard, the 'error' of a connection that dies while lent would crash the process.
    const onConnectionError = (error: Error) => emit('connection-error', { schedule: schedule.name, ...errorData(error) });
    client.on('error', onConnectionError);
    let failed = false;
    try {
      await client.query('BEGIN');
      const won = await advanceSchedule(client, tables, {
        name: schedule.name,
        cron: schedule.slots.cron,
        timezone: schedule.slots.timezone,
        jobType: schedule.jobType,
        queue: schedule.queue,
        expected: plan.expected,
        enqueuedUntil: plan.enqueuedUntil,
        lastSlot: plan.slots.at(-1) ?? null,
        definedAt: plan.reset ? now : null,
      });
      let jobIds: string[] = [];
      if (won && plan.slots.length > 0) {
        // The public enqueue, on this transaction: the jobs commit with the row's move, or neither does.
        jobIds = await enqueueMany(client, plan.slots.map((slot) => jobOf(schedule, slot)), tableOptionsOf(tables));
      }
      requireCommitted((await client.query('COMMIT')).command);
      return won ? jobIds : null;
    } catch (error) {
      failed = true;
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.off('error', onConnectionError);
      client.release(failed);
    }
  };

  return {
    intervalMs: ROUND_MS,
    firstRoundMs: ROUND_MS,
    errorEvent: 'schedule-error',
    run: async (signal) => {
      const dbNow = Date.now() + clockOffset;
      const due = schedules.filter((s) => (quietUntil.get(s.name) ?? -Infinity) <= dbNow + LOOKAHEAD_MS);
      if (due.length === 0) return;
      const { now, rows } = await readSchedules(pool, tables, due.map((s) => s.name));
      clockOffset = now.getTime() - Date.now();
      startedAt ??= now;
      for (const schedule of due) {
        if (signal.aborted) return;
        const row = rows.get(schedule.name);
        const plan = planSchedule(schedule, row ? rowOf(row) : null, now, startedAt);
        if (plan.kind === 'wait') {
          quietUntil.set(schedule.name, plan.nextSlot ? plan.nextSlot.getTime() : Infinity);
          continue;
        }
        if (plan.kind === 'defer') {
          quietUntil.set(schedule.name, now.getTime() + DEFERRED_RECHECK_MS);
          continue;
        }
        try {
          const jobIds = await advance(schedule, plan, now);
          // Won or lost, the row has moved on: the next read tells where to.
          quietUntil.delete(schedule.name);
          if (jobIds === null) continue;
          if (plan.reset === 'changed' && row) {
            emit('schedule-reset', {
              schedule: schedule.name,
              cron: schedule.slots.cron,
              timezone: schedule.slots.timezone,
              previousCron: row.cron,
              previousTimezone: row.timezone,
            });
          }
          if (emit.enabled('schedule-enqueued')) {
            plan.slots.forEach((slot, i) =>
              emit('schedule-enqueued', { schedule: schedule.name, slot: slot.toISOString(), jobId: jobIds[i] }),
            );
          }
        } catch (error) {
          emit('schedule-error', { schedule: schedule.name, ...errorData(toError(error)) });
        }
      }
    },
  };
}

/** The job of one slot; priority only when the schedule sets one, so the queue's default applies otherwise. */
function jobOf(schedule: ResolvedSchedule, slot: Date): JobSpec {
  return {
    jobType: schedule.jobType,
    payload: schedule.payload,
    queue: schedule.queue,
    processAt: slot,
    ...(schedule.priority === null ? {} : { priority: schedule.priority }),
  };
}

function rowOf(row: ScheduleRowData) {
  return { cron: row.cron, timezone: row.timezone, enqueuedUntil: row.enqueued_until, definedAt: row.defined_at };
}
