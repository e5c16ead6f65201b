import type pg from 'pg';
import type { Tables } from '../tables.js';
import { EPOCH_MS } from './epoch-ms.js';
import type { Queryable } from '../types.js';

// SQL of recurring schedules: the rows a round reads, the compare-and-set
// that lets exactly one worker enqueue a schedule's slots, and the listing.
// Every instant written here comes from a JavaScript Date, so it has
// millisecond precision and reads back equal: the compare-and-set depends
// on it.

export interface ScheduleRowData {
  name: string;
  cron: string;
  timezone: string;
  job_type: string;
  queue: string;
  enqueued_until: Date;
  last_slot: Date | null;
  defined_at: Date;
}

/** The rows of `names` (those that exist), with the database's time. */
export async function readSchedules(
  db: Queryable,
  t: Tables,
  names: readonly string[],
): Promise<{ now: Date; rows: Map<string, ScheduleRowData> }> {
  // The left join yields the time even when no row exists yet.
  const { rows } = await db.query<Partial<ScheduleRowData> & { now: Date }>(
    `SELECT now.at AS now, s.name, s.cron, s.timezone, s.job_type, s.queue, s.enqueued_until, s.last_slot, s.defined_at
     FROM (SELECT statement_timestamp() AS at) AS now
     LEFT JOIN ${t.schedules} AS s ON s.name = ANY($1::text[])`,
    [names],
  );
  const found = new Map<string, ScheduleRowData>();
  for (const row of rows) if (row.name !== null && row.name !== undefined) found.set(row.name, row as ScheduleRowData);
  return { now: rows[0]!.now, rows: found };
}

/** What {@link advanceSchedule} writes. */
export interface ScheduleAdvance {
  name: string;
  cron: string;
  timezone: string;
  jobType: string;
  queue: string;
  /** The row's `enqueued_until` as the round read it; null: the round found no row. */
  expected: Date | null;
  enqueuedUntil: Date;
  /** The last slot enqueued by this move, if any. */
  lastSlot: Date | null;
  /** When the definition is written now (a new or changed schedule); null keeps the row's. */
  definedAt: Date | null;
}

/**
 * Moves a schedule's row from `expected` to `enqueuedUntil` — creating it
 * when the round found none — if and only if it still holds `expected`.
 * On a row another worker has moved meanwhile (or is moving: the upsert
 * waits for its lock), it changes nothing and returns false; so of all the
 * workers that read one state of the row, exactly one wins, and only it
 * enqueues the slots, in the same transaction.
 */
export async function advanceSchedule(client: pg.ClientBase, t: Tables, move: ScheduleAdvance): Promise<boolean> {
  const result = await client.query(
    `INSERT INTO ${t.schedules} AS s (name, cron, timezone, job_type, queue, enqueued_until, last_slot, defined_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, statement_timestamp()))
     ON CONFLICT (name) DO UPDATE
     SET cron = excluded.cron,
         timezone = excluded.timezone,
         job_type = excluded.job_type,
         queue = excluded.queue,
         enqueued_until = excluded.enqueued_until,
         last_slot = COALESCE(excluded.last_slot, s.last_slot),
         defined_at = COALESCE($8, s.defined_at)
     WHERE s.enqueued_until = $9::timestamptz
     RETURNING 1`,
    [
      move.name,
      move.cron,
      move.timezone,
      move.jobType,
      move.queue,
      move.enqueuedUntil,
      move.lastSlot,
      move.definedAt,
      move.expected,
    ],
  );
  return result.rowCount === 1;
}

/**
 * Every schedule row, by name, with the database's time. Run by
 * `listSchedules` on the app's own objects, so times travel as epoch
 * milliseconds (see EPOCH_MS).
 */
export async function listScheduleRows(db: Queryable, t: Tables): Promise<{ now: Date; rows: ScheduleRowData[] }> {
  const { rows } = await db.query<{
    now: number;
    name: string | null;
    cron: string;
    timezone: string;
    job_type: string;
    queue: string;
    enqueued_until: number;
    last_slot: number | null;
    defined_at: number;
  }>(
    `SELECT ${EPOCH_MS('now.at')} AS now, s.name, s.cron, s.timezone, s.job_type, s.queue,
            ${EPOCH_MS('s.enqueued_until')} AS enqueued_until, ${EPOCH_MS('s.last_slot')} AS last_slot, ${EPOCH_MS('s.defined_at')} AS defined_at
     FROM (SELECT statement_timestamp() AS at) AS now
     LEFT JOIN ${t.schedules} AS s ON true
     ORDER BY s.name`,
  );
  const listed: ScheduleRowData[] = [];
  for (const row of rows) {
    if (row.name === null || row.name === undefined) continue;
    listed.push({
      name: row.name,
      cron: row.cron,
      timezone: row.timezone,
      job_type: row.job_type,
      queue: row.queue,
      enqueued_until: new Date(row.enqueued_until),
      last_slot: row.last_slot === null ? null : new Date(row.last_slot),
      defined_at: new Date(row.defined_at),
    });
  }
  return { now: new Date(rows[0]!.now), rows: listed };
}
