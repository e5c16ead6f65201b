import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { JobContext } from 'proletarian';
import { PrismaClient } from '../fixtures/prisma/client/client.js';
import { libraryContract } from './contract.js';

// The README's recipe: Prisma on the job's transaction, through a pg.Pool
// whose queries go to ctx.db. Prisma's own transactions would need a
// connection of their own: the job's transaction is the transaction.
function jobPrisma(ctx: JobContext, schema: string): PrismaClient {
  const pool = new pg.Pool();
  pool.query = ctx.db.query as pg.Pool['query'];
  pool.connect = () => Promise.reject(new Error('inside a job, Prisma runs on the job\'s transaction: no $transaction'));
  return new PrismaClient({ adapter: new PrismaPg(pool, { schema }) });
}

libraryContract('Prisma', {
  async open(url, schema) {
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }, { schema }) });
    return {
      db: prisma,
      transaction: async (work) => {
        await prisma.$transaction((tx) => work(tx));
      },
      insertNoteInJob: async (ctx, text) => {
        await jobPrisma(ctx, schema).note.create({ data: { text } });
      },
      close: () => prisma.$disconnect(),
    };
  },
});
