import { JobCancelledError, JobTimeoutError, toError } from '../errors.js';
import { errorData, type EmitLog, type LogData } from '../log.js';
import { validateRetryPolicy, type RetryPolicy, type RetryStrategy } from '../retry.js';
import { decodeStoredPayload } from '../payload.js';
import type { JobRow } from '../sql/jobs.js';
import type { JobContext, JobDb, JobInfo } from '../types.js';
import type { ResolvedHandler } from './options.js';
import { SUCCEEDED, type CancelledRun, type FailedRun, type RunEnd, type RunOutcome } from './run-outcome.js';
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

const RETURNED: HandlerOutcome = Object.freeze({});

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
  if (!isThenable(returned)) return RETURNED;
  return Promise.resolve(returned).then(
    () => RETURNED,
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
 * A job's `ctx.signal` and time limit: `expired` settles with a
 * {@link JobTimeoutError} when the limit runs out, and the signal aborts
 * then, at shutdown, or when `abort` is called (a lost lease, a cancel
 * request), whichever comes first. Without a time limit the signal is made
 * only when the handler first reads it: most handlers never do, and an
 * `AbortController` per job would cost them.
 */
export class RunSignal {
  readonly jobId: string;
  readonly expired: Promise<JobTimeoutError> | null;
  readonly #shutdown: AbortSignal;
  #controller: AbortController | null = null;
  #signal: AbortSignal | null = null;
  #reason: Error | null = null;
  #unlink: (() => void) | null = null;
  #timer: NodeJS.Timeout | undefined;

  constructor(jobId: string, jobType: string, timeoutMs: number | null, shutdown: AbortSignal) {
    this.jobId = jobId;
    this.#shutdown = shutdown;
    if (timeoutMs === null) {
      this.expired = null;
      return;
    }
    const controller = this.#make();
    this.expired = new Promise<JobTimeoutError>((resolve) => {
      this.#timer = setTimeout(() => {
        const error = new JobTimeoutError(jobType, timeoutMs);
        controller.abort(error);
        resolve(error);
      }, timeoutMs);
    });
  }

  get signal(): AbortSignal {
    if (!this.#signal) this.#make();
    return this.#signal!;
  }

  abort(reason: Error): void {
    if (this.#controller) this.#controller.abort(reason);
    else this.#reason ??= reason;
  }

  /** The run has ended: no timer, and nothing of it left listening to the shutdown. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#unlink?.();
  }

  #make(): AbortController {
    const controller = new AbortController();
    this.#controller = controller;
    if (this.#reason) controller.abort(this.#reason);
    const shutdown = this.#shutdown;
    if (typeof AbortSignal.any === 'function') {
      // Follows the shutdown even after the job, as the shared signal did,
      // without a listener per job piling up on it (it holds its dependants weakly).
      this.#signal = AbortSignal.any([controller.signal, shutdown]);
    } else {
      const onShutdown = () => controller.abort(shutdown.reason);
      if (shutdown.aborted) onShutdown();
      else shutdown.addEventListener('abort', onShutdown, { once: true });
      this.#unlink = () => shutdown.removeEventListener('abort', onShutdown);
      this.#signal = controller.signal;
    }
    return controller;
  }
}

/**
 * A handler's `ctx`. `run` is the job's signal when it was made at the
 * start (it has a time limit, or runs under a lease); null leaves it to be
 * made when the handler first reads `ctx.signal`, through the worker's
 * cancel registry so that a cancellation reaches it.
 */
export function jobContext(
  runtime: WorkerRuntime,
  job: JobInfo,
  db: JobDb,
  slot: number,
  run: RunSignal | null = null,
): JobContext {
  return new RunContext(runtime, job, db, slot, run);
}

/**
 * A handler's `ctx`. A class, so that every job's context shares its shape
 * and its lazy getters: this runs for every job, and most handlers read
 * neither `signal` nor `log`.
 */
class RunContext implements JobContext {
  readonly jobId: string;
  readonly jobType: string;
  readonly queue: string;
  readonly payload: unknown;
  readonly attempt: number;
  readonly enqueuedAt: Date;
  readonly processAt: Date;
  readonly priority: number;
  readonly db: JobDb;
  readonly #runtime: WorkerRuntime;
  readonly #slot: number;
  #run: RunSignal | null;
  #log: ((message: string, data?: LogData) => void) | null = null;

  constructor(runtime: WorkerRuntime, job: JobInfo, db: JobDb, slot: number, run: RunSignal | null) {
    this.jobId = job.jobId;
    this.jobType = job.jobType;
    this.queue = job.queue;
    this.payload = job.payload;
    this.attempt = job.attempt;
    this.enqueuedAt = job.enqueuedAt;
    this.processAt = job.processAt;
    this.priority = job.priority;
    this.db = db;
    this.#runtime = runtime;
    this.#slot = slot;
    this.#run = run;
  }

  get signal(): AbortSignal {
    if (this.#run === null) {
      const run = new RunSignal(this.jobId, this.jobType, null, this.#runtime.shutdown);
      this.#run = run;
      this.#runtime.cancels.made(this.#slot, run);
    }
    return this.#run.signal;
  }

  /** A function, not a method: handlers pass `ctx.log` around on its own. */
  get log(): (message: string, data?: LogData) => void {
    if (this.#log === null) {
      const { emit } = this.#runtime;
      const context = { slot: this.#slot, jobId: this.jobId, jobType: this.jobType, attempt: this.attempt };
      this.#log = (message, data = {}) => emit('job-log', { ...context, ...data, message });
    }
    return this.#log;
  }
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

/** How a run ended whose handler threw `error`, or returned when there is none, or that was cancelled meanwhile. */
export function runEndOf(
  runtime: WorkerRuntime,
  entry: ResolvedHandler,
  job: JobInfo,
  error: Error | undefined,
  slot: number,
): RunEnd {
  if (runtime.cancels.requested(slot, job.jobId)) return cancelledRun(job.jobId, false);
  return error ? failedRun(runtime, entry, job, error, slot) : SUCCEEDED;
}

/** A run `cancelJob` asked for; see {@link CancelledRun}. */
export function cancelledRun(jobId: string, writesKept: boolean): CancelledRun {
  return { kind: 'cancelled', reason: new JobCancelledError(jobId), writesKept };
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
