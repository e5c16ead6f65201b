import { JobTimeoutError, toError } from '../errors.js';
import { errorData, type EmitLog } from '../log.js';
import { validateRetryPolicy, type RetryPolicy, type RetryStrategy } from '../retry.js';
import { decodeStoredPayload } from '../payload.js';
import type { JobRow } from '../sql/jobs.js';
import type { JobContext, JobDb, JobInfo } from '../types.js';
import type { ResolvedHandler } from './options.js';
import type { FailedRun, RunOutcome } from './run-outcome.js';
import type { WorkerRuntime } from './runtime.js';

// What running a handler takes in either mode — in a batch's transaction or
// under a lease: its context, its time limit, how its failure reaches the
// outcome's decision, and how an outcome is logged.

/** The context of a job in log events. */
export type JobLog = { slot: number; jobId: string; jobType: string; attempt: number };

export function logOf(job: JobInfo, slot: number): JobLog {
  return { slot, jobId: job.jobId, jobType: job.jobType, attempt: job.attempt };
}

/**
 * The job a handler's context describes, from its row; `attempt` is this
 * run's number. A payload that cannot be decoded comes back as
 * `decodeError`: the job's failure, never the batch's or the loop's.
 */
export function jobOf(row: JobRow, attempt: number): { job: JobInfo; decodeError?: Error } {
  const decoded = decodeStoredPayload(row.payload);
  const job: JobInfo = {
    jobId: row.job_id,
    jobType: row.job_type,
    queue: row.queue,
    payload: 'payload' in decoded ? decoded.payload : null,
    attempt,
    enqueuedAt: row.enqueued_at,
    processAt: row.process_at,
    priority: row.priority,
  };
  return 'error' in decoded ? { job, decodeError: decoded.error } : { job };
}

/** How a handler's run ended: `error` is what it threw or rejected with. */
export type HandlerOutcome = { error?: Error | undefined };

const SUCCEEDED: HandlerOutcome = Object.freeze({});

/**
 * Calls a handler; whatever it throws comes back as an `Error`. A handler
 * that returns no promise settles synchronously, so quick handlers cost no
 * turn of the event loop.
 */
export function callHandler(
  entry: ResolvedHandler,
  job: JobInfo,
  ctx: JobContext,
): HandlerOutcome | Promise<HandlerOutcome> {
  let returned: unknown;
  try {
    returned = entry.handler(job.payload, ctx);
  } catch (thrown) {
    return { error: toError(thrown) };
  }
  if (!isThenable(returned)) return SUCCEEDED;
  return Promise.resolve(returned).then(
    () => SUCCEEDED,
    (thrown: unknown) => ({ error: toError(thrown) }),
  );
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * A job's time limit: `expired` settles with a {@link JobTimeoutError} when
 * it runs out, and `signal` — the handler's `ctx.signal` — aborts then, at
 * shutdown, or when `abort` is called, whichever comes first.
 */
export function startDeadline(
  timeoutMs: number | null,
  jobType: string,
  shutdown: AbortSignal,
): { signal: AbortSignal; expired: Promise<JobTimeoutError> | null; abort: (reason: Error) => void; clear: () => void } {
  const controller = new AbortController();
  const onShutdown = () => controller.abort(shutdown.reason);
  shutdown.addEventListener('abort', onShutdown, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const expired =
    timeoutMs === null
      ? null
      : new Promise<JobTimeoutError>((resolve) => {
          timer = setTimeout(() => {
            const error = new JobTimeoutError(jobType, timeoutMs);
            controller.abort(error);
            resolve(error);
          }, timeoutMs);
        });
  return {
    signal: controller.signal,
    expired,
    abort: (reason) => controller.abort(reason),
    clear: () => {
      clearTimeout(timer);
      shutdown.removeEventListener('abort', onShutdown);
    },
  };
}

export function jobContext(
  runtime: WorkerRuntime,
  job: JobInfo,
  db: JobDb,
  slot: number,
  signal: AbortSignal = runtime.shutdown,
): JobContext {
  // Built field by field: this runs for every job, and a spread costs more.
  return {
    jobId: job.jobId,
    jobType: job.jobType,
    queue: job.queue,
    payload: job.payload,
    attempt: job.attempt,
    enqueuedAt: job.enqueuedAt,
    processAt: job.processAt,
    priority: job.priority,
    db,
    signal,
    log: (message, data = {}) => runtime.emit('job-log', { ...logOf(job, slot), ...data, message }),
  };
}

/**
 * Calls the handler of a claimed job: in a consumer span, parented by the
 * trace context stored with the job, when OpenTelemetry is installed.
 */
export function runHandler(
  runtime: WorkerRuntime,
  entry: ResolvedHandler,
  job: JobInfo,
  ctx: JobContext,
  row: JobRow,
  slot: number,
): HandlerOutcome | Promise<HandlerOutcome> {
  const { telemetry } = runtime;
  if (telemetry === null) return callHandler(entry, job, ctx);
  return telemetry.run(job, row.trace_context ?? null, slot, () => callHandler(entry, job, ctx));
}

/** How `job`'s run failed with `error`, for the decision of its outcome (`decideRunOutcome`). */
export function failedRun(
  runtime: WorkerRuntime,
  entry: ResolvedHandler,
  job: JobInfo,
  error: Error,
  slot: number,
): FailedRun {
  return {
    kind: 'failed',
    error,
    attempt: job.attempt,
    stopping: runtime.shutdown.aborted,
    retryPolicy: () => retryPolicyOf(entry.retryStrategy, job, error, runtime.emit, logOf(job, slot)),
  };
}

/** The retry strategy's policy for this failure, or null for no retry. */
export function retryPolicyOf(
  strategy: RetryStrategy,
  job: JobInfo,
  error: Error,
  emit: EmitLog,
  jobLog: JobLog,
): RetryPolicy | null {
  try {
    const policy = typeof strategy === 'function' ? strategy(job, error) : strategy;
    if (policy === null || policy === undefined) return null;
    return validateRetryPolicy("the retry strategy's result", policy);
  } catch (strategyError) {
    // A broken strategy must not wedge the job in a retry loop: fail it, loudly.
    emit('retry-strategy-error', { ...jobLog, ...errorData(toError(strategyError)) });
    return null;
  }
}

/** Logs a job's outcome once it has been carried out: its event, with the job's context. */
export function logOutcome(emit: EmitLog, outcome: RunOutcome, jobLog: JobLog): void {
  emit(outcome.event, { ...jobLog, ...outcome.data });
}
