import type { Tables } from '../tables.js';
import { preparedName } from './jobs.js';
import type { Queryable } from '../types.js';

/** What a worker says of itself at each heartbeat. */
export interface Heartbeat {
  instanceId: string;
  workerId: string;
  queue: string;
  host: string;
  pid: number;
  concurrency: number;
  jobsDone: number;
  runningJobs: readonly string[];
}

// Rows silent this long belong to workers that died without saying so.
const FORGET_AFTER = "interval '1 hour'";

/**
 * Upserts the worker's row, and forgets rows long silent: one statement, on
 * a table with a row per running worker. Rows are written only here and in
 * {@link removeWorker}, so a heartbeat never waits on another's lock.
 */
export async function beat(db: Queryable, t: Tables, hb: Heartbeat): Promise<void> {
  const text = `WITH forgotten AS (
                  DELETE FROM ${t.workers} WHERE last_seen_at < now() - ${FORGET_AFTER} AND instance_id <> $1
                )
                INSERT INTO ${t.workers} (instance_id, worker_id, queue, host, pid, concurrency, jobs_done, running_jobs)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid[])
                ON CONFLICT (instance_id) DO UPDATE
                  SET last_seen_at = now(), jobs_done = EXCLUDED.jobs_done, running_jobs = EXCLUDED.running_jobs`;
  await db.query({
    // Named by a hash, like every prepared statement: a name made of the
    // table's could pass PostgreSQL's 63 characters, which truncates it.
    name: preparedName('heartbeat', text),
    text,
    values: [hb.instanceId, hb.workerId, hb.queue, hb.host, hb.pid, hb.concurrency, hb.jobsDone, hb.runningJobs],
  });
}

/** A stopped worker's row goes at once, not after it has been silent for a while. */
export async function removeWorker(db: Queryable, t: Tables, instanceId: string): Promise<void> {
  await db.query(`DELETE FROM ${t.workers} WHERE instance_id = $1`, [instanceId]);
}
