import { deleteJob } from '../delete-job.js';
import type { TableOptions } from '../tables.js';
import type { Queryable } from '../types.js';

// The one place where the dashboard changes anything: each action is a call
// of the library's own function, so the dashboard can do nothing an app
// could not do with the library.

/** The outcome of an action, as the API answers it. */
export interface ActionResult {
  ok: boolean;
  /** What happened, for people: shown on the page. */
  message: string;
}

/** Actions on one job, by name as in `POST <base>/api/jobs/<id>/<name>`. */
export const JOB_ACTIONS = {
  delete: async (db: Queryable, tables: TableOptions, jobId: string): Promise<ActionResult> => {
    const result = await deleteJob(db, jobId, tables);
    switch (result) {
      case 'deleted':
        return { ok: true, message: 'Job deleted.' };
      case 'running':
        return { ok: false, message: 'The job is running now; it cannot be deleted until it ends.' };
      case 'not-found':
        return { ok: false, message: 'No such job.' };
    }
  },
} as const satisfies Record<string, (db: Queryable, tables: TableOptions, jobId: string) => Promise<ActionResult>>;

export type JobActionName = keyof typeof JOB_ACTIONS;

export function isJobAction(name: string): name is JobActionName {
  return Object.hasOwn(JOB_ACTIONS, name);
}
