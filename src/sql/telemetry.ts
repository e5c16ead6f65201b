import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';

/** What the queue gauges report, read at each metrics collection. */
export interface QueueGaugesRow {
  /** Due jobs: waiting for a worker, or running in a batch right now. */
  depth: number;
  /** Milliseconds since the longest-waiting due job became due; 0 when none is. */
  lag_ms: number;
}

/**
 * Depth and lag of one queue, in one statement over the claim index's range
 * of the queue's due jobs; run once per metrics collection, never per job.
 */
export async function queueGauges(db: Queryable, t: Tables, queue: string): Promise<QueueGaugesRow> {
  const { rows } = await db.query<QueueGaugesRow>(
    `SELECT count(*)::int AS depth,
            COALESCE(floor(date_part('epoch', now() - min(process_at)) * 1000), 0)::float8 AS lag_ms
     FROM ${t.job}
     WHERE queue = $1 AND process_at <= now()`,
    [queue],
  );
  return rows[0] ?? { depth: 0, lag_ms: 0 };
}
