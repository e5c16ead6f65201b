import { InvalidOptionError } from './errors.js';
import type { AnyJobInfo, JobInfo } from './types.js';
import {
  describeQuoted,
  finiteNumber,
  isObject,
  milliseconds,
  rejectUnknownKeys,
  requireObject,
  wholeNumber,
} from './validate.js';

/**
 * How often and how soon to retry a failed job, as in the original Proletarian:
 * a job runs at most `retries + 1` times; after failed attempt `k` it waits
 * `delays[k - 1]` milliseconds (counted from the failure), a shorter list
 * repeats its last delay, and an empty list means "retry at once".
 *
 * @example `{ retries: 4, delays: [1000, 5000] }` waits 1 s, 5 s, 5 s, 5 s, then fails for good.
 */
export interface RetryPolicy {
  retries: number;
  delays?: readonly number[];
}

/**
 * Decides, after a failed attempt, whether and when to retry. Either a fixed
 * {@link RetryPolicy} or a function of the job and its error; a function that
 * returns `null` or `undefined` means "do not retry".
 */
export type RetryStrategy<T extends string = string> = RetryPolicy | RetryStrategyFunction<T>;

/**
 * A retry strategy computed per failure; `null` or `undefined` means "do not
 * retry". A job type's own strategy sees its declared payload type.
 */
export type RetryStrategyFunction<T extends string = string> = (
  job: JobInfo<T>,
  error: Error,
) => RetryPolicy | null | undefined;

/**
 * The worker-wide retry strategy: a policy, or a function that sees a job
 * of any type ({@link AnyJobInfo}: with `JobPayloads` declared, checking
 * `jobType` narrows `payload`).
 */
export type WorkerRetryStrategy = RetryPolicy | ((job: AnyJobInfo, error: Error) => RetryPolicy | null | undefined);

/** Options of {@link exponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /** Retries after the first attempt. @defaultValue `5` */
  retries?: number;
  /** Delay before the first retry, in ms. @defaultValue `1000` */
  initialDelay?: number;
  /** Each delay is the previous one times this. @defaultValue `2` */
  factor?: number;
  /** No delay is longer than this, in ms. @defaultValue `3_600_000` (1 hour) */
  maxDelay?: number;
  /**
   * Spread each delay randomly over ±this fraction, so jobs that failed
   * together (an outage) do not all come back in the same instant.
   * @defaultValue `0.1`
   */
  jitter?: number;
}

/**
 * A retry strategy with delays growing exponentially:
 * `initialDelay × factor^(attempt-1)`, capped at `maxDelay`, jittered.
 * The default (5 retries: about 1 s, 2 s, 4 s, 8 s, 16 s) is also the worker's
 * default strategy.
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): (job: JobInfo, error: Error) => RetryPolicy {
  requireObject(options, 'exponentialBackoff: options must be an object { retries?, initialDelay?, ... }');
  rejectUnknownKeys(options, BACKOFF_OPTIONS, 'exponentialBackoff: unknown option');
  const retries = wholeNumber('exponentialBackoff: retries', options.retries ?? 5, 0);
  const initialDelay = milliseconds('exponentialBackoff: initialDelay', options.initialDelay ?? 1000, { min: 0 });
  const factor = finiteNumber('exponentialBackoff: factor', options.factor ?? 2, { min: 1 });
  const maxDelay = milliseconds('exponentialBackoff: maxDelay', options.maxDelay ?? 3_600_000, { min: 0 });
  const jitter = finiteNumber('exponentialBackoff: jitter', options.jitter ?? 0.1, { min: 0, max: 1 });
  return () => {
    const delays: number[] = [];
    for (let k = 0; k < retries; k++) {
      const base = Math.min(initialDelay * factor ** k, maxDelay);
      const spread = jitter === 0 ? 0 : base * jitter * (Math.random() * 2 - 1);
      delays.push(Math.round(Math.min(Math.max(base + spread, 0), maxDelay)));
    }
    return { retries, delays };
  };
}

const BACKOFF_OPTIONS = new Set(['retries', 'initialDelay', 'factor', 'maxDelay', 'jitter']);

/** The strategy used when neither the job type nor the worker names one. */
export const defaultRetryStrategy: RetryStrategy = exponentialBackoff();

/**
 * Milliseconds to wait after failed attempt `attempt` (1-based) under
 * `policy`, or `null` when the job has used up its retries.
 */
export function retryDelayFor(policy: RetryPolicy, attempt: number): number | null {
  if (attempt > policy.retries) return null;
  const delays = policy.delays ?? [];
  if (delays.length === 0) return 0;
  return delays[Math.min(attempt, delays.length) - 1] ?? 0;
}

/** Throws {@link InvalidOptionError} naming `where` unless `policy` is a well-formed {@link RetryPolicy}. */
export function validateRetryPolicy(where: string, policy: unknown): RetryPolicy {
  // Called for every result of a strategy function: the message is built only when needed.
  if (!isObject(policy)) {
    throw new InvalidOptionError(`${where} must be { retries, delays? }; got ${describeQuoted(policy)}`);
  }
  const { retries, delays } = policy;
  wholeNumber(`${where}.retries`, retries, 0);
  if (delays !== undefined) {
    if (!Array.isArray(delays)) {
      throw new InvalidOptionError(`${where}.delays must be an array of milliseconds; got ${describeQuoted(delays)}`);
    }
    delays.forEach((delay, index) => milliseconds(`${where}.delays[${index}]`, delay, { min: 0 }));
  }
  return policy as unknown as RetryPolicy; // checked field by field above
}

/** Throws unless `strategy` is a function or a well-formed policy. */
export function validateRetryStrategy(where: string, strategy: unknown): RetryStrategy {
  if (typeof strategy === 'function') return strategy as RetryStrategy;
  return validateRetryPolicy(where, strategy);
}
