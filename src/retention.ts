import type pg from 'pg';
import { InvalidOptionError } from './errors.js';
import { checkSchema } from './migrate.js';
import { requireQueryable } from './queryable.js';
import { anyArchivedLeft, deleteArchivedBatch, retentionCutoff, type LowerBound } from './sql/retention.js';
import { resolveTables, type TableOptions, type Tables } from './tables.js';

/** Options of {@link prune}. */
export interface PruneOptions extends TableOptions {
  /**
   * Delete archived jobs that finished before this instant: a `Date`, or a
   * number of milliseconds before now (by the database's clock), such as
   * `30 * 24 * 3600_000` for 30 days.
   */
  olderThan: number | Date;
  /** Delete only jobs archived with this status. @defaultValue both `'success'` and `'failure'` */
  status?: 'success' | 'failure';
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
  statuses: readonly string[];
  batchSize: number;
  maxBatches: number;
  signal: AbortSignal | null;
}

const STATUSES = ['success', 'failure'] as const;

// Far beyond any archive; it keeps the cutoff inside PostgreSQL's range of timestamps.
const MAX_OLDER_THAN_MS = 1000 * 365.25 * 24 * 3600 * 1000;

const YEAR_ONE = new Date('0001-01-01T00:00:00.000Z');

const KNOWN_OPTIONS = new Set([
  'olderThan',
  'status',
  'batchSize',
  'maxBatches',
  'signal',
  'schema',
  'jobTable',
  'archivedJobTable',
]);

/**
 * Deletes archived jobs that finished before a cutoff, the oldest first, in
 * batches of `batchSize` rows. Each batch is one statement committed on its
 * own, so pruning a large archive never holds locks or piles up WAL in one
 * long transaction, and an interrupted call keeps what it deleted.
 *
 * @param db a `pg.Pool`, or a connected `pg.Client` that is not inside a
 *   transaction (every batch would then commit only with it).
 */
export async function prune(db: pg.Pool | pg.Client, options: PruneOptions): Promise<PruneResult> {
  requireQueryable(db, 'a pg.Pool or a connected pg.Client');
  const o = resolvePruneOptions(options);
  // Without migration 2's index, every batch would scan the whole archive.
  await checkSchema(db, o.tables);
  const cutoff = o.olderThan instanceof Date ? o.olderThan : await retentionCutoff(db, o.olderThan);

  let deleted = 0;
  let batches = 0;
  let lower: LowerBound = '-infinity';
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

function resolvePruneOptions(options: PruneOptions): ResolvedPruneOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('prune needs options: { olderThan: milliseconds or Date, ... }');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new InvalidOptionError(`unknown prune option "${key}"; known options: ${[...KNOWN_OPTIONS].join(', ')}`);
    }
  }
  const status = options.status;
  if (status !== undefined && !STATUSES.includes(status)) {
    throw new InvalidOptionError(`status must be 'success' or 'failure' (or left out for both); got ${String(status)}`);
  }
  const maxBatches = options.maxBatches ?? Infinity;
  if (maxBatches !== Infinity && !(Number.isSafeInteger(maxBatches) && maxBatches >= 1)) {
    throw new InvalidOptionError(
      `maxBatches must be a whole number ≥ 1 (or Infinity, the default); got ${String(maxBatches)}`,
    );
  }
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidOptionError(`signal must be an AbortSignal; got ${String(signal)}`);
  }
  return {
    tables: resolveTables(options),
    olderThan: olderThan(options.olderThan),
    statuses: status === undefined ? STATUSES : [status],
    batchSize: positiveInteger('batchSize', options.batchSize ?? 1000),
    maxBatches,
    signal: signal ?? null,
  };
}

function olderThan(value: unknown): number | Date {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new InvalidOptionError('olderThan must be a valid Date; got Invalid Date');
    // Nothing finished before year 1; clamping keeps ancient dates inside PostgreSQL's range.
    return value.getTime() < YEAR_ONE.getTime() ? YEAR_ONE : value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_OLDER_THAN_MS) {
    throw new InvalidOptionError(
      `olderThan must be a Date or a number of milliseconds from 0 to ${MAX_OLDER_THAN_MS} (1000 years); ` +
        `got ${value === undefined ? 'nothing' : String(value)}`,
    );
  }
  return value;
}

function positiveInteger(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidOptionError(`${option} must be a whole number ≥ 1; got ${String(value)}`);
  }
  return value;
}

