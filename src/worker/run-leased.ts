import type pg from 'pg';
import type { ArchiveStatus } from '../archive-status.js';
import { LeaseLostError, ProletarianError, toError } from '../errors.js';
import { errorData } from '../log.js';
import { leaseNextJob } from '../sql/claim.js';
import { requestedCancels, withdrawCancelRequests } from '../sql/job-control.js';
import { archiveLeasedJob, releaseLeasedJob, renewLease, retryLeasedJob, snoozeLeasedJob } from '../sql/leases.js';
import { storedErrorOf } from '../sql/jobs.js';
import type { JobDb, JobInfo } from '../types.js';
import { requireCommitted, withConnection } from './connection.js';
import { runFailedJobHook } from './failed-job-hook.js';
import { cancelledRun, jobContext, jobOf, logOf, logOutcome, runEndOf, runHandler, RunSignal } from './handler-run.js';
import { decideRunOutcome, mustLookForCancel, type RunOutcome } from './run-outcome.js';
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
  // From here on, a cancel request heard for the leased job is kept for it.
  runtime.cancels.holding(slot);
  try {
    return await leaseAndRun(runtime, slot);
  } finally {
    runtime.cancels.released(slot);
  }
}

async function leaseAndRun(runtime: WorkerRuntime, slot: number): Promise<LeasedResult> {
  const { options, emit, pool, leaseHolder: holder } = runtime;
  const listening = runtime.listening();
  const { claim, jobTypes, leaseMs, start } = runtime.leases!;
  const row = await leaseNextJob(pool, { claim, queue: options.queue, jobTypes, holder, leaseMs, claimFrom: start.next() });
  start.found(row ? { priority: row.priority, dueMs: row.due_ms } : null);
  if (!row) return 'empty';
  const entry = options.handlers.get(row.job_type)!;
  const { job, decodeError } = jobOf(row, row.attempts + 1);
  const jobLog = logOf(job, slot);
  if (row.took_over) {
    // Its last run died unfinished, and the lease counted it. Unless such
    // runs are now too many, the job runs at once, under this lease.
    const outcome = decideRunOutcome({
      kind: 'abandoned',
      abandonedRuns: row.abandoned_runs,
      maxAbandonedRuns: options.maxAbandonedRuns,
    });
    await settleLeasedJob(runtime, job, outcome, slot);
    if (outcome.kind === 'set-aside') return 'processed';
  }
  if (decodeError) {
    await settleLeasedJob(runtime, job, decideRunOutcome({ kind: 'undecodable', error: decodeError }), slot);
    return 'processed';
  }
  if (runtime.cancels.requested(slot, job.jobId)) {
    // Cancelled as it was leased: it does not start.
    await settleLeasedJob(runtime, job, decideRunOutcome(cancelledRun(job.jobId, false)), slot);
    return 'processed';
  }

  const signal = new RunSignal(job.jobId, job.jobType, entry.timeout, runtime.shutdown);
  const heartbeat = startHeartbeat(pool, runtime, job.jobId, entry.leaseDuration, () => {
    signal.abort(new LeaseLostError(`the lease of job ${job.jobId} was lost`));
    emit('lease-lost', jobLog);
  });
  const watch = runtime.inFlight.watch();
  runtime.cancels.started(slot, job.jobId, signal);
  if (emit.enabled('job-started')) emit('job-started', jobLog);
  runtime.activity.running(slot, job.jobId);
  const result = await Promise.race([
    runHandler(runtime, entry, job, jobContext(runtime, job, poolDb(pool), slot, signal), row, slot),
    watch.abandoned.then((waitedMs) => ({ abandonedAfter: waitedMs })),
    ...(signal.expired ? [signal.expired.then((error) => ({ error }))] : []),
  ]);
  watch.done();
  runtime.cancels.ended(slot);
  runtime.activity.running(slot, null);
  heartbeat.stop();
  if ('abandonedAfter' in result) {
    // The handler may still be running: keep the lease unrenewed, so the job
    // is taken over only once it runs out.
    emit('job-abandoned', { ...jobLog, waitedMs: result.abandonedAfter });
    runtime.telemetry?.endOpen(slot, new ProletarianError('abandoned at shutdown; the lease runs out'));
    return 'abandoned';
  }
  if (heartbeat.lost) {
    runtime.telemetry?.endOpen(slot, new LeaseLostError(`the lease of job ${job.jobId} was lost`));
    return 'processed';
  }
  let outcome = decideRunOutcome(runEndOf(runtime, entry, job, result.error, slot));
  // Requests unheard while it ran (see mustLookForCancel). Its writes were
  // committed as they were made: none is kept or undone by the outcome.
  const listened = listening !== null && runtime.listening() === listening;
  if (mustLookForCancel(outcome, listened) && (await requestedCancels(pool, options.tables, [job.jobId])).size > 0) {
    outcome = decideRunOutcome(cancelledRun(job.jobId, false));
  }
  await settleLeasedJob(runtime, job, outcome, slot);
  runtime.activity.jobsDone++;
  return 'processed';
}

/**
 * Carries out a leased job's outcome — only while the lease is still ours —
 * and logs it, or `lease-lost` when the lease was gone.
 */
async function settleLeasedJob(runtime: WorkerRuntime, job: JobInfo, outcome: RunOutcome, slot: number): Promise<void> {
  const { pool, options, leaseHolder: holder } = runtime;
  const t = options.tables;
  let ours: boolean;
  switch (outcome.kind) {
    case 'success':
      ours = await archiveLeasedJob(pool, t, job.jobId, holder, 'success', null);
      break;
    case 'retry': {
      const storedError = storedErrorOf(outcome.error, job.attempt);
      ours = await retryLeasedJob(pool, t, job.jobId, holder, outcome.delayMs, storedError);
      break;
    }
    case 'failure':
    case 'set-aside':
      ours = await archiveFailedLeasedJob(runtime, job, 'failure', outcome.error, slot);
      break;
    case 'discarded':
      ours = await archiveFailedLeasedJob(runtime, job, 'discarded', outcome.error, slot);
      break;
    case 'snooze':
      ours = await snoozeLeasedJob(pool, t, job.jobId, holder, outcome.delayMs);
      break;
    case 'cancelled':
      ours = await archiveLeasedJob(pool, t, job.jobId, holder, 'cancelled', null);
      // Answered; a request left behind would only wait for cancelJob's clean-up.
      if (ours) await withdrawCancelRequests(pool, t, job.jobId);
      break;
    case 'recovered':
      // The lease that found the abandoned run counted it.
      ours = true;
      break;
    case 'claim-kept':
      throw new ProletarianError('a leased job keeps no died claim: leases are not claimed in a transaction');
    case 'interrupted':
      ours = await releaseLeasedJob(pool, t, job.jobId, holder);
      break;
  }
  if (ours) {
    logOutcome(runtime.emit, outcome, logOf(job, slot));
    runtime.telemetry?.settled(job, outcome);
  } else {
    runtime.emit('lease-lost', logOf(job, slot));
    runtime.telemetry?.endOpen(slot, new LeaseLostError(`the lease of job ${job.jobId} was lost`));
  }
}

/**
 * Archives a leased job that failed for good (or was discarded by its
 * handler); false when the lease was lost, and then nothing is written. With `onFailedJob`, the archiving and the hook
 * share one transaction, as in transaction mode: the hook's writes commit
 * with the archiving, and a hook that throws has only its own writes undone.
 */
async function archiveFailedLeasedJob(
  runtime: WorkerRuntime,
  job: JobInfo,
  status: Extract<ArchiveStatus, 'failure' | 'discarded'>,
  error: Error,
  slot: number,
): Promise<boolean> {
  const { pool, options, leaseHolder: holder } = runtime;
  const storedError = storedErrorOf(error, job.attempt);
  if (!options.onFailedJob) return archiveLeasedJob(pool, options.tables, job.jobId, holder, status, storedError);
  return withConnection(runtime, slot, async (client) => {
    await client.query('BEGIN');
    if (!(await archiveLeasedJob(client, options.tables, job.jobId, holder, status, storedError))) {
      await client.query('ROLLBACK');
      return false;
    }
    await runFailedJobHook(runtime, client, job, error, slot);
    requireCommitted((await client.query('COMMIT')).command);
    return true;
  });
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
      .then((renewal) => {
        if (renewal === 'lost') {
          lost = true;
          onLost();
        } else if (renewal === 'cancel-requested') {
          // How a worker that does not listen hears of it, within a third of the lease.
          runtime.cancels.announce(jobId);
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


