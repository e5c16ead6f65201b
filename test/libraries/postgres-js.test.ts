import postgres from 'postgres';
import { libraryContract } from './contract.js';

libraryContract('postgres.js', {
  async open(url, schema) {
    const sql = postgres(url, { onnotice: () => {} });
    return {
      db: sql,
      transaction: async (work) => {
        await sql.begin((tx) => work(tx));
      },
      // postgres.js cannot run on the worker's pg connection: handlers use ctx.db itself.
      insertNoteInJob: async (ctx, text) => {
        await ctx.db.query(`INSERT INTO "${schema}".note (text) VALUES ($1)`, [text]);
      },
      close: () => sql.end(),
    };
  },
});
