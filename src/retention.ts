import { ARCHIVE_STATUSES, type ArchiveStatus } from './archive-status.js';
import { InvalidOptionError } from './errors.js';
import { checkSchema } from './migrate.js';
import { queryableOf } from './db/adapt.js';
import type { DbClient } from './db/shapes.js';
import { anyArchivedLeft, countArchived, deleteArchivedBatch, retentionCutoff, type LowerBound } from './sql/retention.js';
import { resolveTables, TABLE_OPTION_KEYS, type TableOptions, type Tables } from './tables.js';
import {
  describe,
  oneOf,
  optionalAbortSignal,
  rejectUnknownKeys,
  requireObject,
  validDate,
  wholeNumber,
} from './validate.js';

/** Options of {@link prune}. */
export interface PruneOptions extends TableOptions {
  /**
   * Delete archived jobs that finished before this instant: a `Date`, or a
   * number of milliseconds before now (by the database's clock), such as
   * `30 * 24 * 3600_000` for 30 days.
   */
  olderThan: number | Date;
  /** Delete only jobs archived with this status. @defaultValue every status */
  status?: ArchiveStatus;
  /** Rows deleted per statement, each statement its own short transaction. @defaultValue `1000` */
  batchSize?: number;
  /** Stop after this many batches, leaving the rest for the next call (`done: false`). @defaultValue no limit */
  maxBatches?: number;
  /**
   * Stop between batches once aborted, e.g. `AbortSignal.timeout(60_000)` for a
   * time budget. The batch in progress completes; the result counts it.
   */
  signal?: AbortSignal;
}

/** What {@link prune} did. */
export interface PruneResult {
  /** Archived jobs deleted. */
  readonly deleted: number;
  /** Batches that deleted at least one job. */
  readonly batches: number;
  /** True when no archived job of the requested status that finished before `cutoff` is left. */
  readonly done: boolean;
  /** The instant compared with `finished_at` (to the millisecond). */
  readonly cutoff: Date;
}

interface ResolvedPruneOptions {
  tables: Tables;
  olderThan: number | Date;
  statuses: readonly ArchiveStatus[];
  batchSize: number;
  maxBatches: number;
  signal: AbortSignal | null;
}

// Far beyond any archive; it keeps the cutoff inside PostgreSQL's range of timestamps.
const MAX_OLDER_THAN_MS = 1000 * 365.25 * 24 * 3600 * 1000;

/** Rows a prune deletes per statement unless told otherwise. */
export const DEFAULT_PRUNE_BATCH_SIZE = 1000;

const YEAR_ONE = new Date('0001-01-01T00:00:00.000Z');

const PRUNE_OPTIONS = new Set(['olderThan', 'status', 'batchSize', 'maxBatches', 'signal', ...TABLE_OPTION_KEYS]);

/**
 * Deletes archived jobs that finished before a cutoff, the oldest first, in
 * batches of `batchSize` rows. Each batch is one statement committed on its
 * own, so pruning a large archive never holds locks or piles up WAL in one
 * long transaction, and an interrupted call keeps what it deleted.
 *
 * @param db a `pg.Pool`, a connected `pg.Client`, or the instance of Kysely,
 *   Drizzle, knex, postgres.js or Prisma; not inside a transaction (every
 *   batch would then commit only with it).
 */
export async function prune(dbClient: DbClient, options: PruneOptions): Promise<PruneResult> {
  const db = queryableOf(dbClient);
  const o = resolvePruneOptions(options);
  // Without migration 2's index, every batch would scan the whole archive.
  await checkSchema(db, o.tables);
  const cutoff = o.olderThan instanceof Date ? o.olderThan : await retentionCutoff(db, o.olderThan);

  let deleted = 0;
  let batches = 0;
  let lower: LowerBound = null;
  let exhausted = false;
  while (batches < o.maxBatches && !o.signal?.aborted) {
    const batch = await deleteArchivedBatch(db, o.tables, lower, cutoff, o.statuses, o.batchSize);
    if (batch.deleted > 0) {
      deleted += batch.deleted;
      batches += 1;
      lower = batch.lastFinishedAt ?? lower;
    }
    if (batch.deleted < o.batchSize) {
      exhausted = true;
      break;
    }
  }
  // Stopped early after a full batch: the rows may have run out exactly there.
  const done = exhausted || !(await anyArchivedLeft(db, o.tables, lower, cutoff, o.statuses));
  return { deleted, batches, done, cutoff };
}

/** What {@link countPrunable} found. */
export interface PrunePreview {
  /** Archived jobs that finished before `cutoff` (of the requested status). */
  readonly count: number;
  /** The instant compared with `finished_at`; pass it as `olderThan` to delete exactly these. */
  readonly cutoff: Date;
}

/**
 * Counts what {@link prune} would delete with the same options, deleting
 * nothing, and fixes the cutoff, so that a prune after a confirmation
 * deletes what was announced and not what finished meanwhile.
 */
export async function countPrunable(dbClient: DbClient, options: PruneOptions): Promise<PrunePreview> {
  const db = queryableOf(dbClient);
  const o = resolvePruneOptions(options);
  await checkSchema(db, o.tables);
  const cutoff = o.olderThan instanceof Date ? o.olderThan : await retentionCutoff(db, o.olderThan);
  return { count: await countArchived(db, o.tables, cutoff, o.statuses), cutoff };
}

function resolvePruneOptions(options: PruneOptions): ResolvedPruneOptions {
  requireObject(options, 'prune needs options: { olderThan: milliseconds or Date, ... }');
  rejectUnknownKeys(options, PRUNE_OPTIONS, 'unknown prune option');
  const { status, maxBatches } = options;
  return {
    tables: resolveTables(options),
    olderThan: olderThan(options.olderThan),
    statuses:
      status === undefined ? ARCHIVE_STATUSES : [oneOf('status', status, ARCHIVE_STATUSES, 'or left out for all')],
    batchSize: wholeNumber('batchSize', options.batchSize ?? DEFAULT_PRUNE_BATCH_SIZE, 1),
    maxBatches:
      maxBatches === undefined || maxBatches === Infinity
        ? Infinity
        : wholeNumber('maxBatches', maxBatches, 1, 'or Infinity, the default'),
    signal: optionalAbortSignal('signal', options.signal),
  };
}

function olderThan(value: unknown): number | Date {
  if (value instanceof Date) {
    // Nothing finished before year 1; clamping keeps ancient dates inside PostgreSQL's range.
    return validDate('olderThan', value).getTime() < YEAR_ONE.getTime() ? YEAR_ONE : value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_OLDER_THAN_MS) {
    throw new InvalidOptionError(
      `olderThan must be a Date or a number of milliseconds from 0 to ${MAX_OLDER_THAN_MS} (1000 years); ` +
        `got ${describe(value)}`,
    );
  }
  return value;
}

