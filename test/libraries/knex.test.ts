import knex from 'knex';
import { libraryContract } from './contract.js';

libraryContract('knex', {
  async open(url, schema) {
    const db = knex({ client: 'pg', connection: url });
    return {
      db,
      transaction: async (work) => {
        await db.transaction((trx) => work(trx));
      },
      // The README's recipe: knex's queries on the job's connection, through `.connection(ctx.db)`.
      insertNoteInJob: async (ctx, text) => {
        await db.withSchema(schema).insert({ text }).into('note').connection(ctx.db);
      },
      close: () => db.destroy(),
    };
  },
});
