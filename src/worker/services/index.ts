import type pg from 'pg';
import type { EmitLog } from '../../log.js';
import type { ResolvedWorkerOptions } from '../options.js';
import type { QueuePause } from '../queue-pause.js';
import type { WorkerActivity } from '../runtime.js';
import { heartbeatTask } from './heartbeat.js';
import { PeriodicService } from './periodic-service.js';
import { queueStateTask } from './queue-state.js';
import { retentionTask } from './retention.js';
import { schedulesTask } from './schedules.js';

/** The periodic services a worker runs beside its loops, as its options ask for them. */
export function periodicServices(
  pool: pg.Pool,
  options: ResolvedWorkerOptions,
  emit: EmitLog,
  pause: QueuePause,
  activity: WorkerActivity,
): PeriodicService[] {
  const services: PeriodicService[] = [
    new PeriodicService(queueStateTask(pause), emit),
    new PeriodicService(heartbeatTask(pool, options, activity, emit), emit),
  ];
  if (options.retention) {
    services.push(new PeriodicService(retentionTask(pool, options.tables, options.retention, emit), emit));
  }
  if (options.schedules.length > 0) {
    services.push(new PeriodicService(schedulesTask(pool, options.tables, options.schedules, emit), emit));
  }
  return services;
}
