import type { Queryable } from '../types.js';
import { queryableRunning, type AdaptedDb } from './adapted.js';
import { resultOf } from './statement.js';

// postgres.js runs text with `$n` placeholders through `unsafe`. Values bound
// to a json or jsonb parameter would be JSON-encoded once more: Proletarian
// binds payloads as text and casts them in SQL, so they are stored as given.

interface PostgresJs {
  unsafe(query: string, parameters: unknown[]): PromiseLike<unknown[] & { count?: number }>;
  /** Only on the root `sql`, not on a transaction or a reserved connection. */
  begin?<T>(work: (tx: PostgresJs) => Promise<T>): Promise<T>;
}

export function isPostgresJs(db: object): boolean {
  return typeof db === 'function' && typeof (db as Partial<PostgresJs>).unsafe === 'function';
}

export function adaptPostgresJs(db: object): AdaptedDb {
  const sql = db as PostgresJs;
  const begin = sql.begin?.bind(sql);
  return {
    library: 'postgres.js',
    queryable: postgresJsQueryable(sql),
    transaction:
      begin ? (work) => begin((tx) => work(postgresJsQueryable(tx))) : null,
  };
}

function postgresJsQueryable(sql: PostgresJs): Queryable {
  return queryableRunning(async ({ text, values }) => {
    const rows = await sql.unsafe(text, [...values]);
    return resultOf(rows, rows.count ?? rows.length);
  });
}
