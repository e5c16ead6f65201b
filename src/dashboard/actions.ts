import { cancelJob, cancelJobs, deleteJob, deleteJobs, retryJob, retryJobs, runJobNow } from '../job-control.js';
import { pauseQueue, resumeQueue } from '../queue-state.js';
import type { RetryableStatus } from '../archive-status.js';
import { matchingJobIds, STATUS_OF_ARCHIVED_STATE, type JobListFilter } from '../sql/dashboard.js';
import type { TableOptions, Tables } from '../tables.js';
import type { Queryable } from '../types.js';

// The one place where the dashboard changes anything: each action is a call
// of the library's own function, so the dashboard can do nothing an app
// could not do with the library.

/** The outcome of an action, as the API answers it. */
export interface ActionResult {
  ok: boolean;
  /** What happened, for people: shown on the page. */
  message: string;
  /** How many jobs a bulk action touched. */
  count?: number;
}

type JobAction = (db: Queryable, tables: TableOptions, jobId: string) => Promise<ActionResult>;

const NOT_FOUND: ActionResult = { ok: false, message: 'No such job.' };

/** Actions on one job, by name as in `POST <base>/api/jobs/<id>/<name>`. */
export const JOB_ACTIONS = {
  delete: async (db, tables, jobId) => {
    const result = await deleteJob(db, jobId, tables);
    switch (result) {
      case 'deleted':
        return { ok: true, message: 'Job deleted.' };
      case 'running':
        return { ok: false, message: 'The job is running now; it cannot be deleted until it ends.' };
      case 'not-found':
        return NOT_FOUND;
    }
  },
  cancel: async (db, tables, jobId) => {
    const result = await cancelJob(db, jobId, tables);
    switch (result) {
      case 'cancelled':
        return { ok: true, message: 'Job cancelled.' };
      case 'cancelling':
        return { ok: true, message: 'The job is running: its worker was asked to cancel it.' };
      case 'finished':
        return { ok: false, message: 'The job has finished already.' };
      case 'not-found':
        return NOT_FOUND;
    }
  },
  retry: async (db, tables, jobId) => {
    if (await retryJob(db, jobId, tables)) return { ok: true, message: 'Job put back on its queue, due now.' };
    return {
      ok: false,
      message: 'Only a failed, cancelled or discarded job can be retried (and not while another job holds its unique key).',
    };
  },
  'run-now': async (db, tables, jobId) => {
    const result = await runJobNow(db, jobId, tables);
    switch (result) {
      case 'due-now':
        return { ok: true, message: 'The job is due now.' };
      case 'already-due':
        return { ok: true, message: 'The job was due already; it waits for a worker.' };
      case 'running':
        return { ok: false, message: 'The job is running now.' };
      case 'finished':
        return { ok: false, message: 'The job has finished already.' };
      case 'not-found':
        return NOT_FOUND;
    }
  },
} as const satisfies Record<string, JobAction>;

export type JobActionName = keyof typeof JOB_ACTIONS;

/** The states (as the dashboard names them) in which the page offers each job action. */
export const JOB_ACTION_STATES: Readonly<Record<JobActionName, readonly string[]>> = {
  delete: ['waiting', 'scheduled', 'retrying', 'succeeded', 'failed', 'cancelled', 'discarded'],
  cancel: ['waiting', 'scheduled', 'retrying', 'running'],
  retry: ['failed', 'cancelled', 'discarded'],
  'run-now': ['scheduled', 'retrying'],
};

export function isJobAction(name: string): name is JobActionName {
  return Object.hasOwn(JOB_ACTIONS, name);
}

/** Actions on a queue, by name as in `POST <base>/api/queues/<queue>/<name>`. */
export const QUEUE_ACTIONS = {
  pause: async (db: Queryable, tables: TableOptions, queue: string): Promise<ActionResult> =>
    (await pauseQueue(db, queue, tables))
      ? { ok: true, message: `Queue ${queue} paused: its workers claim none of its jobs until it is resumed.` }
      : { ok: true, message: `Queue ${queue} was paused already.` },
  resume: async (db: Queryable, tables: TableOptions, queue: string): Promise<ActionResult> =>
    (await resumeQueue(db, queue, tables))
      ? { ok: true, message: `Queue ${queue} resumed.` }
      : { ok: true, message: `Queue ${queue} was not paused.` },
} as const;

export type QueueActionName = keyof typeof QUEUE_ACTIONS;

export function isQueueAction(name: string): name is QueueActionName {
  return Object.hasOwn(QUEUE_ACTIONS, name);
}

/** Jobs a bulk action reads at a time, walking the filter by keyset. */
const BATCH = 500;

/**
 * Calls `act` on the ids of the jobs that match `filter`, a keyset batch at
 * a time; resolves to the sum of what it returned.
 */
async function eachMatching(
  db: Queryable,
  tables: Tables,
  filter: JobListFilter,
  act: (jobIds: string[]) => Promise<number>,
): Promise<number> {
  let touched = 0;
  let after: { micros: string; jobId: string } | null = null;
  for (;;) {
    const batch = await matchingJobIds(db, tables, filter, after, BATCH);
    if (batch.length > 0) touched += await act(batch.map(({ jobId }) => jobId));
    const last = batch[batch.length - 1];
    if (!last || batch.length < BATCH) return touched;
    after = last;
  }
}

const plural = (n: number, one: string) => `${n.toLocaleString('en-US')} ${one}${n === 1 ? '' : 's'}`;

type BulkAction = (db: Queryable, tables: Tables, filter: JobListFilter) => Promise<ActionResult>;

function tableOptions(tables: Tables): TableOptions {
  return { schema: tables.schemaName, jobTable: tables.jobTableName, archivedJobTable: tables.archivedJobTableName };
}

/**
 * Actions on every job that matches a filter of the job list, by name as in
 * `POST <base>/api/bulk/<name>?state=…` (the list's query string).
 */
export const BULK_ACTIONS = {
  retry: async (db, tables, filter) => {
    const options = tableOptions(tables);
    const status = STATUS_OF_ARCHIVED_STATE[filter.state] as RetryableStatus;
    let count: number;
    if (filter.text === undefined && !(filter.from && filter.to && filter.from >= filter.to)) {
      // The library's one statement, when its filter says the same as the list's.
      count = await retryJobs(
        db,
        {
          status,
          ...(filter.queue !== undefined && { queue: filter.queue }),
          ...(filter.jobType !== undefined && { jobType: filter.jobType }),
          ...(filter.from && { finishedAfter: filter.from }),
          ...(filter.to && { finishedBefore: filter.to }),
        },
        options,
      );
    } else {
      count = await eachMatching(db, tables, filter, (jobIds) => retryJobs(db, { status, jobIds }, options));
    }
    return { ok: true, count, message: `${plural(count, 'job')} put back on their queues.` };
  },
  cancel: async (db, tables, filter) => {
    const options = tableOptions(tables);
    let cancelled = 0;
    let asked = 0;
    await eachMatching(db, tables, filter, async (jobIds) => {
      for (const result of await cancelJobs(db, jobIds, options)) {
        if (result === 'cancelled') cancelled++;
        else if (result === 'cancelling') asked++;
      }
      return 0;
    });
    const count = cancelled + asked;
    const message = asked > 0
      ? `${plural(cancelled, 'job')} cancelled; the workers of ${plural(asked, 'running job')} were asked to cancel them.`
      : `${plural(cancelled, 'job')} cancelled.`;
    return { ok: true, count, message };
  },
  delete: async (db, tables, filter) => {
    const options = tableOptions(tables);
    let running = 0;
    const count = await eachMatching(db, tables, filter, async (jobIds) => {
      let deleted = 0;
      for (const result of await deleteJobs(db, jobIds, options)) {
        if (result === 'deleted') deleted++;
        else if (result === 'running') running++;
      }
      return deleted;
    });
    const left = running > 0 ? ` ${plural(running, 'job')} started running meanwhile and ${running === 1 ? 'was' : 'were'} left alone.` : '';
    return { ok: true, count, message: `${plural(count, 'job')} deleted.${left}` };
  },
} as const satisfies Record<string, BulkAction>;

export type BulkActionName = keyof typeof BULK_ACTIONS;

/** The states in which each bulk action applies (and the page offers it). */
export const BULK_ACTION_STATES: Readonly<Record<BulkActionName, readonly string[]>> = {
  retry: JOB_ACTION_STATES.retry,
  cancel: JOB_ACTION_STATES.cancel,
  delete: JOB_ACTION_STATES.delete,
};

export function isBulkAction(name: string): name is BulkActionName {
  return Object.hasOwn(BULK_ACTIONS, name);
}
