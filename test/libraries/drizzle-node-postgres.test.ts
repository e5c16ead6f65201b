import { drizzle } from 'drizzle-orm/node-postgres';
import { pgSchema, serial, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { libraryContract } from './contract.js';
import { jobDrizzle } from './drizzle-recipe.js';

libraryContract('Drizzle (node-postgres)', {
  async open(url, schema) {
    const note = pgSchema(schema).table('note', { id: serial('id').primaryKey(), text: text('text').notNull() });
    const pool = new pg.Pool({ connectionString: url });
    const db = drizzle({ client: pool });
    return {
      db,
      transaction: (work) => db.transaction(work),
      insertNoteInJob: async (ctx, text) => {
        await jobDrizzle(ctx).insert(note).values({ text });
      },
      close: () => pool.end(),
    };
  },
});
