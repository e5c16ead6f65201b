// Compiled, never run: the objects of every supported library are accepted
// where Proletarian takes a database, as the README's "Enqueue from your
// database library" shows; and the README's handler recipes compile.
import { PrismaPg } from '@prisma/adapter-pg';
import { drizzle as drizzleNodePostgres } from 'drizzle-orm/node-postgres';
import { drizzle as drizzleProxy } from 'drizzle-orm/pg-proxy';
import { drizzle as drizzlePostgresJs } from 'drizzle-orm/postgres-js';
import knex from 'knex';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import postgres from 'postgres';
import { enqueue, enqueueMany, migrate, prune, queueStats, type JobContext } from 'proletarian';
import { PrismaClient } from '../fixtures/prisma/client/client.js';

declare const pool: pg.Pool;
const email = { email: 'a@example.com' };

export async function accepted(): Promise<void> {
  const kysely = new Kysely<object>({ dialect: new PostgresDialect({ pool }) });
  await enqueue(kysely, 'confirmation-email', email);
  await kysely.transaction().execute((trx) => enqueue(trx, 'confirmation-email', email));

  const drizzled = drizzleNodePostgres({ client: pool });
  await drizzled.transaction((tx) => enqueue(tx, 'confirmation-email', email));
  const drizzledJs = drizzlePostgresJs({ client: postgres() });
  await drizzledJs.transaction((tx) => enqueueMany(tx, [{ jobType: 'confirmation-email', payload: email }]));

  const knexed = knex({ client: 'pg' });
  await knexed.transaction((trx) => enqueue(trx, 'confirmation-email', email));

  const sql = postgres();
  await sql.begin((tx) => enqueue(tx, 'confirmation-email', email));

  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: '' }) });
  await prisma.$transaction((tx) => enqueue(tx, 'confirmation-email', email));

  for (const db of [kysely, drizzled, knexed, sql, prisma]) {
    await migrate(db);
    await queueStats(db);
    await prune(db, { olderThan: 1000 });
  }

  // @ts-expect-error not a database
  await enqueue({ execute: 1 }, 'confirmation-email', email);
}

export function recipes(ctx: JobContext) {
  const jobKysely = new Kysely<object>({
    dialect: new PostgresDialect({
      pool: { options: {}, connect: async () => ({ query: ctx.db.query, release: () => {} }), end: async () => {} },
    }),
  });
  const jobDrizzle = drizzleProxy(async (text, params, method) => {
    const result =
      method === 'all' ? await ctx.db.query({ text, values: params, rowMode: 'array' }) : await ctx.db.query(text, params);
    return { rows: result.rows };
  });
  const jobPool = new pg.Pool();
  jobPool.query = ctx.db.query as pg.Pool['query'];
  const jobPrisma = new PrismaClient({ adapter: new PrismaPg(jobPool) });
  return { jobKysely, jobDrizzle, jobPrisma };
}
