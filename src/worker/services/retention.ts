import type pg from 'pg';
import type { ArchiveStatus } from '../../archive-status.js';
import type { EmitLog } from '../../log.js';
import { prune } from '../../retention.js';
import { tableOptionsOf, type Tables } from '../../tables.js';
import type { PeriodicTask } from './periodic-service.js';

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

// The first round comes this soon after start, at the latest.
const FIRST_ROUND_MS = 5_000;

/**
 * The `retention` option: prunes the archive every so often while the worker
 * runs. Every worker with this option does so; pruning is idempotent and
 * takes rows with SKIP LOCKED, so several at once only share the work.
 */
export function retentionTask(pool: pg.Pool, tables: Tables, options: RetentionOptions, emit: EmitLog): PeriodicTask {
  const intervalMs = options.every ?? 600_000;
  return {
    intervalMs,
    firstRoundMs: Math.min(intervalMs, FIRST_ROUND_MS),
    errorEvent: 'retention-error',
    run: async (signal) => {
      const result = await prune(pool, {
        ...tableOptionsOf(tables),
        olderThan: options.olderThan,
        ...(options.status ? { status: options.status } : {}),
        batchSize: BATCH_SIZE,
        maxBatches: MAX_BATCHES_PER_ROUND,
        // A round in progress ends at its next batch once the service stops.
        signal,
      });
      if (result.deleted > 0) {
        emit('archive-pruned', { deleted: result.deleted, done: result.done, cutoff: result.cutoff.toISOString() });
      }
    },
  };
}
