import type pg from 'pg';
import { ProletarianError, toError } from '../errors.js';
import { errorData, type EmitLog } from '../log.js';
import { retryDelayFor, validateRetryPolicy, type RetryStrategy } from '../retry.js';
import { archiveJob, claimNextJob, scheduleRetry, type JobRow, type StoredError } from '../sql/jobs.js';
import type { JobContext, JobInfo } from '../types.js';
import { JobTransaction } from './job-transaction.js';
import type { ResolvedHandler, ResolvedWorkerOptions } from './options.js';

/** What every loop of one running worker shares. */
export interface WorkerRuntime {
  readonly pool: pg.Pool;
  readonly options: ResolvedWorkerOptions;
  readonly claimSql: string;
  /** Job types to claim; null claims every type (a fallback handler exists). */
  readonly jobTypes: readonly string[] | null;
  readonly emit: EmitLog;
  /** Aborted when `stop()` begins; handed to handlers as `ctx.signal`. */
  readonly shutdown: AbortSignal;
  /** Resolves, with the timeout that ran out, when `stop()` gives up on jobs still running. */
  readonly abandoned: Promise<number>;
}

/** How a job's run ended, as far as the loop needs to know. */
export type RunOutcome = 'empty' | 'processed' | 'abandoned';

/**
 * Claims the next due job of the worker's queue and runs it in one
 * transaction: claim, handler, then archive (success), reschedule (retry) or
 * archive as failure — and commit. Anything that goes wrong outside the
 * handler (database down, connection reset) rolls the whole transaction back,
 * leaving the job as it was, and is thrown to the loop as a polling error.
 */
export async function runNextJob(runtime: WorkerRuntime, slot: number): Promise<RunOutcome> {
  const client = await runtime.pool.connect();
  // A connection that dies while we hold it emits 'error'; unheard, that would
  // crash the process. The failing query reports the same error to us.
  const onConnectionError = (error: Error) => runtime.emit('connection-error', { slot, ...errorData(error) });
  client.on('error', onConnectionError);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const row = await claimNextJob(client, runtime.claimSql, runtime.options.queue, runtime.jobTypes);
    if (!row) {
      await client.query('COMMIT');
      return 'empty';
    }
    const outcome = await runClaimedJob(runtime, client, row, slot);
    if (outcome === 'abandoned') {
      // Closing the connection makes PostgreSQL roll the transaction back even
      // though the handler may still be using it.
      broken = new ProletarianError('job abandoned at shutdown');
    }
    return outcome;
  } catch (error) {
    broken = toError(error);
    throw broken;
  } finally {
    client.off('error', onConnectionError);
    // A connection in an unknown state is destroyed rather than reused; the
    // server rolls back whatever it still held.
    client.release(broken);
  }
}

async function runClaimedJob(
  runtime: WorkerRuntime,
  client: pg.PoolClient,
  row: JobRow,
  slot: number,
): Promise<'processed' | 'abandoned'> {
  const { options, emit } = runtime;
  const entry = options.handlers.get(row.job_type) ?? options.fallback;
  if (!entry) {
    // Only possible if the claim filter and the handlers disagree; leave the job alone.
    throw new ProletarianError(`claimed a job of type "${row.job_type}" that this worker has no handler for`);
  }
  const job: JobInfo = {
    jobId: row.job_id,
    jobType: row.job_type,
    queue: row.queue,
    payload: row.payload,
    attempt: row.attempts + 1,
    enqueuedAt: row.enqueued_at,
    processAt: row.process_at,
  };
  const jobLog = { slot, jobId: job.jobId, jobType: job.jobType, attempt: job.attempt };
  const transaction = new JobTransaction(client);
  const ctx = jobContext(runtime, job, transaction, jobLog);

  emit('job-started', jobLog);
  const started = performance.now();
  const result = await Promise.race([
    runHandler(entry, job, ctx),
    runtime.abandoned.then((waitedMs) => ({ abandonedAfter: waitedMs })),
  ]);
  transaction.close();
  if ('abandonedAfter' in result) {
    emit('job-abandoned', { ...jobLog, waitedMs: result.abandonedAfter });
    return 'abandoned';
  }

  let failure = result.error;
  if (!failure) {
    try {
      await archiveJob(client, options.tables, job.jobId, 'success', null);
      await commit(client);
      emit('job-succeeded', { ...jobLog, durationMs: Math.round(performance.now() - started) });
      return 'processed';
    } catch (error) {
      // The handler returned normally but left the transaction unusable, e.g.
      // it caught a failed query. Without its savepoint this is a database
      // problem of ours: let the loop roll back and report it.
      if (!transaction.used) throw error;
      failure = new ProletarianError(
        `the job could not be completed after its handler returned: ${toError(error).message} ` +
          '(did the handler catch a failed query? a failed query aborts the job\'s transaction)',
        { cause: error },
      );
    }
  }

  if (runtime.shutdown.aborted) {
    // Most likely the handler gave up because of ctx.signal: a shutdown, not a
    // fault of the job, so it stays queued and no attempt is counted.
    await client.query('ROLLBACK');
    emit('job-interrupted', { ...jobLog, ...errorData(failure) });
    return 'processed';
  }

  await transaction.rollbackHandlerWork();
  const storedError: StoredError = {
    name: failure.name,
    message: failure.message,
    stack: failure.stack,
    attempt: job.attempt,
  };
  const delay = retryDelay(entry.retryStrategy, job, failure, emit, jobLog);
  if (delay !== null) {
    await scheduleRetry(client, options.tables, job.jobId, delay, storedError);
    await commit(client);
    emit('job-retry-scheduled', { ...jobLog, delayMs: delay, ...errorData(failure) });
    return 'processed';
  }

  await archiveJob(client, options.tables, job.jobId, 'failure', storedError);
  if (options.onFailedJob) await runFailedJobHook(runtime, client, job, failure, jobLog);
  await commit(client);
  emit('job-failed', { ...jobLog, ...errorData(failure) });
  return 'processed';
}

/**
 * COMMIT on an aborted transaction "succeeds" as a ROLLBACK; a job that
 * silently rolls back runs again forever, so that is an error here.
 */
async function commit(client: pg.PoolClient): Promise<void> {
  const result = await client.query('COMMIT');
  if (result.command !== 'COMMIT') {
    throw new ProletarianError(`the job's transaction was rolled back at commit (${result.command})`);
  }
}

async function runHandler(
  entry: ResolvedHandler,
  job: JobInfo,
  ctx: JobContext,
): Promise<{ error?: Error | undefined }> {
  try {
    await entry.handler(job.payload, ctx);
    return {};
  } catch (thrown) {
    return { error: toError(thrown) };
  }
}

function jobContext(
  runtime: WorkerRuntime,
  job: JobInfo,
  transaction: JobTransaction,
  jobLog: Record<string, unknown>,
): JobContext {
  return {
    ...job,
    db: transaction.db,
    signal: runtime.shutdown,
    log: (message, data = {}) => runtime.emit('job-log', { ...jobLog, ...data, message }),
  };
}

/** The delay before the next attempt, or null when the job has failed for good. */
function retryDelay(
  strategy: RetryStrategy,
  job: JobInfo,
  error: Error,
  emit: EmitLog,
  jobLog: Record<string, unknown>,
): number | null {
  try {
    const policy = typeof strategy === 'function' ? strategy(job, error) : strategy;
    if (policy === null || policy === undefined) return null;
    return retryDelayFor(validateRetryPolicy('the retry strategy\'s result', policy), job.attempt);
  } catch (strategyError) {
    // A broken strategy must not wedge the job in a retry loop: fail it, loudly.
    emit('retry-strategy-error', { ...jobLog, ...errorData(toError(strategyError)) });
    return null;
  }
}

async function runFailedJobHook(
  runtime: WorkerRuntime,
  client: pg.PoolClient,
  job: JobInfo,
  error: Error,
  jobLog: Record<string, unknown>,
): Promise<void> {
  const hookTransaction = new JobTransaction(client);
  try {
    await runtime.options.onFailedJob!(job, error, jobContext(runtime, job, hookTransaction, jobLog));
    // Fails if the hook caught a failed query: its transaction is then
    // aborted, and committing it would silently undo the archiving.
    await hookTransaction.keepHandlerWork();
  } catch (hookError) {
    // The job stays archived as failed; only the hook's own writes are undone.
    await hookTransaction.rollbackHandlerWork();
    runtime.emit('failed-job-hook-error', { ...jobLog, ...errorData(toError(hookError)) });
  } finally {
    hookTransaction.close();
  }
}
