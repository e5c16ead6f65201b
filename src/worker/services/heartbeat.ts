import { hostname } from 'node:os';
import type pg from 'pg';
import type { EmitLog } from '../../log.js';
import { beat, removeWorker } from '../../sql/workers.js';
import type { ResolvedWorkerOptions } from '../options.js';
import type { WorkerActivity } from '../runtime.js';
import type { PeriodicTask } from './periodic-service.js';

/**
 * The worker's heartbeat: its row in `<job>_workers`, upserted at start and
 * then every `heartbeatInterval`, with the jobs its handlers run at that
 * moment and how many it has finished. One statement per interval whatever
 * the throughput, so it costs the queue nothing measurable.
 */
export function heartbeatTask(pool: pg.Pool, options: ResolvedWorkerOptions, activity: WorkerActivity, _emit: EmitLog): PeriodicTask {
  const host = hostname();
  return {
    intervalMs: options.heartbeatInterval,
    firstRoundMs: 0,
    errorEvent: 'heartbeat-error',
    run: () =>
      beat(pool, options.tables, {
        instanceId: activity.instanceId,
        workerId: options.workerId,
        queue: options.queue,
        host,
        pid: process.pid,
        concurrency: options.concurrency,
        jobsDone: activity.jobsDone,
        runningJobs: activity.runningJobs(),
      }),
  };
}

/** Deletes the worker's row at stop; a failure only leaves it to drop off the list by itself. */
export async function removeHeartbeat(pool: pg.Pool, options: ResolvedWorkerOptions, activity: WorkerActivity): Promise<void> {
  await removeWorker(pool, options.tables, activity.instanceId).catch(() => {});
}
