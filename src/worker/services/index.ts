import type pg from 'pg';
import type { EmitLog } from '../../log.js';
import type { ResolvedWorkerOptions } from '../options.js';
import type { WorkerActivity } from '../runtime.js';
import { heartbeatTask } from './heartbeat.js';
import { PeriodicService } from './periodic-service.js';
import { retentionTask } from './retention.js';

/** The periodic services a worker runs beside its loops, as its options ask for them. */
export function periodicServices(
  pool: pg.Pool,
  options: ResolvedWorkerOptions,
  activity: WorkerActivity,
  emit: EmitLog,
): PeriodicService[] {
  const services: PeriodicService[] = [new PeriodicService(heartbeatTask(pool, options, activity, emit), emit)];
  if (options.retention) {
    services.push(new PeriodicService(retentionTask(pool, options.tables, options.retention, emit), emit));
  }
  return services;
}
