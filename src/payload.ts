import { InvalidNameError, InvalidPayloadError } from './errors.js';

const MAX_NAME_LENGTH = 200;

/** Job types, queue and schedule names are free text, but never empty, never padded, never huge. */
export function validateName(kind: 'job type' | 'queue' | 'schedule name', value: unknown): string {
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
          if (value !== null && !Array.isArray(value) && isPollutingKey(value as Record<string, unknown>)) {
            throw new InvalidPayloadError(
              `payload has a "__proto__" key (or constructor.prototype) at ${path}; such keys can pollute ` +
                'object prototypes in code that merges payloads, so they are refused',
            );
          }
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

/** A payload object key that prototype-pollution attacks use. */
function isPollutingKey(object: Record<string, unknown>): boolean {
  if (Object.prototype.hasOwnProperty.call(object, '__proto__')) return true;
  const constructor = Object.prototype.hasOwnProperty.call(object, 'constructor') ? object['constructor'] : undefined;
  return constructor !== null && typeof constructor === 'object' && 'prototype' in constructor;
}

/**
 * Decodes a stored payload for a handler. `JSON.parse` itself never touches
 * prototypes, but handlers hand payloads to merge utilities that do, so keys
 * that could pollute (`__proto__`, `constructor.prototype`) are dropped. They
 * can only come from rows written by other means than `enqueue`, which
 * refuses them; the cheap text check keeps the common case a plain parse.
 */
export function decodePayload(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (!text.includes('__proto__') && !text.includes('"constructor"')) return value;
  return JSON.parse(text, function dropPollutingKeys(this: Record<string, unknown>, key: string, child: unknown) {
    if (key === '__proto__') return undefined;
    if (key === 'constructor' && child !== null && typeof child === 'object' && 'prototype' in child) return undefined;
    return child;
  });
}

/**
 * {@link decodePayload}, for a worker: a payload it cannot decode is the
 * job's failure (it will not decode any better on a retry), never the
 * batch's or the loop's.
 */
export function decodeStoredPayload(text: string): { payload: unknown } | { error: Error } {
  try {
    return { payload: decodePayload(text) };
  } catch (error) {
    return {
      error: new InvalidPayloadError(`the stored payload cannot be decoded: ${(error as Error).message}`, {
        cause: error,
      }),
    };
  }
}

/** Throws unless the serialized payload fits in `maxBytes`. */
export function requirePayloadSize(json: string, maxBytes: number | undefined): void {
  if (maxBytes === undefined) return;
  // Cheap bound first: a UTF-8 byte is at least one UTF-16 unit, at most three.
  if (json.length * 3 <= maxBytes) return;
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxBytes) {
    throw new InvalidPayloadError(`payload is ${bytes} bytes as JSON, more than maxPayloadBytes (${maxBytes})`);
  }
}
