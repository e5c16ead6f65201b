import type pg from 'pg';
import { AbandonedJobError, JobTimeoutError, ProletarianError, toError } from '../errors.js';
import { errorData, type EmitLog } from '../log.js';
import { beginAndClaimJobs, type ClaimedJobRow } from '../sql/claim.js';
import { judgeEarlierClaims, type EarlierClaimsVerdict } from './earlier-claims.js';
import { completeJobs, completeJobsAndCommit, storedErrorOf, type Completion, type JobRow } from '../sql/jobs.js';
import type { JobInfo } from '../types.js';
import { cancelRunningQuery } from './cancel-query.js';
import { callHandler, jobContext, jobOf, logOf, retryDelay, startDeadline, type HandlerOutcome } from './handler-run.js';
import type { ResolvedHandler } from './options.js';
import { JobTransaction } from './job-transaction.js';
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

/** How one job's run ended, before its batch commits. */
type JobResult = RanJob | { kind: 'abandoned' };

/** A job whose handler ran to its end; `usedDb`: it worked through `ctx.db`, under a savepoint. */
type RanJob =
  | { kind: 'completed'; job: JobInfo; completion: Completion; error?: Error; usedDb?: boolean }
  | { kind: 'interrupted'; job: JobInfo; error: Error; usedDb?: boolean };

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
export async function runNextBatch(runtime: WorkerRuntime, slot: number, limit: number): Promise<BatchResult> {
  const { options, emit } = runtime;
  const { claim, jobTypes, start } = runtime.batches!;
  const client = await runtime.pool.connect();
  // A connection that dies while we hold it emits 'error'; unheard, that would
  // crash the process. The failing query reports the same error to us.
  const onConnectionError = (error: Error) => emit('connection-error', { slot, ...errorData(error) });
  client.on('error', onConnectionError);
  let broken: Error | undefined;
  let watch: InFlightWatch | undefined;
  // The claim's transaction, until it commits.
  let claimXid: string | null = null;
  try {
    const claimFrom = start.next();
    const claimed = await beginAndClaimJobs(client, { claim, queue: options.queue, jobTypes, limit, claimFrom });
    claimXid = claimed.xid;
    const rows = claimed.jobs;
    start.found(claimFrom, rows[0]?.process_at.getTime() ?? null);
    if (rows.length === 0) {
      await client.query('COMMIT');
      return { claimed: 0, ran: 0, handlerMs: 0, savepoints: 0, soloNext: false };
    }

    // One watch for the whole batch: stop() gives up on all of its jobs at once.
    watch = runtime.inFlight.watch();
    const abandoned = watch.abandoned.then((waitedMs): Abandoned => ({ abandonedAfter: waitedMs }));
    const results: JobResult[] = [];
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
        if (verdict.kind !== 'run-alone') results.push(notRun(runtime, row, verdict));
        if (verdict.kind !== 'set-aside') soloNext = true;
        continue;
      }
      // Handlers that return without a promise finish here and now; only the
      // others cost an await.
      const running = runJob(runtime, client, row, slot, abandoned);
      const result = running instanceof Promise ? await running : running;
      if (result.kind === 'abandoned') {
        // Closing the connection makes PostgreSQL roll the whole batch back,
        // even though the handler may still be using it.
        broken = new ProletarianError('job abandoned at shutdown');
        if (results.length > 0) emit('job-abandoned', { slot, batchJobsRolledBack: results.length });
        return 'abandoned';
      }
      if (result.usedDb) savepoints++;
      results.push(result);
    }
    const handlerMs = performance.now() - started;

    const completions: Completion[] = [];
    const finalFailures: RanJob[] = [];
    for (const result of results) {
      if (result.kind !== 'completed') continue;
      completions.push(result.completion);
      if (result.completion.status === 'failure') finalFailures.push(result);
    }
    if (options.onFailedJob && finalFailures.length > 0) {
      // The hook runs in the transaction, after the completion and before the commit.
      await completeJobs(client, options.tables, completions);
      for (const failure of finalFailures) await runFailedJobHook(runtime, client, failure.job, failure.error!, slot);
      requireCommitted((await client.query('COMMIT')).command);
    } else {
      requireCommitted(await completeJobsAndCommit(client, options.tables, completions));
    }
    claimXid = null;
    logResults(emit, results, slot);
    return { claimed: rows.length, ran: results.length, handlerMs, savepoints, soloNext };
  } catch (error) {
    broken = toError(error);
    // This worker lives on: the jobs did not kill it. Said before it claims again.
    if (claimXid !== null) runtime.lostTransactions.add(claimXid);
    // Its jobs are due again where they were, perhaps behind the claims' start.
    start.reset();
    throw broken;
  } finally {
    watch?.done();
    client.off('error', onConnectionError);
    // A connection in an unknown state is destroyed rather than reused; the
    // server rolls back whatever it still held.
    client.release(broken);
  }
}

/**
 * The transition of a job not run because its last claim died: that claim
 * kept for a later verdict, or — at `maxAbandonedRuns` — archived as failed,
 * since it may be what crashes or hangs the workers that run it.
 */
function notRun(
  runtime: WorkerRuntime,
  row: ClaimedJobRow,
  verdict: Extract<EarlierClaimsVerdict, { kind: 'claim-died' | 'set-aside' }>,
): JobResult {
  const { job } = jobOf(row, row.attempts + 1);
  if (verdict.kind === 'set-aside') {
    return failed(job, new AbandonedJobError(verdict.abandonedRuns, runtime.options.maxAbandonedRuns));
  }
  const { abortedClaim, crashes, delayMs } = verdict;
  return { kind: 'completed', job, completion: { jobId: job.jobId, status: 'claim-died', abortedClaim, crashes, delayMs } };
}

/** The transition of a job that failed for good with `error`. */
function failed(job: JobInfo, error: Error): RanJob {
  const completion: Completion = { jobId: job.jobId, status: 'failure', error: storedErrorOf(error, job.attempt) };
  return { kind: 'completed', job, completion, error };
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
 * Runs one claimed job's handler and decides its transition; writes nothing
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
  if (decodeError) return failed(job, decodeError);
  const transaction = new JobTransaction(client);
  const running: RunningJob = { runtime, client, entry, job, transaction, slot };
  if (emit.enabled('job-started')) emit('job-started', logOf(job, slot));
  const deadline = entry.timeout === null ? null : startDeadline(entry.timeout, job.jobType, runtime.shutdown);
  const outcome = callHandler(
    entry,
    job,
    jobContext(runtime, job, transaction.db, slot, deadline?.signal ?? runtime.shutdown),
  );
  if (!(outcome instanceof Promise)) {
    deadline?.clear();
    return finishJob(running, outcome);
  }
  return Promise.race<HandlerOutcome | Abandoned>([
    outcome,
    abandoned,
    ...(deadline?.expired ? [deadline.expired.then((error) => ({ error }))] : []),
  ]).then((result) => {
    deadline?.clear();
    if ('abandonedAfter' in result) {
      transaction.close();
      emit('job-abandoned', { ...logOf(job, slot), waitedMs: result.abandonedAfter });
      return { kind: 'abandoned' };
    }
    return finishJob(running, result);
  });
}

/** The transition of a job whose handler ended with `outcome`; synchronous when the handler left no database work to settle. */
function finishJob(running: RunningJob, outcome: HandlerOutcome): JobResult | Promise<JobResult> {
  running.transaction.close();
  if (running.transaction.used) return settleHandlerWork(running, outcome);
  if (outcome.error) return failedAttempt(running, outcome.error);
  return { kind: 'completed', job: running.job, completion: { jobId: running.job.jobId, status: 'success' } };
}

/** Keeps or undoes the work a handler did through `ctx.db`, then decides the job's transition. */
async function settleHandlerWork(running: RunningJob, outcome: HandlerOutcome): Promise<JobResult> {
  const { client, job, transaction } = running;
  // A handler that outlived its timeout may still have a query running on
  // the batch's connection; it must end before the savepoint can be undone.
  if (outcome.error instanceof JobTimeoutError && transaction.querying) await cancelRunningQuery(client);
  let failure = outcome.error;
  if (!failure) {
    try {
      await transaction.keepHandlerWork();
      return { kind: 'completed', job, completion: { jobId: job.jobId, status: 'success' }, usedDb: true };
    } catch (error) {
      // The handler returned normally but left its part of the transaction
      // unusable: it caught a failed query.
      failure = new ProletarianError(
        `the job could not be completed after its handler returned: ${toError(error).message} ` +
          "(did the handler catch a failed query? a failed query aborts the job's transaction)",
        { cause: error },
      );
    }
  }
  await transaction.rollbackHandlerWork();
  return { ...failedAttempt(running, failure), usedDb: true };
}

/** The transition of a failed attempt whose writes, if any, are undone: a retry, a final failure, or — at shutdown — none. */
function failedAttempt({ runtime, entry, job, slot }: RunningJob, failure: Error): RanJob {
  if (runtime.shutdown.aborted) {
    // Most likely the handler gave up because of ctx.signal: a shutdown, not a
    // fault of the job, so it stays queued and no attempt is counted.
    return { kind: 'interrupted', job, error: failure };
  }
  const delay = retryDelay(entry.retryStrategy, job, failure, runtime.emit, logOf(job, slot));
  if (delay === null) return failed(job, failure);
  const completion: Completion = {
    jobId: job.jobId,
    status: 'retry',
    delayMs: delay,
    error: storedErrorOf(failure, job.attempt),
  };
  return { kind: 'completed', job, completion, error: failure };
}

/** Logged after the commit, so the log never tells of work that was rolled back. */
function logResults(emit: EmitLog, results: readonly JobResult[], slot: number): void {
  const logSuccesses = emit.enabled('job-succeeded');
  for (const result of results) {
    if (result.kind === 'abandoned') continue;
    if (result.kind === 'interrupted') {
      emit('job-interrupted', { ...logOf(result.job, slot), ...errorData(result.error) });
      continue;
    }
    const { completion } = result;
    if (completion.status === 'success') {
      if (logSuccesses) emit('job-succeeded', logOf(result.job, slot));
      continue;
    }
    const jobLog = logOf(result.job, slot);
    if (completion.status === 'claim-died') {
      const data = { ...jobLog, verdictInMs: completion.delayMs ?? 0 };
      emit(completion.crashes > 0 ? 'job-recovered' : 'job-claim-died', data);
      continue;
    }
    if (result.error instanceof AbandonedJobError) emit('job-set-aside', { ...jobLog, ...errorData(result.error) });
    else if (completion.status === 'retry') {
      emit('job-retry-scheduled', { ...jobLog, delayMs: completion.delayMs, ...errorData(result.error!) });
    } else emit('job-failed', { ...jobLog, ...errorData(result.error!) });
  }
}

/**
 * COMMIT on an aborted transaction "succeeds" as a ROLLBACK; a batch that
 * silently rolls back runs again forever, so that is an error here.
 */
function requireCommitted(command: string): void {
  if (command !== 'COMMIT') {
    throw new ProletarianError(`the batch's transaction was rolled back at commit (${command})`);
  }
}

async function runFailedJobHook(
  runtime: WorkerRuntime,
  client: pg.PoolClient,
  job: JobInfo,
  error: Error,
  slot: number,
): Promise<void> {
  const hookTransaction = new JobTransaction(client);
  try {
    await runtime.options.onFailedJob!(job, error, jobContext(runtime, job, hookTransaction.db, slot));
    // Fails if the hook caught a failed query: its part of the transaction is
    // then aborted, and committing would silently undo the archiving.
    await hookTransaction.keepHandlerWork();
  } catch (hookError) {
    // The job stays archived as failed; only the hook's own writes are undone.
    await hookTransaction.rollbackHandlerWork();
    runtime.emit('failed-job-hook-error', { ...logOf(job, slot), ...errorData(toError(hookError)) });
  } finally {
    hookTransaction.close();
  }
}
