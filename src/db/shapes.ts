import type { Queryable } from '../types.js';

// The libraries' objects as Proletarian sees them: only the members it
// calls, typed loosely enough (parameters as `never`) that the real classes of
// every version in the tested range are assignable, without importing any of
// them. Which one an object is gets decided at run time, in ./adapt.ts.

/** A Kysely instance or transaction (`db`, or `trx` in `db.transaction().execute(...)`), pg dialect. */
export interface KyselyDb {
  executeQuery(query: never, ...rest: never[]): PromiseLike<{ rows: unknown[] }>;
  readonly isTransaction: boolean;
}

/** A Drizzle database or transaction, node-postgres or postgres-js driver. */
export interface DrizzleDb {
  execute(query: never): PromiseLike<unknown>;
  transaction(transaction: never, config?: never): PromiseLike<unknown>;
}

/** A knex instance (pg client) or transaction (`trx`). */
export interface KnexDb {
  raw(sql: never, bindings: never): PromiseLike<unknown>;
  readonly client: object;
}

/** A postgres.js `sql`, a transaction of `sql.begin`, or a reserved connection. */
export interface PostgresJsDb {
  unsafe(query: never, parameters: never, options?: never): PromiseLike<unknown>;
}

/** A Prisma client (with `@prisma/adapter-pg`) or interactive transaction (`tx` of `$transaction`). */
export interface PrismaDb {
  $queryRawUnsafe(query: never, ...values: never[]): PromiseLike<unknown>;
  $executeRawUnsafe(query: never, ...values: never[]): PromiseLike<unknown>;
}

/**
 * What every function that takes a `db` runs on — `migrate`, `enqueue`,
 * `enqueueMany`, `queueStats`, `prune`, `cancelJob`, `cancelJobs`,
 * `deleteJob`, `deleteJobs`, `runJobNow`, `retryJob`, `retryJobs`,
 * `pauseQueue`, `resumeQueue` and `listSchedules`: a `pg.Pool`, `pg.Client`
 * or `pg.PoolClient`, or the instance or transaction of Kysely, Drizzle,
 * knex, postgres.js or Prisma. Given a transaction, they run on its
 * connection, inside it. (`createWorker`, `createDashboard` and the helpers
 * of `proletarian/testing` take pg's own objects only.)
 */
export type DbClient = Queryable | KyselyDb | DrizzleDb | KnexDb | PostgresJsDb | PrismaDb;
