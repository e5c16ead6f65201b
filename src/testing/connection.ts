import type pg from 'pg';
import { InvalidOptionError } from '../errors.js';

// How the test helpers use the database they are given: a pool lends a
// connection for the call; a client is used as it is, inside the test's own
// transaction when one is open.

/** What the test helpers accept: a pool, or a client — perhaps inside the test's transaction. */
export type TestDb = pg.Pool | pg.ClientBase;

function isPool(db: TestDb): db is pg.Pool {
  return typeof (db as Partial<pg.Pool>).totalCount === 'number';
}

export function requireTestDb(db: unknown, caller: string): asserts db is TestDb {
  const candidate = db as Partial<Record<'query' | 'connect', unknown>> | null;
  if (candidate === null || typeof candidate !== 'object' || typeof candidate.query !== 'function') {
    throw new InvalidOptionError(`${caller} needs a pg.Pool, pg.Client or pg.PoolClient as its first argument`);
  }
}

/** Runs `body` on a client of `db`: a pool's connection, released after, or the client itself. */
export async function withClient<T>(db: TestDb, body: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  if (!isPool(db)) return body(db);
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    return await body(client);
  } catch (error) {
    broken = error instanceof Error ? error : undefined;
    throw error;
  } finally {
    client.release(broken);
  }
}

const SAVEPOINT = 'proletarian_testing';
const NO_ACTIVE_SQL_TRANSACTION = '25P01';

/**
 * Runs `body` in a transaction on `client`: under a savepoint inside the
 * test's transaction when one is open (its writes then stay the test's, to
 * roll back), else in a transaction of its own. `keep` false undoes
 * everything `body` wrote either way.
 */
export async function inTransaction<T>(client: pg.ClientBase, keep: boolean, body: () => Promise<T>): Promise<T> {
  let own = false;
  try {
    await client.query(`SAVEPOINT ${SAVEPOINT}`);
  } catch (error) {
    // Outside a transaction block: the failed SAVEPOINT changed nothing.
    if ((error as { code?: unknown }).code !== NO_ACTIVE_SQL_TRANSACTION) throw error;
    own = true;
    await client.query('BEGIN');
  }
  const undo = own ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`;
  let result: T;
  try {
    result = await body();
  } catch (error) {
    await client.query(undo).catch(() => {});
    throw error;
  }
  await client.query(keep ? (own ? 'COMMIT' : `RELEASE SAVEPOINT ${SAVEPOINT}`) : undo);
  return result;
}
