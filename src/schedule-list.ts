import { cronSlots, type CronSlots } from './cron.js';
import { SchemaNotReadyError } from './errors.js';
import { queryableOf } from './db/adapt.js';
import type { DbClient } from './db/shapes.js';
import { isUndefinedTableOrSchema } from './sql/migrations.js';
import { listScheduleRows } from './sql/schedules.js';
import { resolveTables, TABLE_OPTION_KEYS, type TableOptions } from './tables.js';
import { rejectUnknownKeys, requireObject, wholeNumber } from './validate.js';

/** A schedule as the database knows it; see {@link listSchedules}. */
export interface ScheduleInfo {
  name: string;
  /** The expression and zone of the last definition a worker ran. */
  cron: string;
  timezone: string;
  jobType: string;
  queue: string;
  /** The time of the last slot whose job was enqueued; null until one was. */
  lastSlot: Date | null;
  /** The next `nextRuns` slots after now, by the stored expression. */
  nextRuns: Date[];
  /** When a worker first ran this expression and zone. */
  definedAt: Date;
}

/** Options of {@link listSchedules}. */
export interface ListSchedulesOptions extends TableOptions {
  /** How many upcoming slots to compute per schedule (at most 100). @defaultValue `3` */
  nextRuns?: number;
}

const LIST_OPTIONS = new Set<string>([...TABLE_OPTION_KEYS, 'nextRuns']);
const MAX_NEXT_RUNS = 100;

/**
 * The schedules workers have run, by name, each with its next slots by the
 * database's clock. Schedules live in the workers' code; the database keeps
 * a row per schedule a worker ever ran, so one removed from the code stays
 * listed, its `lastSlot` falling behind, until its row is deleted.
 */
export async function listSchedules(dbClient: DbClient, options: ListSchedulesOptions = {}): Promise<ScheduleInfo[]> {
  const db = queryableOf(dbClient);
  requireObject(options, 'listSchedules: options must be an object');
  rejectUnknownKeys(options, LIST_OPTIONS, 'unknown listSchedules option');
  const count = options.nextRuns === undefined ? 3 : wholeNumber('nextRuns', options.nextRuns, 0);
  const tables = resolveTables(options);
  let listed: Awaited<ReturnType<typeof listScheduleRows>>;
  try {
    listed = await listScheduleRows(db, tables);
  } catch (error) {
    if (!isUndefinedTableOrSchema(error)) throw error;
    throw new SchemaNotReadyError(
      `listSchedules: the table ${tables.schedules} does not exist; run \`await migrate(pool)\` or \`npx proletarian migrate\` first`,
      { cause: error },
    );
  }
  return listed.rows.map((row) => ({
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    jobType: row.job_type,
    queue: row.queue,
    lastSlot: row.last_slot,
    nextRuns: nextSlots(row.cron, row.timezone, listed.now, Math.min(count, MAX_NEXT_RUNS)),
    definedAt: row.defined_at,
  }));
}

function nextSlots(cron: string, timezone: string, after: Date, count: number): Date[] {
  let slots: CronSlots;
  try {
    slots = cronSlots('schedule', cron, timezone);
  } catch {
    return []; // an expression this version cannot read, or one with no slot left
  }
  const runs: Date[] = [];
  for (let slot = slots.next(after); slot !== null && runs.length < count; slot = slots.next(slot)) runs.push(slot);
  return runs;
}
