import { InvalidOptionError } from './errors.js';

// The checks of what an app passes in: options of createWorker, enqueue,
// prune, migrate, the retry helpers and stop. Each throws an
// InvalidOptionError that names the option, says what it must be and shows
// what it got, and returns the value typed, so a caller checks and assigns in
// one step.

/** Bounds of a number; `above` is exclusive, the others inclusive. */
export interface NumberBounds {
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
  /** `max` in words, for the message, e.g. `'100 years'`. */
  readonly maxInWords?: string;
}

/** A value as the `got …` of an error message shows it. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'function') return 'a function';
  if (value === null || typeof value !== 'object' || value instanceof Date) return String(value);
  try {
    const json = JSON.stringify(value);
    return json.length > 200 ? `${json.slice(0, 200)}…` : json;
  } catch {
    return String(value);
  }
}

/**
 * {@link describe}, with a string in quotes: for checks that expect a name or
 * an object, where a bare string would read as part of the sentence.
 */
export function describeQuoted(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : describe(value);
}

/** Whether `value` is an object that can hold options: not null, not an array. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Throws `message` unless `value` {@link isObject}. */
export function requireObject(value: unknown, message: string): asserts value is Record<string, unknown> {
  if (!isObject(value)) throw new InvalidOptionError(message);
}

/**
 * Throws for the first key of `options` that is not in `known`, naming it
 * and listing the known ones: a misspelt option (`procesIn`) would otherwise
 * be ignored without a word. `unknownLabel` begins the message, e.g.
 * `'unknown worker option'`.
 */
export function rejectUnknownKeys(options: object, known: ReadonlySet<string>, unknownLabel: string): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new InvalidOptionError(`${unknownLabel} "${key}"; known options: ${[...known].join(', ')}`);
    }
  }
}

/** A safe integer of at least `min`; `note` adds what else is allowed, e.g. `'or Infinity, the default'`. */
export function wholeNumber(option: string, value: unknown, min: number, note = ''): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidOptionError(`${option} must be a whole number ≥ ${min}${noted(note)}; got ${describe(value)}`);
  }
  return value;
}

/** A finite number within `bounds`. */
export function finiteNumber(option: string, value: unknown, bounds: NumberBounds = {}): number {
  return checkedNumber(option, value, bounds, '');
}

/** A finite number of milliseconds within `bounds`: a delay, a timeout, an interval. */
export function milliseconds(option: string, value: unknown, bounds: NumberBounds = {}): number {
  return checkedNumber(option, value, bounds, ' of milliseconds');
}

function checkedNumber(option: string, value: unknown, bounds: NumberBounds, unit: string): number {
  const { min, above, max, maxInWords } = bounds;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (min !== undefined && value < min) ||
    (above !== undefined && value <= above)
  ) {
    const lower = above !== undefined ? ` > ${above}` : min !== undefined ? ` ≥ ${min}` : '';
    const kind = lower ? 'a number' : 'a finite number';
    throw new InvalidOptionError(`${option} must be ${kind}${unit}${lower}; got ${describe(value)}`);
  }
  if (max !== undefined && value > max) {
    const limit = maxInWords ? `${maxInWords} (${max}${unit ? ' ms' : ''})` : `${max}${unit ? ' ms' : ''}`;
    throw new InvalidOptionError(`${option} must be at most ${limit}; got ${value}`);
  }
  return value;
}

/** `value`, a boolean, or `defaultValue` when it is left out. */
export function optionalBoolean(option: string, value: unknown, defaultValue: boolean): boolean {
  if (value === undefined) return defaultValue;
  if (typeof value !== 'boolean') {
    throw new InvalidOptionError(`${option} must be true or false; got ${describe(value)}`);
  }
  return value;
}

/** `value`, a function, or null when it is left out. */
export function optionalFunction<F>(option: string, value: F | undefined): F | null {
  if (value === undefined) return null;
  if (typeof value !== 'function') throw new InvalidOptionError(`${option} must be a function; got ${typeof value}`);
  return value;
}

/** One of `allowed`; `note` adds what leaving it out means, e.g. `'or left out for both'`. */
export function oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[], note = ''): T {
  if (!allowed.includes(value as T)) {
    const choices = allowed.map((choice) => `'${choice}'`);
    const list = choices.length > 1 ? `${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}` : choices.join('');
    throw new InvalidOptionError(`${option} must be ${list}${noted(note)}; got ${describe(value)}`);
  }
  return value as T;
}

/** A `Date` that holds a time (not `Invalid Date`). */
export function validDate(option: string, value: unknown): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new InvalidOptionError(`${option} must be a valid Date; got ${describe(value)}`);
  }
  return value;
}

/** An `AbortSignal`, or null when it is left out. */
export function optionalAbortSignal(option: string, value: unknown): AbortSignal | null {
  if (value === undefined) return null;
  if (!(value instanceof AbortSignal)) {
    throw new InvalidOptionError(`${option} must be an AbortSignal; got ${describe(value)}`);
  }
  return value;
}

function noted(note: string): string {
  return note ? ` (${note})` : '';
}

// Plain lower-case identifiers only: they need no quoting in hand-written SQL,
// fold the same way everywhere, and leave no room for injection.
const SQL_IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/** A plain lower-case SQL identifier of at most `maxLength` characters. */
export function sqlIdentifier(option: string, value: unknown, maxLength: number): string {
  if (typeof value !== 'string' || !SQL_IDENTIFIER.test(value) || value.length > maxLength) {
    throw new InvalidOptionError(
      `${option} must be a lower-case SQL identifier (letters a-z, digits and _, not starting with a digit, ` +
        `at most ${maxLength} characters); got ${describeQuoted(value)}`,
    );
  }
  return value;
}
