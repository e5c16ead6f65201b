import type pg from 'pg';
import { AbandonedJobError, LeaseLostError, toError } from '../errors.js';
import { errorData } from '../log.js';
import { leaseNextJob, type LeasedJobRow } from '../sql/claim.js';
import { archiveLeasedJob, releaseLeasedJob, renewLease, retryLeasedJob } from '../sql/leases.js';
import { storedErrorOf } from '../sql/jobs.js';
import type { JobDb } from '../types.js';
import { callHandler, jobContext, jobOf, logOf, retryDelay, startDeadline } from './handler-run.js';
import type { WorkerRuntime } from './runtime.js';

/** What a lease-mode turn of a loop did. */
export type LeasedResult = 'empty' | 'processed' | 'abandoned';

/**
 * Leases the next due job of the worker's lease-mode types and runs it
 * outside any transaction: the lease (committed at once) keeps other workers
 * away, a heartbeat renews it every third of its duration, and completing
 * archives or reschedules the job — but only while the lease is still ours.
 * When a worker dies, its job is claimable as soon as the lease runs out.
 */
export async function runNextLeasedJob(runtime: WorkerRuntime, slot: number): Promise<LeasedResult> {
  const { options, emit, pool, leaseHolder: holder } = runtime;
  const { claim, jobTypes, leaseMs, start } = runtime.leases!;
  const t = options.tables;
  const claimFrom = start.next();
  let row: LeasedJobRow | null;
  try {
    row = await leaseNextJob(pool, { claim, queue: options.queue, jobTypes, holder, leaseMs, claimFrom });
  } catch (error) {
    start.reset();
    throw error;
  }
  start.found(claimFrom, row?.due_ms ?? null);
  if (!row) return 'empty';
  const entry = options.handlers.get(row.job_type)!;
  // The lease counted this run already.
  const { job, decodeError } = jobOf(row, row.attempts);
  const jobLog = logOf(job, slot);
  if (row.abandoned_runs >= options.maxAbandonedRuns) {
    const error = new AbandonedJobError(row.abandoned_runs, options.maxAbandonedRuns);
    await archiveLeasedJob(pool, t, job.jobId, holder, 'failure', storedErrorOf(error, job.attempt));
    emit('job-set-aside', { ...jobLog, abandonedRuns: row.abandoned_runs });
    return 'processed';
  }
  if (decodeError) {
    await archiveLeasedJob(pool, t, job.jobId, holder, 'failure', storedErrorOf(decodeError, job.attempt));
    emit('job-failed', { ...jobLog, ...errorData(decodeError) });
    return 'processed';
  }
  if (row.abandoned_runs > 0) emit('job-recovered', { ...jobLog, abandonedRuns: row.abandoned_runs });

  const deadline = startDeadline(entry.timeout, job.jobType, runtime.shutdown);
  const heartbeat = startHeartbeat(pool, runtime, job.jobId, entry.leaseDuration, () => {
    deadline.abort(new LeaseLostError(`the lease of job ${job.jobId} was lost`));
    emit('lease-lost', jobLog);
  });
  const watch = runtime.inFlight.watch();
  if (emit.enabled('job-started')) emit('job-started', jobLog);
  const result = await Promise.race([
    callHandler(entry, job, jobContext(runtime, job, poolDb(pool), slot, deadline.signal)),
    watch.abandoned.then((waitedMs) => ({ abandonedAfter: waitedMs })),
    ...(deadline.expired ? [deadline.expired.then((error) => ({ error }))] : []),
  ]);
  watch.done();
  deadline.clear();
  heartbeat.stop();
  if ('abandonedAfter' in result) {
    // The handler may still be running: keep the lease unrenewed, so the job
    // is taken over only once it runs out.
    emit('job-abandoned', { ...jobLog, waitedMs: result.abandonedAfter });
    return 'abandoned';
  }
  if (heartbeat.lost) return 'processed';

  const failure = result.error;
  if (!failure) {
    if (await archiveLeasedJob(pool, t, job.jobId, holder, 'success', null)) {
      if (emit.enabled('job-succeeded')) emit('job-succeeded', jobLog);
    } else emit('lease-lost', jobLog);
    return 'processed';
  }
  if (runtime.shutdown.aborted) {
    await releaseLeasedJob(pool, t, job.jobId, holder);
    emit('job-interrupted', { ...jobLog, ...errorData(failure) });
    return 'processed';
  }
  const delay = retryDelay(entry.retryStrategy, job, failure, emit, jobLog);
  if (delay !== null) {
    if (await retryLeasedJob(pool, t, job.jobId, holder, delay, storedErrorOf(failure, job.attempt))) {
      emit('job-retry-scheduled', { ...jobLog, delayMs: delay, ...errorData(failure) });
    } else emit('lease-lost', jobLog);
    return 'processed';
  }
  if (!(await archiveLeasedJob(pool, t, job.jobId, holder, 'failure', storedErrorOf(failure, job.attempt)))) {
    emit('lease-lost', jobLog);
    return 'processed';
  }
  emit('job-failed', { ...jobLog, ...errorData(failure) });
  if (options.onFailedJob) {
    try {
      await options.onFailedJob(job, failure, jobContext(runtime, job, poolDb(pool), slot));
    } catch (hookError) {
      emit('failed-job-hook-error', { ...jobLog, ...errorData(toError(hookError)) });
    }
  }
  return 'processed';
}

/**
 * Renews the lease every third of its duration. A renewal that finds the
 * lease gone calls `onLost`; one that fails (database down) is tried again at
 * the next beat — the lease has two more beats to spare.
 */
function startHeartbeat(
  pool: pg.Pool,
  runtime: WorkerRuntime,
  jobId: string,
  leaseMs: number,
  onLost: () => void,
): { stop: () => void; readonly lost: boolean } {
  let lost = false;
  let renewing = false;
  const timer = setInterval(() => {
    if (renewing || lost) return;
    renewing = true;
    renewLease(pool, runtime.options.tables, jobId, runtime.leaseHolder, leaseMs)
      .then((ours) => {
        if (!ours) {
          lost = true;
          onLost();
        }
      })
      .catch((error: unknown) => runtime.emit('connection-error', { jobId, ...errorData(toError(error)) }))
      .finally(() => (renewing = false));
  }, leaseMs / 3);
  return {
    stop: () => clearInterval(timer),
    get lost() {
      return lost;
    },
  };
}

/** Lease mode's `ctx.db`: each query on its own, from the pool. */
function poolDb(pool: pg.Pool): JobDb {
  return { query: pool.query.bind(pool) as JobDb['query'] };
}


