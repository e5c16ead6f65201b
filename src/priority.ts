import { InvalidOptionError } from './errors.js';

// A job's priority: a smallint, lower runs first, 0 by default (as in
// graphile-worker, River and Oban).

/** The most urgent priority. */
export const MIN_PRIORITY = -32768;
/** The least urgent priority. */
export const MAX_PRIORITY = 32767;
/** The priority of a job enqueued without one. */
export const DEFAULT_PRIORITY = 0;

/** `value` as a priority, or a clear error naming the allowed range. */
export function validPriority(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_PRIORITY || value > MAX_PRIORITY) {
    throw new InvalidOptionError(
      `priority must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} (lower runs first); got ${describe(value)}`,
    );
  }
  return value;
}

function describe(value: unknown): string {
  return typeof value === 'number' || typeof value === 'bigint' ? String(value) : typeof value === 'string' ? JSON.stringify(value) : typeof value;
}
