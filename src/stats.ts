import { SchemaNotReadyError } from './errors.js';
import { isUndefinedTableOrSchema } from './sql/migrations.js';
import { countJobs, type JobCountsRow } from './sql/stats.js';
import { resolveTableOptions, type TableOptions } from './tables.js';
import { queryableOf } from './db/adapt.js';
import type { DbClient } from './db/shapes.js';

/** Counts of the queued jobs of one job type on one queue. */
export interface JobTypeStats {
  queue: string;
  jobType: string;
  /** Jobs whose time has come: waiting for a worker (or being worked on right now). */
  due: number;
  /** Jobs waiting for their `processAt`, including retries waiting out their delay. */
  scheduled: number;
  /** Lease-mode jobs running right now under a lease. */
  leased: number;
  /** Jobs that have failed at least once and are waiting for another attempt. */
  retrying: number;
  /** Running jobs that `cancelJob` asked to cancel, until their worker archives them as `cancelled`. */
  cancelling: number;
  /** `processAt` of the longest-waiting due job: how far behind the workers are. */
  oldestDueAt: Date | null;
  /** Whether the queue is paused (`pauseQueue`): its workers claim none of its jobs until it is resumed. */
  paused: boolean;
}

/**
 * What is waiting in the job table, per queue and job type. A job type whose
 * `due` count keeps growing has too few workers — or none that handles it.
 */
export async function queueStats(db: DbClient, options: TableOptions = {}): Promise<JobTypeStats[]> {
  const tables = resolveTableOptions(options, 'queueStats');
  let rows: JobCountsRow[];
  try {
    rows = await countJobs(queryableOf(db), tables);
  } catch (error) {
    if (isUndefinedTableOrSchema(error)) {
      throw new SchemaNotReadyError(
        `cannot count jobs: the table ${tables.job} does not exist; run \`await migrate(pool)\` or \`npx proletarian migrate\` first`,
        { cause: error },
      );
    }
    throw error;
  }
  return rows.map((row) => ({
    queue: row.queue,
    jobType: row.job_type,
    due: row.due,
    scheduled: row.scheduled,
    leased: row.leased,
    retrying: row.retrying,
    cancelling: row.cancelling,
    oldestDueAt: row.oldest_due_at === null ? null : new Date(row.oldest_due_at),
    paused: row.paused,
  }));
}
