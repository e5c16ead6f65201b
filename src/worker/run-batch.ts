import type pg from 'pg';
import { JobTimeoutError, ProletarianError, toError } from '../errors.js';
import type { EmitLog } from '../log.js';
import { beginAndClaimJobs, type ClaimedJobRow, type ClaimPosition } from '../sql/claim.js';
import { requestedCancels } from '../sql/job-control.js';
import { completeJobs, completeJobsAndCommit, storedErrorOf, type ClaimedRows, type Completion, type JobRow } from '../sql/jobs.js';
import type { JobInfo } from '../types.js';
import { cancelRunningQuery } from './cancel-query.js';
import { requireCommitted, withConnection } from './connection.js';
import { judgeEarlierClaims, type EarlierClaimsVerdict } from './earlier-claims.js';
import { runFailedJobHook } from './failed-job-hook.js';
import {
  cancelledRun,
  jobContext,
  jobOf,
  logOf,
  logOutcome,
  runEndOf,
  runHandler,
  RunSignal,
  type HandlerOutcome,
} from './handler-run.js';
import type { ResolvedHandler } from './options.js';
import { JobTransaction } from './job-transaction.js';
import {
  decideRunOutcome,
  failedForGood,
  mustLookForCancel,
  type Discarded,
  type Failure,
  type RunEnd,
  type RunOutcome,
  type SetAside,
} from './run-outcome.js';
import type { InFlightWatch, WorkerRuntime } from './runtime.js';

/** What a batch did, for the loop's pacing. */
export type BatchResult =
  | {
      claimed: number;
      ran: number;
      handlerMs: number;
      /** Savepoints the handlers created: each is a subtransaction of the batch. */
      savepoints: number;
      /** A job that an earlier, crashed run left behind waits to run alone: claim one next. */
      soloNext: boolean;
    }
  | 'abandoned';

/** A job of the batch and the outcome its run decided, before the batch commits. */
interface DecidedJob {
  readonly job: JobInfo;
  readonly outcome: RunOutcome;
  /** Its handler worked through `ctx.db`, under a savepoint. */
  readonly usedDb: boolean;
}

/** How one job's run ended: decided, or given up on by `stop()` (the whole batch is then rolled back). */
type JobResult = DecidedJob | 'abandoned';

/**
 * Claims up to `limit` due jobs of the worker's queue in one transaction and
 * runs them one after another. Each handler's writes sit under a savepoint of
 * their own, so a failing job undoes only its own work; then one statement
 * archives or reschedules every job of the batch, and one commit makes it all
 * — every job's writes with its removal — durable together.
 *
 * Anything that goes wrong outside the handlers (database down, connection
 * reset) rolls the whole batch back, leaving its jobs as they were, and is
 * thrown to the loop as a polling error.
 */
export function runNextBatch(runtime: WorkerRuntime, slot: number, limit: number): Promise<BatchResult> {
  return withConnection(runtime, slot, (client, discard) => runBatch(runtime, client, discard, slot, limit));
}

/** {@link runNextBatch} on its connection; `discard` it when it must not be reused. */
async function runBatch(
  runtime: WorkerRuntime,
  client: pg.PoolClient,
  discard: (reason: Error) => void,
  slot: number,
  limit: number,
): Promise<BatchResult> {
  const { options, emit } = runtime;
  const { claim, jobTypes, start } = runtime.batches!;
  let watch: InFlightWatch | undefined;
  // The claim's transaction and where its first job stands, until it commits.
  let claimXid: string | null = null;
  let firstClaimed: ClaimPosition | null = null;
  // From here on, a cancel request heard for a job of this batch is kept for it.
  runtime.cancels.holding(slot);
  const listening = runtime.listening();
  try {
    const claimFrom = start.next();
    const claimed = await beginAndClaimJobs(client, { claim, queue: options.queue, jobTypes, limit, claimFrom });
    claimXid = claimed.xid;
    const rows = claimed.jobs;
    const first = rows[0];
    firstClaimed = first ? { priority: first.priority, dueMs: first.process_at.getTime() } : null;
    start.found(firstClaimed);
    if (rows.length === 0) {
      await client.query('COMMIT');
      return { claimed: 0, ran: 0, handlerMs: 0, savepoints: 0, soloNext: false };
    }

    // One watch for the whole batch: stop() gives up on all of its jobs at once.
    watch = runtime.inFlight.watch();
    const abandoned = watch.abandoned.then((waitedMs): Abandoned => ({ abandonedAfter: waitedMs }));
    const results: DecidedJob[] = [];
    // Where the claim found each decided job's row, in the order of `results`.
    const rowIds: string[] = [];
    let soloNext = false;
    let savepoints = 0;
    const started = performance.now();
    for (const row of rows) {
      // Once stopping, jobs not yet started stay queued, untouched.
      if (runtime.shutdown.aborted) break;
      const verdict = judgeEarlierClaims(row, rows.length, options.maxAbandonedRuns);
      if (verdict.kind !== 'run') {
        // Not run in this batch. A job that may have crashed a worker runs
        // alone, next, so that if it is what kills workers, it takes no
        // other job down with it; 'run-alone' leaves it untouched until then.
        if (verdict.kind !== 'run-alone') {
          results.push(notRun(runtime, row, verdict));
          rowIds.push(row.row_id);
        }
        if (verdict.kind !== 'set-aside') soloNext = true;
        continue;
      }
      // Handlers that return without a promise finish here and now; only the
      // others cost an await.
      runtime.activity.running(slot, row.job_id);
      const running = runJob(runtime, client, row, slot, abandoned);
      const result = running instanceof Promise ? await running : running;
      if (result === 'abandoned') {
        // Closing the connection makes PostgreSQL roll the whole batch back,
        // even though the handler may still be using it.
        discard(new ProletarianError('job abandoned at shutdown'));
        runtime.telemetry?.endOpen(slot, new ProletarianError('abandoned at shutdown; the batch was rolled back'));
        if (results.length > 0) emit('job-abandoned', { slot, batchJobsRolledBack: results.length });
        return 'abandoned';
      }
      if (result.usedDb) savepoints++;
      results.push(result);
      rowIds.push(row.row_id);
    }
    const handlerMs = performance.now() - started;
    const completed = await complete(runtime, client, results, rowIds, slot, listening);
    claimXid = null;
    runtime.activity.jobsDone += completed.length;
    logOutcomes(emit, completed, slot);
    if (runtime.telemetry) for (const { job, outcome } of completed) runtime.telemetry.settled(job, outcome);
    return { claimed: rows.length, ran: results.length, handlerMs, savepoints, soloNext };
  } catch (error) {
    runtime.telemetry?.endOpen(slot, toError(error));
    if (claimXid !== null) {
      // This worker lives on: the jobs did not kill it. Said before it claims again.
      runtime.lostTransactions.add(claimXid);
      // Its jobs are due again where they were, perhaps behind the claims' start.
      if (firstClaimed !== null) start.rewind(firstClaimed);
    }
    throw error;
  } finally {
    watch?.done();
    runtime.cancels.released(slot);
    runtime.activity.running(slot, null);
  }
}

/**
 * Carries out the batch's outcomes in one statement and commits: with
 * `onFailedJob`, the hook runs for each job that failed for good between the
 * two, in the same transaction. Before that, jobs that may have been
 * cancelled unheard (see `mustLookForCancel`) are looked up; `listening` is
 * the listening connection the batch began with; `rowIds`, where the claim
 * found each decided job's row, in the same order. Resolves to the outcomes
 * carried out.
 */
async function complete(
  runtime: WorkerRuntime,
  client: pg.PoolClient,
  decided: readonly DecidedJob[],
  rowIds: readonly string[],
  slot: number,
  listening: number | null,
): Promise<readonly DecidedJob[]> {
  const { options } = runtime;
  const results = await withCancelsFound(runtime, client, decided, listening !== null && runtime.listening() === listening);
  const completions: Completion[] = [];
  const claimed: ClaimedRows & { at: string[] } = { at: [], movable: false };
  const finalFailures: { job: JobInfo; outcome: Failure | SetAside | Discarded }[] = [];
  for (let i = 0; i < results.length; i++) {
    const { job, outcome, usedDb } = results[i]!;
    const completion = completionOf(job, outcome);
    if (completion) {
      completions.push(completion);
      claimed.at.push(rowIds[i]!);
      if (usedDb) claimed.movable = true;
    }
    if (failedForGood(outcome)) finalFailures.push({ job, outcome });
  }
  if (options.onFailedJob && finalFailures.length > 0) {
    await completeJobs(client, options.tables, completions, claimed);
    for (const { job, outcome } of finalFailures) await runFailedJobHook(runtime, client, job, outcome.error, slot);
    requireCommitted((await client.query('COMMIT')).command);
  } else {
    requireCommitted(await completeJobsAndCommit(client, options.tables, completions, claimed));
  }
  return results;
}

/**
 * The batch's outcomes, with those of jobs someone asked to cancel (found in
 * the database, unheard while the jobs ran) decided again as cancelled.
 */
async function withCancelsFound(
  runtime: WorkerRuntime,
  client: pg.PoolClient,
  results: readonly DecidedJob[],
  listened: boolean,
): Promise<readonly DecidedJob[]> {
  const unsure: string[] = [];
  for (const { job, outcome } of results) if (mustLookForCancel(outcome, listened)) unsure.push(job.jobId);
  if (unsure.length === 0) return results;
  const found = await requestedCancels(client, runtime.options.tables, unsure);
  if (found.size === 0) return results;
  return results.map((result) => {
    if (!found.has(result.job.jobId)) return result;
    const writesKept = result.outcome.kind === 'success' && result.usedDb;
    return { ...result, outcome: decideRunOutcome(cancelledRun(result.job.jobId, writesKept)) };
  });
}

/** What the completion statement records for a job's outcome; null: the job stays as it was. */
export function completionOf(job: JobInfo, outcome: RunOutcome): Completion | null {
  switch (outcome.kind) {
    case 'success':
      return { jobId: job.jobId, status: 'success' };
    case 'retry':
      return {
        jobId: job.jobId,
        status: 'retry',
        delayMs: outcome.delayMs,
        error: storedErrorOf(outcome.error, job.attempt),
      };
    case 'failure':
    case 'set-aside':
      return { jobId: job.jobId, status: 'failure', error: storedErrorOf(outcome.error, job.attempt) };
    case 'discarded':
      return { jobId: job.jobId, status: 'discarded', error: storedErrorOf(outcome.error, job.attempt) };
    case 'cancelled':
      return { jobId: job.jobId, status: 'cancelled' };
    case 'snooze':
      return { jobId: job.jobId, status: 'snooze', delayMs: outcome.delayMs };
    case 'claim-kept': {
      const { abortedClaim, crashes, delayMs } = outcome;
      return { jobId: job.jobId, status: 'claim-died', abortedClaim, crashes, delayMs };
    }
    case 'recovered':
      throw new ProletarianError('abandoned runs of a claimed job are counted when it dies again, not when found');
    case 'interrupted':
      // Its handler's writes were undone; the job itself was never touched.
      return null;
  }
}

/**
 * A job not run because its last claim died: that claim kept for a later
 * verdict, or — at `maxAbandonedRuns` — set aside, since it may be what
 * crashes or hangs the workers that run it.
 */
function notRun(
  runtime: WorkerRuntime,
  row: ClaimedJobRow,
  verdict: Extract<EarlierClaimsVerdict, { kind: 'claim-died' | 'set-aside' }>,
): DecidedJob {
  const { job } = jobOf(row, row.attempts + 1);
  const { maxAbandonedRuns } = runtime.options;
  const end: RunEnd =
    verdict.kind === 'set-aside'
      ? { kind: 'abandoned', abandonedRuns: verdict.abandonedRuns, maxAbandonedRuns }
      : {
          kind: 'claim-died',
          abortedClaim: verdict.abortedClaim,
          crashes: verdict.crashes,
          abandonedRuns: row.abandoned_runs + verdict.crashes,
          verdictInMs: verdict.delayMs,
        };
  return { job, outcome: decideRunOutcome(end), usedDb: false };
}

/** Settles when `stop()` gives up on the batch's jobs. */
type Abandoned = { abandonedAfter: number };

/** A job whose handler has started, with what settling its run needs. */
interface RunningJob {
  runtime: WorkerRuntime;
  client: pg.PoolClient;
  entry: ResolvedHandler;
  job: JobInfo;
  transaction: JobTransaction;
  slot: number;
}

/**
 * Runs one claimed job's handler and decides its outcome; writes nothing
 * but the handler's own work. Returns synchronously when the handler did not
 * return a promise and did not touch `ctx.db`, as no-op-sized jobs do.
 */
function runJob(
  runtime: WorkerRuntime,
  client: pg.PoolClient,
  row: JobRow,
  slot: number,
  abandoned: Promise<Abandoned>,
): JobResult | Promise<JobResult> {
  const { options, emit } = runtime;
  const entry = options.handlers.get(row.job_type) ?? options.fallback;
  if (!entry) {
    // Only possible if the claim filter and the handlers disagree; leave the job alone.
    throw new ProletarianError(`claimed a job of type "${row.job_type}" that this worker has no handler for`);
  }
  const { job, decodeError } = jobOf(row, row.attempts + 1);
  // Cancelled while an earlier job of the batch ran: it does not start.
  if (runtime.cancels.requested(slot, job.jobId)) {
    return { job, outcome: decideRunOutcome(cancelledRun(job.jobId, false)), usedDb: false };
  }
  if (decodeError) return { job, outcome: decideRunOutcome({ kind: 'undecodable', error: decodeError }), usedDb: false };
  const transaction = new JobTransaction(client);
  if (emit.enabled('job-started')) emit('job-started', logOf(job, slot));
  // Without a time limit, the signal is made only if the handler reads it.
  const signal = entry.timeout === null ? null : new RunSignal(job.jobId, job.jobType, entry.timeout, runtime.shutdown);
  runtime.cancels.started(slot, job.jobId, signal);
  const outcome = runHandler(runtime, entry, job, jobContext(runtime, job, transaction.db, slot, signal), row, slot);
  if (!(outcome instanceof Promise)) {
    runtime.cancels.ended(slot);
    return finishJob({ runtime, client, entry, job, transaction, slot }, outcome);
  }
  return Promise.race<HandlerOutcome | Abandoned>([
    outcome,
    abandoned,
    ...(signal?.expired ? [signal.expired.then((error) => ({ error }))] : []),
  ]).then((result) => {
    runtime.cancels.ended(slot);
    if ('abandonedAfter' in result) {
      transaction.close();
      emit('job-abandoned', { ...logOf(job, slot), waitedMs: result.abandonedAfter });
      return 'abandoned';
    }
    return finishJob({ runtime, client, entry, job, transaction, slot }, result);
  });
}

/**
 * The outcome of a job whose handler ended with `outcome`; synchronous when
 * the handler left no database work to settle.
 */
function finishJob(running: RunningJob, outcome: HandlerOutcome): DecidedJob | Promise<DecidedJob> {
  running.transaction.close();
  if (running.transaction.used) return settleHandlerWork(running, outcome);
  return { job: running.job, outcome: decideRunOutcome(runEnd(running, outcome.error)), usedDb: false };
}

/**
 * Decides the job's outcome, then keeps the work the handler did through
 * `ctx.db` if that outcome is a success, and undoes it otherwise.
 */
async function settleHandlerWork(running: RunningJob, outcome: HandlerOutcome): Promise<DecidedJob> {
  const { client, job, transaction } = running;
  // A handler that outlived its timeout may still have a query running on
  // the batch's connection; it must end before the savepoint can be undone.
  if (outcome.error instanceof JobTimeoutError && transaction.querying) await cancelRunningQuery(client);
  let decided = decideRunOutcome(runEnd(running, outcome.error));
  if (decided.kind === 'success') {
    try {
      await transaction.keepHandlerWork();
      return { job, outcome: decided, usedDb: true };
    } catch (error) {
      // The handler returned normally but left its part of the transaction
      // unusable: it caught a failed query.
      const failure = new ProletarianError(
        `the job could not be completed after its handler returned: ${toError(error).message} ` +
          "(did the handler catch a failed query? a failed query aborts the job's transaction)",
        { cause: error },
      );
      decided = decideRunOutcome(runEnd(running, failure));
    }
  }
  await transaction.rollbackHandlerWork();
  return { job, outcome: decided, usedDb: true };
}

function runEnd({ runtime, entry, job, slot }: RunningJob, error: Error | undefined): RunEnd {
  return runEndOf(runtime, entry, job, error, slot);
}

/** Logged after the commit, so the log never tells of work that was rolled back. */
function logOutcomes(emit: EmitLog, results: readonly DecidedJob[], slot: number): void {
  const logSuccesses = emit.enabled('job-succeeded');
  for (const { job, outcome } of results) {
    if (outcome.kind === 'success' && !logSuccesses) continue;
    logOutcome(emit, outcome, logOf(job, slot));
  }
}
