// proletarian/testing: helpers for an app's own tests — run queued jobs
// inline with the app's handlers, find and assert enqueued jobs, run one
// handler in a transaction that rolls back.

export { runJobs, type RunJobsOptions, type JobRun, type JobRunOutcome } from './run-jobs.js';
export {
  listJobs,
  assertJobEnqueued,
  assertNoJobEnqueued,
  type EnqueuedJob,
  type ListJobsOptions,
  type AssertJobOptions,
  type PayloadMatch,
} from './jobs.js';
export { runHandler, type RunHandlerOptions } from './run-handler.js';
export type { TestDb } from './connection.js';
