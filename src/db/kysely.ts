import type { Queryable } from '../types.js';
import { queryableRunning, type AdaptedDb } from './adapted.js';
import { resultOf } from './statement.js';

// Kysely runs a compiled query as given: `executeQuery` takes the object
// `CompiledQuery.raw(sql, parameters)` would build, and runs it on the
// instance's pool or on the transaction's own connection.

interface RawCompiledQuery {
  readonly sql: string;
  readonly parameters: readonly unknown[];
  readonly query: { readonly kind: 'RawNode'; readonly sqlFragments: readonly string[]; readonly parameters: readonly [] };
  readonly queryId: { readonly queryId: string };
}

interface Kysely {
  executeQuery(query: RawCompiledQuery): Promise<{ rows: unknown[]; numAffectedRows?: bigint }>;
  readonly isTransaction: boolean;
  /** The same connection without plugins, which would rewrite result rows (CamelCasePlugin). */
  withoutPlugins?(): Kysely;
  transaction(): { execute<T>(work: (trx: Kysely) => Promise<T>): Promise<T> };
}

export function isKysely(db: object): boolean {
  const candidate = db as Partial<Kysely>;
  return typeof candidate.executeQuery === 'function' && typeof candidate.isTransaction === 'boolean';
}

let queryCount = 0;

export function adaptKysely(db: object): AdaptedDb {
  const kysely = db as Kysely;
  const plain = typeof kysely.withoutPlugins === 'function' ? kysely.withoutPlugins() : kysely;
  return {
    library: 'kysely',
    queryable: kyselyQueryable(plain),
    transaction: kysely.isTransaction
      ? null
      : (work) => plain.transaction().execute((trx) => work(kyselyQueryable(trx))),
  };
}

function kyselyQueryable(kysely: Kysely): Queryable {
  return queryableRunning(async ({ text, values }) => {
    const result = await kysely.executeQuery({
      sql: text,
      parameters: values,
      query: { kind: 'RawNode', sqlFragments: [text], parameters: [] },
      queryId: { queryId: `proletarian_${++queryCount}` },
    });
    const affected = result.numAffectedRows;
    return resultOf(result.rows, affected === undefined ? result.rows.length : Number(affected));
  });
}
