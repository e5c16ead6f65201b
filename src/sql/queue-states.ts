import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';
import { notifyChannelFor } from './jobs.js';

// SQL of paused queues. Workers read the state; pause and resume write it
// and tell listening workers at commit, on a channel of their own beside the
// one for new jobs.

/** The NOTIFY channel on which pause and resume name the queue they changed. */
export function queueStateChannelFor(t: Tables): string {
  return `${notifyChannelFor(t)}_state`;
}

/**
 * Pauses or resumes `queue` on the caller's connection (in the caller's
 * transaction, if any). Returns whether the state changed; only a change
 * notifies the workers, at commit.
 */
export async function setQueuePaused(db: Queryable, t: Tables, queue: string, paused: boolean): Promise<boolean> {
  const channel = queueStateChannelFor(t);
  const changed = paused
    ? `INSERT INTO ${t.queueStates} AS s (queue, paused, changed_at) VALUES ($1, true, statement_timestamp())
       ON CONFLICT (queue) DO UPDATE SET paused = true, changed_at = excluded.changed_at WHERE NOT s.paused
       RETURNING queue`
    : `UPDATE ${t.queueStates} SET paused = false, changed_at = statement_timestamp()
       WHERE queue = $1 AND paused
       RETURNING queue`;
  // A count, not pg_notify's void, which not every library can read (Prisma);
  // nor rowCount, which not every library reports alike.
  const { rows } = await db.query<{ changed: number }>(
    `WITH changed AS (${changed}) SELECT count(pg_notify('${channel}', queue))::int AS changed FROM changed`,
    [queue],
  );
  return rows[0]!.changed === 1;
}

/** Whether `queue` is paused. */
export async function readQueuePaused(db: Queryable, t: Tables, queue: string): Promise<boolean> {
  const { rows } = await db.query<{ paused: boolean }>(`SELECT paused FROM ${t.queueStates} WHERE queue = $1`, [queue]);
  return rows[0]?.paused ?? false;
}
