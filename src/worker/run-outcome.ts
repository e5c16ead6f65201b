import { AbandonedJobError, DiscardJobError, SnoozeJobError, type JobCancelledError } from '../errors.js';
import { errorData, type LogData, type LogEvent } from '../log.js';
import { retryDelayFor, type RetryPolicy } from '../retry.js';

// What becomes of a job once a run of it has ended, in either mode — in a
// batch's transaction or under a lease. It is decided here and nowhere else:
// the runners only carry the decision out (their SQL) and log it, so both
// modes treat a job alike and tell of it alike.
//
// A new way for a run to end is a new RunEnd; a new next state, a new
// RunOutcome. The runners switch over every outcome, so the compiler shows
// where each one has to be carried out.
//
// The handler's writes through ctx.db (transaction mode) are kept only when
// the outcome is `success`; every other outcome rolls them back.

/** How a claimed job's run ended, as its runner saw it. */
export type RunEnd = SucceededRun | FailedRun | UndecodableRun | AbandonedRuns | DiedClaim | CancelledRun;

/** The handler returned. */
export interface SucceededRun {
  readonly kind: 'succeeded';
}

/**
 * The handler threw, rejected or ran out of time. A {@link DiscardJobError}
 * or {@link SnoozeJobError} is the handler asking for that outcome.
 */
export interface FailedRun {
  readonly kind: 'failed';
  readonly error: Error;
  /** Which run this was: 1 on the first, `attempts + 1` in general. */
  readonly attempt: number;
  /** `stop()` had begun: the handler most likely gave up because of `ctx.signal`. */
  readonly stopping: boolean;
  /**
   * The retry strategy's answer to this failure: a policy, or null for no
   * retry. Called at most once, and only for a failure that counts: a
   * strategy may be the app's own function, and an interrupted run is none
   * of its business.
   */
  readonly retryPolicy: () => RetryPolicy | null;
}

/** The stored payload cannot be decoded; the handler did not run. */
export interface UndecodableRun {
  readonly kind: 'undecodable';
  readonly error: Error;
}

/**
 * Runs of the job died unfinished — the worker crashed or hung, its
 * connection or its lease was lost — `abandonedRuns` times, the one just
 * found included.
 */
export interface AbandonedRuns {
  readonly kind: 'abandoned';
  readonly abandonedRuns: number;
  readonly maxAbandonedRuns: number;
}

/**
 * Transaction mode: the job's last claim (transaction `abortedClaim`) died,
 * with its worker or only with its connection, and the job was not run (see
 * src/worker/earlier-claims.ts). `crashes` (0 or 1) is the verdict on the
 * claim it kept before; `abandonedRuns` counts it. `verdictInMs`: how long
 * the job waits for the verdict on this claim, or null to run again at once.
 */
export interface DiedClaim {
  readonly kind: 'claim-died';
  readonly abortedClaim: string;
  readonly crashes: number;
  readonly abandonedRuns: number;
  readonly verdictInMs: number | null;
}

/**
 * `cancelJob` asked for the job while it was claimed, however its handler
 * ended: before the handler started (it did not run), while it ran (its
 * `ctx.signal` was aborted with `reason`), or after its outcome was decided
 * (the runner found the request in the database before carrying that out).
 * `writesKept`: the handler succeeded and its writes through `ctx.db` already
 * stand in the batch's transaction, where they cannot be undone on their own.
 */
export interface CancelledRun {
  readonly kind: 'cancelled';
  readonly reason: JobCancelledError;
  readonly writesKept: boolean;
}

/** The run that ended well; shared, since it carries nothing of its own. */
export const SUCCEEDED: SucceededRun = Object.freeze({ kind: 'succeeded' });

/** What becomes of the job, and the event that tells of it once that is done. */
export type RunOutcome =
  | Success
  | Retry
  | Failure
  | SetAside
  | Recovered
  | ClaimKept
  | Interrupted
  | Snoozed
  | Discarded
  | Cancelled;

interface Decided<Kind extends string, Event extends LogEvent> {
  readonly kind: Kind;
  /** Logged once the outcome is carried out (after the commit, in transaction mode). */
  readonly event: Event;
  /** The event's data besides the job's context; the same in both modes (see `LOG_EVENTS`). */
  readonly data: LogData;
}

/** Archive the job as `success`. */
export type Success = Decided<'success', 'job-succeeded'>;

/** Count the failed attempt, keep its error in `last_error`, and make the job due again in `delayMs`. */
export type Retry = Decided<'retry', 'job-retry-scheduled'> & { readonly error: Error; readonly delayMs: number };

/** Archive the job as `failure` with `error`; `onFailedJob` runs with the archiving. */
export type Failure = Decided<'failure', 'job-failed'> & { readonly error: Error };

/**
 * The job's runs kept dying: archive it as `failure` with an
 * {@link AbandonedJobError} instead of running it again; `onFailedJob` runs
 * with the archiving.
 */
export type SetAside = Decided<'set-aside', 'job-set-aside'> & {
  readonly error: AbandonedJobError;
  readonly abandonedRuns: number;
};

/** Count the abandoned run; the job runs again — alone, since it may be what kills its workers. */
export type Recovered = Decided<'recovered', 'job-recovered'> & { readonly abandonedRuns: number };

/**
 * Keep the died claim on the job for a later verdict, count the verdict on
 * the one kept before (`crashes`), and make the job due again in `delayMs`
 * (null: at once). Told as `job-recovered` when that verdict was a crash.
 */
export type ClaimKept = Decided<'claim-kept', 'job-claim-died' | 'job-recovered'> & {
  readonly abortedClaim: string;
  readonly crashes: number;
  readonly delayMs: number | null;
};

/** Leave the job queued as it was, due at once, with no attempt counted: a shutdown is not the job's fault. */
export type Interrupted = Decided<'interrupted', 'job-interrupted'> & { readonly error: Error };

/** Make the job due again in `delayMs`, with no attempt counted and `last_error` unchanged: its handler asked to be snoozed. */
export type Snoozed = Decided<'snooze', 'job-snoozed'> & { readonly delayMs: number };

/** Archive the job as `discarded` with `error`, no retry: its handler said it can never succeed. `onFailedJob` runs with the archiving. */
export type Discarded = Decided<'discarded', 'job-discarded'> & { readonly error: DiscardJobError };

/** Archive the job as `cancelled`, no retry, `last_error` unchanged: `cancelJob` asked for it. */
export type Cancelled = Decided<'cancelled', 'job-cancelled'> & { readonly reason: JobCancelledError };

const SUCCESS: Success = Object.freeze({ kind: 'success', event: 'job-succeeded', data: Object.freeze({}) });

/**
 * Decides what becomes of a job whose run ended as `end`. Pure: it writes
 * and logs nothing, and consults nothing but `end` (the retry strategy
 * included, through `end.retryPolicy`). A success allocates nothing.
 */
export function decideRunOutcome(end: RunEnd): RunOutcome {
  switch (end.kind) {
    case 'succeeded':
      return SUCCESS;
    case 'failed':
      return afterFailure(end);
    case 'undecodable':
      // It will not decode any better on a retry.
      return failure(end.error);
    case 'abandoned':
      return afterAbandonedRuns(end);
    case 'claim-died': {
      const { abortedClaim, crashes, abandonedRuns, verdictInMs } = end;
      const event = crashes > 0 ? 'job-recovered' : 'job-claim-died';
      const data = { abandonedRuns, verdictInMs: verdictInMs ?? 0 };
      return { kind: 'claim-kept', abortedClaim, crashes, delayMs: verdictInMs, event, data };
    }
    case 'cancelled':
      // Writes that already stand can only be undone with the whole batch's:
      // the request came too late, and the run stands as it ended.
      if (end.writesKept) return SUCCESS;
      return { kind: 'cancelled', reason: end.reason, event: 'job-cancelled', data: {} };
  }
}

/** Whether the job ended without success for good: archived as `failure` or `discarded`, with `onFailedJob` to run. */
export function failedForGood(outcome: RunOutcome): outcome is Failure | SetAside | Discarded {
  return outcome.kind === 'failure' || outcome.kind === 'set-aside' || outcome.kind === 'discarded';
}

/**
 * Whether, before carrying `outcome` out, the runner must look in the
 * database for a cancel request it has not heard of. Requests are announced
 * to the worker's listening connection; `listening` says whether it listened
 * for the whole run. When it did, only a success goes unchecked: the hot
 * path stays free, and a request that missed a success came as the run was
 * completing anyway. Every other outcome is rare enough to pay one query per
 * batch, and a job put back on the queue must not outlive its cancellation.
 */
export function mustLookForCancel(outcome: RunOutcome, listening: boolean): boolean {
  return outcome.kind !== 'cancelled' && (!listening || outcome.kind !== 'success');
}

function afterFailure({ error, attempt, stopping, retryPolicy }: FailedRun): RunOutcome {
  // The handler's own requests, whether or not the worker is stopping.
  if (error instanceof DiscardJobError) return { kind: 'discarded', error, event: 'job-discarded', data: errorData(error) };
  if (error instanceof SnoozeJobError) {
    const { delayMs } = error;
    return { kind: 'snooze', delayMs, event: 'job-snoozed', data: { delayMs } };
  }
  if (stopping) return { kind: 'interrupted', error, event: 'job-interrupted', data: errorData(error) };
  const policy = retryPolicy();
  const delayMs = policy === null ? null : retryDelayFor(policy, attempt);
  if (delayMs === null) return failure(error);
  return { kind: 'retry', error, delayMs, event: 'job-retry-scheduled', data: { delayMs, ...errorData(error) } };
}

function afterAbandonedRuns({ abandonedRuns, maxAbandonedRuns }: AbandonedRuns): RunOutcome {
  if (abandonedRuns < maxAbandonedRuns) {
    return { kind: 'recovered', abandonedRuns, event: 'job-recovered', data: { abandonedRuns } };
  }
  const error = new AbandonedJobError(abandonedRuns, maxAbandonedRuns);
  const data = { abandonedRuns, ...errorData(error) };
  return { kind: 'set-aside', error, abandonedRuns, event: 'job-set-aside', data };
}

function failure(error: Error): Failure {
  return { kind: 'failure', error, event: 'job-failed', data: errorData(error) };
}
