import pg from 'pg';
import type { DbClient } from 'proletarian';
import { libraryContract } from './contract.js';

// pg's own objects, through the same contract as the other libraries: a
// pg.Pool as the instance, a pg.PoolClient in BEGIN … COMMIT as the
// transaction, and ctx.db itself in a handler.
libraryContract('pg', {
  migratesInsideTransaction: false,
  async open(url, schema) {
    const pool = new pg.Pool({ connectionString: url, options: `-c search_path=${schema}` });
    return {
      db: pool,
      transaction: async (work: (tx: DbClient) => Promise<void>) => {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          await work(client);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        } finally {
          client.release();
        }
      },
      insertNoteInJob: async (ctx, text) => {
        await ctx.db.query(`INSERT INTO "${schema}".note (text) VALUES ($1)`, [text]);
      },
      close: () => pool.end(),
    };
  },
});
