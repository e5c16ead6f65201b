import type pg from 'pg';
import { JobTimeoutError, ProletarianError, toError } from '../errors.js';
import { createEmitter, type EmitLog } from '../log.js';
import { claimDueJobsForTest } from '../sql/testing.js';
import { completeJobs, type Completion } from '../sql/jobs.js';
import type { JobContext, JobInfo } from '../types.js';
import { cancelRunningQuery } from '../worker/cancel-query.js';
import { callHandler, jobOf, logOf, retryPolicyOf, RunSignal, type HandlerOutcome } from '../worker/handler-run.js';
import { JobTransaction } from '../worker/job-transaction.js';
import { resolveWorkerOptions, type ResolvedHandler, type WorkerOptions } from '../worker/options.js';
import { completionOf } from '../worker/run-batch.js';
import { decideRunOutcome, SUCCEEDED, type RunEnd, type RunOutcome } from '../worker/run-outcome.js';
import { rejectUnknownKeys, requireObject, wholeNumber } from '../validate.js';
import { inTransaction, requireTestDb, withClient, type TestDb } from './connection.js';

/** Options of {@link runJobs}: the worker options that decide how a job runs, and a limit. */
export interface RunJobsOptions
  extends Pick<
    WorkerOptions,
    'handlers' | 'fallbackHandler' | 'queue' | 'retryStrategy' | 'jobTimeout' | 'log' | 'schema' | 'jobTable' | 'archivedJobTable'
  > {
  /**
   * Most runs before giving up with an error: a job that keeps scheduling
   * itself (or retrying with no delay) would otherwise never leave the
   * queue. @defaultValue `1000`
   */
  maxRuns?: number;
}

/** How one run ended, as a worker would have recorded it. */
export type JobRunOutcome = 'succeeded' | 'failed' | 'retry-scheduled' | 'snoozed' | 'discarded';

/** One run of a job by {@link runJobs}. */
export interface JobRun {
  readonly jobId: string;
  readonly jobType: string;
  readonly queue: string;
  readonly payload: unknown;
  /** 1 on a job's first run, 2 on its first retry, … */
  readonly attempt: number;
  /**
   * `'succeeded'`: archived as a success; `'failed'`: archived as a failure;
   * `'retry-scheduled'`: the attempt failed and the job waits for its retry;
   * `'snoozed'`: the handler threw a `SnoozeJobError` and the job waits,
   * no attempt counted; `'discarded'`: the handler threw a
   * `DiscardJobError` and the job is archived as discarded.
   */
  readonly outcome: JobRunOutcome;
  /** What the handler threw, for a failed run. */
  readonly error?: Error;
  /** For `'retry-scheduled'` and `'snoozed'`: milliseconds until the job is due again. */
  readonly retryInMs?: number;
}

const OPTION_KEYS = new Set([
  'handlers',
  'fallbackHandler',
  'queue',
  'retryStrategy',
  'jobTimeout',
  'log',
  'schema',
  'jobTable',
  'archivedJobTable',
  'maxRuns',
]);
// Jobs locked and completed together, as a worker's batch.
const ROUND_SIZE = 100;

/**
 * Runs the due jobs of a queue, inline, with the app's handlers, until none
 * is left — jobs that the handlers enqueue, and retries due at once,
 * included — and resolves with every run in order. Each job's outcome is
 * recorded as a worker records it: archived, or rescheduled for its retry.
 *
 * With a client inside the test's open transaction, everything happens in
 * that transaction (the test's jobs, uncommitted, are found; rolling back
 * undoes it all); with a pool, or a client outside a transaction, each round
 * of jobs commits. `onFailedJob` is not called.
 */
export async function runJobs(db: TestDb, options: RunJobsOptions): Promise<JobRun[]> {
  requireTestDb(db, 'runJobs');
  requireObject(options, 'runJobs: options must be an object { handlers, queue?, ... }');
  rejectUnknownKeys(options, OPTION_KEYS, 'unknown runJobs option');
  const { maxRuns: maxRunsOption, ...workerOptions } = options;
  const maxRuns = maxRunsOption === undefined ? 1000 : wholeNumber('maxRuns', maxRunsOption, 1);
  const resolved = resolveWorkerOptions(workerOptions);
  const emit = createEmitter(resolved.log, { workerId: 'runJobs', queue: resolved.queue });
  const jobTypes = resolved.fallback ? null : [...resolved.handlers.keys()];
  const handlerOf = (jobType: string) => resolved.handlers.get(jobType) ?? resolved.fallback!;
  const runs: JobRun[] = [];
  for (;;) {
    const ranAny = await withClient(db, (client) =>
      inTransaction(client, true, async () => {
        const rows = await claimDueJobsForTest(client, resolved.tables, resolved.queue, jobTypes, ROUND_SIZE);
        const completions: Completion[] = [];
        for (const row of rows) {
          if (runs.length >= maxRuns) {
            throw new ProletarianError(`runJobs: still finding due jobs after ${maxRuns} runs (maxRuns); does a job keep enqueueing itself?`);
          }
          const { job, decodeError } = jobOf(row, row.attempts + 1);
          const outcome = decodeError
            ? decideRunOutcome({ kind: 'undecodable', error: decodeError })
            : await runOne(client, handlerOf(row.job_type), job, emit);
          const completion = completionOf(job, outcome);
          if (completion) completions.push(completion);
          runs.push(runOf(job, outcome));
        }
        await completeJobs(client, resolved.tables, completions);
        return rows.length > 0;
      }),
    );
    if (!ranAny) return runs;
  }
}

/** Runs one job's handler as a worker's batch does: its `ctx.db` work under a savepoint, kept or undone. */
async function runOne(client: pg.ClientBase, entry: ResolvedHandler, job: JobInfo, emit: EmitLog): Promise<RunOutcome> {
  const transaction = new JobTransaction(client);
  const stop = new AbortController();
  const deadline = new RunSignal(job.jobId, job.jobType, entry.timeout, stop.signal);
  const ctx: JobContext = {
    ...job,
    db: transaction.db,
    signal: deadline.signal,
    log: (message, data = {}) => emit('job-log', { ...logOf(job, 0), ...data, message }),
  };
  const running = callHandler(entry, job, ctx);
  const result: HandlerOutcome = await Promise.race([
    running,
    ...(deadline.expired ? [deadline.expired.then((error) => ({ error }))] : []),
  ]);
  deadline.clear();
  transaction.close();
  let failure = result.error;
  if (failure instanceof JobTimeoutError && transaction.querying) await cancelRunningQuery(client);
  if (!failure && transaction.used) {
    try {
      await transaction.keepHandlerWork();
    } catch (error) {
      failure = new ProletarianError(
        `the job could not be completed after its handler returned: ${toError(error).message} ` +
          "(did the handler catch a failed query? a failed query aborts the job's transaction)",
        { cause: error },
      );
    }
  }
  if (!failure) return decideRunOutcome(SUCCEEDED);
  await transaction.rollbackHandlerWork();
  const error = failure;
  const end: RunEnd = {
    kind: 'failed',
    error,
    attempt: job.attempt,
    stopping: false,
    retryPolicy: () => retryPolicyOf(entry.retryStrategy, job, error, emit, logOf(job, 0)),
  };
  return decideRunOutcome(end);
}

function runOf(job: JobInfo, outcome: RunOutcome): JobRun {
  const base = { jobId: job.jobId, jobType: job.jobType, queue: job.queue, payload: job.payload, attempt: job.attempt };
  switch (outcome.kind) {
    case 'success':
      return { ...base, outcome: 'succeeded' };
    case 'retry':
      return { ...base, outcome: 'retry-scheduled', error: outcome.error, retryInMs: outcome.delayMs };
    case 'failure':
    case 'set-aside':
      return { ...base, outcome: 'failed', error: outcome.error };
    case 'snooze':
      return { ...base, outcome: 'snoozed', retryInMs: outcome.delayMs };
    case 'discarded':
      return { ...base, outcome: 'discarded', error: outcome.error };
    case 'cancelled':
    case 'recovered':
    case 'claim-kept':
    case 'interrupted':
      // Only cancelJob, a worker's crashes, lost connections and shutdowns end a run this way.
      throw new ProletarianError(`runJobs: unexpected outcome ${outcome.kind}`);
  }
}
