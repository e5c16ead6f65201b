import type { Queryable } from '../types.js';
import { driverError, queryableRunning, type AdaptedDb } from './adapted.js';
import { asText, resultOf } from './statement.js';

// Drizzle's `execute` takes any SQLWrapper: an object whose SQL turns into
// the text and parameters to send (`toQuery`). Given them ready-made, it runs
// them through its session — the pool's, or the transaction's connection.
// Dates and arrays go as text: the postgres-js driver sends timestamps as
// given, which postgres.js cannot encode unless they are text already.

interface ReadyQuery {
  getSQL(): { toQuery(): { sql: string; params: unknown[] } };
}

interface Drizzle {
  execute(query: ReadyQuery): PromiseLike<unknown>;
  transaction<T>(work: (tx: Drizzle) => Promise<T>): Promise<T>;
  select(): unknown;
  /** Only on a transaction. */
  rollback?(): never;
}

export function isDrizzle(db: object): boolean {
  const candidate = db as Partial<Drizzle>;
  return (
    typeof candidate.execute === 'function' &&
    typeof candidate.transaction === 'function' &&
    typeof candidate.select === 'function'
  );
}

export function adaptDrizzle(db: object): AdaptedDb {
  const drizzle = db as Drizzle;
  return {
    library: 'drizzle',
    queryable: drizzleQueryable(drizzle),
    transaction:
      typeof drizzle.rollback === 'function'
        ? null
        : (work) => drizzle.transaction((tx) => work(drizzleQueryable(tx))),
  };
}

function drizzleQueryable(drizzle: Drizzle): Queryable {
  return queryableRunning(async ({ text, values }) => {
    const query = { sql: text, params: values.map(asText) };
    let result: unknown;
    try {
      result = await drizzle.execute({ getSQL: () => ({ toQuery: () => query }) });
    } catch (error) {
      throw driverError(error);
    }
    // node-postgres answers with pg's result; postgres-js with an array of rows that has a count.
    if (Array.isArray(result)) return resultOf(result, (result as { count?: number }).count ?? result.length);
    const { rows, rowCount } = result as { rows: unknown[]; rowCount: number | null };
    return resultOf(rows, rowCount);
  });
}
