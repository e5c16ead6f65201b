import { Kysely, PostgresDialect, type Generated } from 'kysely';
import pg from 'pg';
import type { JobContext } from 'proletarian';
import { libraryContract } from './contract.js';

interface Tables {
  note: { id: Generated<number>; text: string };
}

// The README's recipe: Kysely on the job's transaction, through a "pool" that
// lends that one connection and never closes it.
function jobKysely<DB>(ctx: JobContext): Kysely<DB> {
  return new Kysely<DB>({
    dialect: new PostgresDialect({
      pool: {
        options: {},
        connect: async () => ({ query: ctx.db.query, release: () => {} }),
        end: async () => {},
      },
    }),
  });
}

libraryContract('Kysely', {
  async open(url, schema) {
    const pool = new pg.Pool({ connectionString: url, options: `-c search_path=${schema}` });
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      transaction: (work) => db.transaction().execute(work),
      insertNoteInJob: async (ctx, text) => {
        await jobKysely<Tables>(ctx).withSchema(schema).insertInto('note').values({ text }).execute();
      },
      close: () => db.destroy(),
    };
  },
});
