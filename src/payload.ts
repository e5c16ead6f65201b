import { InvalidNameError, InvalidPayloadError } from './errors.js';

const MAX_NAME_LENGTH = 200;

/** Job types and queue names are free text, but never empty, never padded, never huge. */
export function validateName(kind: 'job type' | 'queue', value: unknown): string {
  if (typeof value !== 'string') {
    throw new InvalidNameError(`${kind} must be a string; got ${typeof value}`);
  }
  if (value.trim() === '') {
    throw new InvalidNameError(`${kind} must not be empty`);
  }
  if (value !== value.trim()) {
    throw new InvalidNameError(`${kind} must not start or end with whitespace; got ${JSON.stringify(value)}`);
  }
  if (value.length > MAX_NAME_LENGTH) {
    throw new InvalidNameError(`${kind} must be at most ${MAX_NAME_LENGTH} characters; got ${value.length}`);
  }
  if (value.includes('\u0000')) {
    throw new InvalidNameError(`${kind} must not contain NUL characters`);
  }
  return value;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text made safe for jsonb by replacement, for what we must store whatever it
 * holds (error messages and stacks): NUL is escaped, lone surrogates become U+FFFD.
 */
export function toStorableText(text: string): string {
  return text.replaceAll('\u0000', '\\u0000').replace(new RegExp(LONE_SURROGATE.source, 'g'), '\uFFFD');
}

/** Why PostgreSQL's jsonb would refuse this text, or null when it is fine. */
function unstorableText(text: string): string | null {
  if (text.includes('\u0000')) return 'a NUL character';
  if (LONE_SURROGATE.test(text)) return 'a lone UTF-16 surrogate (not valid Unicode)';
  return null;
}

/**
 * Serializes a payload to the JSON text stored in the `payload` column.
 *
 * `JSON.stringify` alone quietly turns some values into something else
 * (functions vanish, `NaN` becomes `null`, a `Map` becomes `{}`) and throws
 * cryptic errors on others; a job queue must not change what the app handed
 * it, so each of those is refused here with the path of the offending value.
 * Plain JSON rules still apply: `undefined` properties are left out and
 * `undefined` array items become `null`; a `Date` becomes its ISO string.
 */
export function serializePayload(payload: unknown): string {
  if (payload === undefined) {
    throw new InvalidPayloadError('payload must not be undefined; pass null or an object instead');
  }
  const paths = new Map<object, string>();
  let json: string | undefined;
  try {
    json = JSON.stringify(payload, function replacer(this: unknown, key: string, value: unknown) {
      const parentPath = this !== null && typeof this === 'object' ? (paths.get(this) ?? '') : '';
      const path = key === '' ? '$' : `${parentPath || '$'}${Array.isArray(this) ? `[${key}]` : `.${key}`}`;
      const badKey = Array.isArray(this) ? null : unstorableText(key);
      if (badKey) throw new InvalidPayloadError(`payload has a key with ${badKey} at ${path}, which jsonb cannot store`);
      switch (typeof value) {
        case 'function':
        case 'symbol':
          throw new InvalidPayloadError(`payload contains a ${typeof value} at ${path}, which JSON cannot store`);
        case 'bigint':
          throw new InvalidPayloadError(
            `payload contains a BigInt at ${path}; convert it to a string or number first`,
          );
        case 'number':
          if (!Number.isFinite(value)) {
            throw new InvalidPayloadError(`payload contains ${value} at ${path}, which JSON cannot store`);
          }
          break;
        case 'string': {
          const bad = unstorableText(value);
          if (bad) throw new InvalidPayloadError(`payload contains ${bad} at ${path}, which jsonb cannot store`);
          break;
        }
        case 'object':
          if (value instanceof Map || value instanceof Set || value instanceof WeakMap || value instanceof WeakSet) {
            throw new InvalidPayloadError(
              `payload contains a ${value.constructor.name} at ${path}, which JSON would store as {}; convert it to an object or array`,
            );
          }
          // Remember where each object sits so nested errors can name their path.
          if (value !== null) paths.set(value, path);
          break;
      }
      return value;
    });
  } catch (error) {
    if (error instanceof InvalidPayloadError) throw error;
    if (error instanceof TypeError && /circular/i.test(error.message)) {
      throw new InvalidPayloadError(`payload is circular: ${error.message}`, { cause: error });
    }
    // e.g. a toJSON() that throws, or a structure deeper than the stack
    throw new InvalidPayloadError(`payload cannot be serialized to JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (json === undefined) {
    throw new InvalidPayloadError('payload serializes to nothing (undefined); pass null or an object instead');
  }
  return json;
}
