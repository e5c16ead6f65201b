import type { ArchiveStatus } from '../archive-status.js';
import type { Tables } from '../tables.js';
import { EPOCH_MS } from './epoch-ms.js';
import type { Queryable } from '../types.js';

// SQL of retention: deleting archived jobs that finished before a cutoff, a
// bounded batch per statement. Each statement runs on its own (autocommit),
// so no transaction holds row locks or piles up WAL for long.

interface RetentionStatements {
  deleteBatch: string;
  anyLeft: string;
  count: string;
}

const statementCache = new WeakMap<Tables, RetentionStatements>();

// $1 lower bound, $2 cutoff, $3 statuses. The lower bound is where the previous
// batch ended: the index range starts there instead of walking again over the
// entries of rows already deleted (dead until vacuumed) or kept (other status).
// Before the first batch it is null, not '-infinity', which not every driver
// takes for a timestamp (postgres.js).
const OLD_ROWS = `finished_at >= COALESCE($1::timestamptz, '-infinity') AND finished_at < $2::timestamptz AND status = ANY($3::text[])`;

function statements(t: Tables): RetentionStatements {
  let cached = statementCache.get(t);
  if (!cached) {
    cached = {
      // The oldest rows first, through the finished_at index; deleted by ctid
      // (a TID scan), so the DELETE never considers scanning the table. SKIP
      // LOCKED lets two prunes run at once without waiting on each other.
      deleteBatch: `WITH deleted AS (
          DELETE FROM ${t.archivedJob}
          WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM ${t.archivedJob}
            WHERE ${OLD_ROWS}
            ORDER BY finished_at
            LIMIT $4
            FOR UPDATE SKIP LOCKED))
          RETURNING finished_at)
        SELECT count(*)::int AS deleted, ${EPOCH_MS('max(finished_at)')} AS last_finished_at FROM deleted`,
      anyLeft: `SELECT EXISTS (SELECT FROM ${t.archivedJob} WHERE ${OLD_ROWS}) AS any_left`,
      count: `SELECT count(*)::float8 AS count FROM ${t.archivedJob} WHERE ${OLD_ROWS}`,
    };
    statementCache.set(t, cached);
  }
  return cached;
}

/** Where the next batch starts: before any row (null), then at the last one deleted. */
export type LowerBound = Date | null;

export interface DeletedBatch {
  deleted: number;
  /** `finished_at` of the newest row deleted, rounded down to the millisecond; null when none was. */
  lastFinishedAt: Date | null;
}

/** The instant `olderThanMs` before now, by the database's clock like every other time, rounded down. */
export async function retentionCutoff(db: Queryable, olderThanMs: number): Promise<Date> {
  const { rows } = await db.query<{ cutoff: number }>(
    `SELECT ${EPOCH_MS(`statement_timestamp() - $1::float8 * interval '1 millisecond'`)} AS cutoff`,
    [olderThanMs],
  );
  return new Date(rows[0]!.cutoff);
}

/** Deletes up to `limit` of the oldest archived jobs in [lower, cutoff) with one of `statuses`, in one statement. */
export async function deleteArchivedBatch(
  db: Queryable,
  t: Tables,
  lower: LowerBound,
  cutoff: Date,
  statuses: readonly ArchiveStatus[],
  limit: number,
): Promise<DeletedBatch> {
  const { rows } = await db.query<{ deleted: number; last_finished_at: number | null }>(statements(t).deleteBatch, [
    lower,
    cutoff,
    statuses,
    limit,
  ]);
  const { deleted, last_finished_at: last } = rows[0]!;
  return { deleted, lastFinishedAt: last === null ? null : new Date(last) };
}

/** Whether any archived job in [lower, cutoff) with one of `statuses` is left. */
export async function anyArchivedLeft(
  db: Queryable,
  t: Tables,
  lower: LowerBound,
  cutoff: Date,
  statuses: readonly ArchiveStatus[],
): Promise<boolean> {
  const { rows } = await db.query<{ any_left: boolean }>(statements(t).anyLeft, [lower, cutoff, statuses]);
  return rows[0]!.any_left;
}

/** How many archived jobs finished before `cutoff` have one of `statuses`: what a prune would delete. */
export async function countArchived(
  db: Queryable,
  t: Tables,
  cutoff: Date,
  statuses: readonly ArchiveStatus[],
): Promise<number> {
  const { rows } = await db.query<{ count: number }>(statements(t).count, ['-infinity', cutoff, statuses]);
  return rows[0]!.count;
}
