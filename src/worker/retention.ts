import type pg from 'pg';
import type { ArchiveStatus } from '../archive-status.js';
import { toError } from '../errors.js';
import { errorData, type EmitLog } from '../log.js';
import { prune } from '../retention.js';
import { tableOptionsOf, type Tables } from '../tables.js';
import { jittered } from './idle.js';

/** Options of a worker's automatic pruning of the archive; see {@link prune}. */
export interface RetentionOptions {
  /** Delete archived jobs that finished more than this many milliseconds ago. */
  olderThan: number;
  /** Delete only jobs archived with this status. @defaultValue both */
  status?: ArchiveStatus;
  /** How often to prune, in ms. @defaultValue `600_000` (10 minutes) */
  every?: number;
}

// Rows per statement and statements per round: each statement is short, and a
// round never runs long enough to matter; what is left waits for the next one.
const BATCH_SIZE = 1_000;
const MAX_BATCHES_PER_ROUND = 100;

/**
 * Prunes the archive now and then while the worker runs, until `shutdown`;
 * returns a function that waits for a round still in progress. Every worker with
 * this option does so; pruning is idempotent and takes rows with SKIP LOCKED,
 * so several at once only share the work.
 */
export function startRetention(
  pool: pg.Pool,
  tables: Tables,
  options: RetentionOptions,
  shutdown: AbortSignal,
  emit: EmitLog,
): () => Promise<void> {
  const every = options.every ?? 600_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  shutdown.addEventListener('abort', () => clearTimeout(timer), { once: true });
  const schedule = (ms: number) => {
    if (shutdown.aborted) return;
    timer = setTimeout(() => (running = round()), ms);
    timer.unref();
  };
  const round = async () => {
    try {
      const result = await prune(pool, {
        ...tableOptionsOf(tables),
        olderThan: options.olderThan,
        ...(options.status ? { status: options.status } : {}),
        batchSize: BATCH_SIZE,
        maxBatches: MAX_BATCHES_PER_ROUND,
        signal: shutdown,
      });
      if (result.deleted > 0) {
        emit('archive-pruned', { deleted: result.deleted, done: result.done, cutoff: result.cutoff.toISOString() });
      }
    } catch (error) {
      emit('retention-error', { ...errorData(toError(error)) });
    }
    schedule(jittered(every));
  };
  // The first round soon after start, spread so that a fleet starting together does not prune in lockstep.
  schedule(jittered(Math.min(every, 5_000), 0.5));
  // For stop(): a round in progress ends at its next batch once shutdown is aborted.
  return () => running;
}
