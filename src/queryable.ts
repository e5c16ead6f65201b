import { InvalidOptionError } from './errors.js';
import type { Queryable } from './types.js';

/** Throws a clear error unless `db` can run queries; `expected` names what the caller takes. */
export function requireQueryable(db: unknown, expected: string): asserts db is Queryable {
  if (db === null || typeof db !== 'object' || typeof (db as Queryable).query !== 'function') {
    throw new InvalidOptionError(`the first argument must be ${expected}`);
  }
}
