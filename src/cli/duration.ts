import { InvalidOptionError } from '../errors.js';

// Durations on the command line always carry a unit. A bare number would have
// to mean some unit, and any choice surprises someone: `--older-than 1` read
// as milliseconds once deleted a whole archive.

const UNITS = {
  ms: { ms: 1, name: 'millisecond' },
  s: { ms: 1_000, name: 'second' },
  m: { ms: 60_000, name: 'minute' },
  h: { ms: 3_600_000, name: 'hour' },
  d: { ms: 86_400_000, name: 'day' },
  w: { ms: 7 * 86_400_000, name: 'week' },
} as const;

type Unit = keyof typeof UNITS;

const UNIT_LIST = 'd (days), h (hours), m (minutes), s (seconds), w (weeks) or ms';

/**
 * A duration such as `30d`, `12h`, `90m`, `45s`, `2w` or `500ms`, in
 * milliseconds: a whole number and a unit, nothing else. `flag` names the
 * option in the error, e.g. `'--older-than'`.
 */
export function parseDuration(flag: string, text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    throw new InvalidOptionError(
      `${flag} needs a unit: ${trimmed}d (days), ${trimmed}h (hours), ${trimmed}m (minutes) or ${trimmed}s (seconds); ` +
        `a bare number is refused, since it could mean any of them. Got ${JSON.stringify(text)}`,
    );
  }
  const match = /^(\d+)(ms|s|m|h|d|w)$/.exec(trimmed);
  if (!match) {
    throw new InvalidOptionError(
      `${flag} must be a whole number with a unit, ${UNIT_LIST}, e.g. 30d or 90m; got ${JSON.stringify(text)}`,
    );
  }
  const ms = Number(match[1]) * UNITS[match[2] as Unit].ms;
  if (!Number.isSafeInteger(ms)) throw new InvalidOptionError(`${flag} is too long; got ${JSON.stringify(text)}`);
  return ms;
}

/** A duration in words, in the largest unit that divides it: `30 days`, `90 minutes`, `1 second`. */
export function formatDuration(ms: number): string {
  const units = (Object.keys(UNITS) as Unit[]).reverse();
  const unit = units.find((u) => ms !== 0 && ms % UNITS[u].ms === 0) ?? 'ms';
  const count = ms / UNITS[unit].ms;
  return `${count} ${UNITS[unit].name}${count === 1 ? '' : 's'}`;
}
