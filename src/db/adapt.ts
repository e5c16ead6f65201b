import { InvalidOptionError } from '../errors.js';
import type { Queryable } from '../types.js';
import type { AdaptedDb } from './adapted.js';
import { adaptDrizzle, isDrizzle } from './drizzle.js';
import { adaptKnex, isKnex } from './knex.js';
import { adaptKysely, isKysely } from './kysely.js';
import { adaptPostgresJs, isPostgresJs } from './postgres-js.js';
import { adaptPrisma, isPrisma } from './prisma.js';

// The one place that tells which library an object passed as `db` comes
// from. The most specific shapes go first: knex's instance is a function
// with a `raw`, postgres.js's `sql` one with an `unsafe`, and pg's (or any
// wrapper of it) is whatever is left with a `query` method.

/** What the functions that take any supported library's object say they take. */
export const ANY_DB =
  'a pg.Pool, pg.Client or pg.PoolClient, or the instance or transaction of Kysely, Drizzle, knex, postgres.js or Prisma';

const ADAPTERS: readonly { is(db: object): boolean; adapt(db: object): AdaptedDb }[] = [
  { is: isKysely, adapt: adaptKysely },
  { is: isDrizzle, adapt: adaptDrizzle },
  { is: isKnex, adapt: adaptKnex },
  { is: isPostgresJs, adapt: adaptPostgresJs },
  { is: isPrisma, adapt: adaptPrisma },
];

/** `db` as Proletarian runs statements on it; throws naming `expected` when it is nothing it knows. */
export function adaptDb(db: unknown, expected: string = ANY_DB): AdaptedDb {
  if ((typeof db === 'object' && db !== null) || typeof db === 'function') {
    for (const adapter of ADAPTERS) if (adapter.is(db)) return adapter.adapt(db);
    if (isPgLike(db)) {
      if (isUnconnectedPgClient(db)) {
        throw new InvalidOptionError(
          'the pg.Client is not connected: call `await client.connect()` before passing it, or pass a pg.Pool',
        );
      }
      return { library: 'pg', queryable: db, transaction: null };
    }
  }
  throw new InvalidOptionError(`the first argument must be ${expected}`);
}

/** {@link adaptDb}'s queryable. */
export function queryableOf(db: unknown, expected: string = ANY_DB): Queryable {
  return adaptDb(db, expected).queryable;
}

/** A pg pool or client, or a wrapper of one: anything with pg's `query`. */
export function isPgLike(db: object): db is Queryable {
  return typeof (db as Partial<Queryable>).query === 'function';
}

/**
 * A `pg.Client` on which `connect()` was never called. pg queues its queries
 * until it connects, so anything run on it would wait forever; the flags are
 * pg's own (a pool, or a client of another driver, has neither).
 */
function isUnconnectedPgClient(db: object): boolean {
  const flags = db as { _connected?: unknown; _connecting?: unknown };
  return flags._connected === false && flags._connecting === false;
}
