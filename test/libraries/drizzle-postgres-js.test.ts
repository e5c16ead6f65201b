import { drizzle } from 'drizzle-orm/postgres-js';
import { pgSchema, serial, text } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { libraryContract } from './contract.js';
import { jobDrizzle } from './drizzle-recipe.js';

libraryContract('Drizzle (postgres-js)', {
  async open(url, schema) {
    const note = pgSchema(schema).table('note', { id: serial('id').primaryKey(), text: text('text').notNull() });
    const sql = postgres(url, { onnotice: () => {} });
    const db = drizzle({ client: sql });
    return {
      db,
      transaction: (work) => db.transaction(work),
      insertNoteInJob: async (ctx, text) => {
        await jobDrizzle(ctx).insert(note).values({ text });
      },
      close: () => sql.end(),
    };
  },
});
