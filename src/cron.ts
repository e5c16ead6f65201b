import { Cron } from 'croner';
import { InvalidOptionError } from './errors.js';
import { describeQuoted } from './validate.js';

/** The zone schedules use when none is named. */
export const DEFAULT_TIMEZONE = 'UTC';

/**
 * When a cron expression's slots fall, as instants: 5 fields (minute
 * precision) or 6 (a leading seconds field), read in an IANA time zone.
 * Parsing and the calendar, DST included, are croner's: a time that does not
 * exist (spring forward) runs at the first valid time after the gap for a
 * fixed-time expression and is skipped by an interval one; a time that occurs
 * twice (fall back) runs once for a fixed-time expression, on both
 * occurrences for an interval one — as in Vixie cron.
 */
export interface CronSlots {
  readonly cron: string;
  readonly timezone: string;
  /** The first slot strictly after `after`, or null when none is left. */
  next(after: Date): Date | null;
  /** The slots in (`after`, `until`], in order, at most `limit` of them. */
  between(after: Date, until: Date, limit: number): Date[];
}

/**
 * Parses `cron` in `timezone`; throws an {@link InvalidOptionError} that
 * starts with `option` when either is invalid or the expression has no slot
 * left (`0 0 30 2 *`).
 */
export function cronSlots(option: string, cron: unknown, timezone: unknown = DEFAULT_TIMEZONE): CronSlots {
  if (typeof cron !== 'string' || cron.trim() === '') {
    throw new InvalidOptionError(
      `${option}.cron must be a cron expression such as '0 3 * * *' (5 fields, or 6 with seconds first); got ${describeQuoted(cron)}`,
    );
  }
  const zone = validTimezone(`${option}.timezone`, timezone);
  let pattern: Cron;
  try {
    // Without a function croner schedules nothing: it only computes.
    pattern = new Cron(cron, { timezone: zone, mode: '5-or-6-parts' });
  } catch (error) {
    throw new InvalidOptionError(`${option}.cron ${JSON.stringify(cron)} is invalid: ${reason(error)}`, { cause: error });
  }
  const next = (after: Date): Date | null => pattern.nextRun(after);
  if (next(new Date()) === null) {
    throw new InvalidOptionError(`${option}.cron ${JSON.stringify(cron)} never matches a time from now on`);
  }
  return {
    cron,
    timezone: zone,
    next,
    between(after, until, limit) {
      const slots: Date[] = [];
      let slot = next(after);
      while (slot !== null && slot.getTime() <= until.getTime() && slots.length < limit) {
        slots.push(slot);
        slot = next(slot);
      }
      return slots;
    },
  };
}

/** An IANA time zone name that this runtime knows, such as `'Europe/Oslo'`. */
function validTimezone(option: string, timezone: unknown): string {
  if (typeof timezone === 'string' && timezone !== '') {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
      return timezone;
    } catch {
      // reported below
    }
  }
  throw new InvalidOptionError(`${option} must be an IANA time zone such as 'Europe/Oslo' or 'UTC'; got ${describeQuoted(timezone)}`);
}

/** croner's message without its "CronPattern: " prefix. */
function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/^CronPattern:\s*/, '');
}
