import { InvalidOptionError } from '../errors.js';
import type { Queryable } from '../types.js';
import { queryableRunning, type AdaptedDb } from './adapted.js';
import { resultOf, type Statement } from './statement.js';

// knex's `raw` takes `?` placeholders, in order, and turns them into pg's
// `$n` itself; a `?` meant literally is written `\?`.

interface Knex {
  raw(sql: string, bindings: readonly unknown[]): PromiseLike<unknown>;
  readonly client: { readonly dialect?: unknown };
  transaction<T>(work: (trx: Knex) => Promise<T>): Promise<T>;
  /** True on a transaction. */
  readonly isTransaction?: boolean;
}

export function isKnex(db: object): boolean {
  const candidate = db as Partial<Knex>;
  return (
    typeof db === 'function' &&
    typeof candidate.raw === 'function' &&
    typeof candidate.transaction === 'function' &&
    typeof candidate.client === 'object' &&
    candidate.client !== null
  );
}

export function adaptKnex(db: object): AdaptedDb {
  const knex = db as Knex;
  if (knex.client.dialect !== 'postgresql') {
    throw new InvalidOptionError(`knex must use its PostgreSQL client ('pg'), not ${String(knex.client.dialect)}`);
  }
  return {
    library: 'knex',
    queryable: knexQueryable(knex),
    transaction: knex.isTransaction === true ? null : (work) => knex.transaction((trx) => work(knexQueryable(trx))),
  };
}

function knexQueryable(knex: Knex): Queryable {
  return queryableRunning(async (statement) => {
    const { sql, bindings } = toKnexRaw(statement);
    const result = (await knex.raw(sql, bindings)) as { rows: unknown[]; rowCount: number | null };
    return resultOf(result.rows, result.rowCount);
  });
}

/**
 * `$n` placeholders as knex's `?`, with the values in the order they appear
 * (a `$n` used twice binds its value twice). Statements without values may
 * hold `$` of their own (dollar quoting), and are left as they are.
 */
export function toKnexRaw({ text, values }: Statement): { sql: string; bindings: unknown[] } {
  const bindings: unknown[] = [];
  const placeholder = values.length > 0 ? /\$(\d+)|\?/g : /\?/g;
  const sql = text.replace(placeholder, (match: string, index: string | undefined) => {
    if (index === undefined) return '\\?';
    bindings.push(values[Number(index) - 1]);
    return '?';
  });
  return { sql, bindings };
}
