import type pg from 'pg';
import type { Queryable } from '../types.js';
import { statementOf, type Statement } from './statement.js';

/** A library's object, made into what Proletarian runs its statements on. */
export interface AdaptedDb {
  /** Whose object it was: pg's own (or a wrapper of pg) get every call as is. */
  readonly library: 'pg' | 'kysely' | 'drizzle' | 'knex' | 'postgres.js' | 'prisma';
  /** Runs statements on the object's own connection: inside its transaction, when it is one. */
  readonly queryable: Queryable;
  /**
   * Runs `work` in a transaction of its own, begun and ended through the
   * library (an instance, which lends a connection for it); null for a
   * transaction, which belongs to its caller.
   */
  readonly transaction: (<T>(work: (db: Queryable) => Promise<T>) => Promise<T>) | null;
}

/** A Queryable that runs each statement with `run`. */
export function queryableRunning(run: (statement: Statement) => Promise<pg.QueryResult>): Queryable {
  const query = (query: string | pg.QueryConfig, values?: unknown[]) => run(statementOf(query, values));
  return { query: query as Queryable['query'] };
}

/**
 * The error a driver reported, when a library wrapped it (Drizzle): callers
 * look at its SQLSTATE `code`, as they do with pg's own errors.
 */
export function driverError(error: unknown): unknown {
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause instanceof Error && typeof (cause as { code?: unknown }).code === 'string' ? cause : error;
}
