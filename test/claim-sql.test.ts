import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { enqueue } from 'proletarian';
import { createTestDatabase, databaseUrl, type TestDatabase } from './helpers/database.js';

// SQL-level checks of the claim statement, which the worker tests cannot
// steer into every interleaving of transactions. The statement is internal,
// so it is loaded from the build.
interface ClaimModule {
  claimStatement(t: unknown, filter: 'only' | 'except' | 'none'): pg.QueryConfig;
}
interface TablesModule {
  resolveTables(options: { schema: string }): unknown;
}

describe('the claim statement', () => {
  let db: TestDatabase;
  let claim: pg.QueryConfig;
  before(async () => {
    db = await createTestDatabase();
    const jobs = (await import(new URL('../../dist/sql/jobs.js', import.meta.url).href)) as ClaimModule;
    const tables = (await import(new URL('../../dist/tables.js', import.meta.url).href)) as TablesModule;
    claim = jobs.claimStatement(tables.resolveTables({ schema: db.schema }), 'none');
  });
  after(() => db.close());

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    return client;
  }

  const claimIn = (client: pg.Client, queue: string) =>
    client.query<{ job_id: string; last_claim_aborted: boolean }>({ ...claim, values: [queue, 10] });

  it('sees that the last claim of a job aborted, and that a committed one did not', async () => {
    const queue = 'aborted-or-not';
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const client = await connect();
    try {
      await client.query('BEGIN');
      await claimIn(client, queue);
      await client.query('ROLLBACK'); // a claim that died
      await client.query('BEGIN');
      const afterAbort = await claimIn(client, queue);
      assert.deepEqual(afterAbort.rows.map((r) => [r.job_id, r.last_claim_aborted]), [[jobId, true]]);
      await client.query('COMMIT'); // a claim that ended without touching the job
      await client.query('BEGIN');
      const afterCommit = await claimIn(client, queue);
      assert.deepEqual(afterCommit.rows.map((r) => r.last_claim_aborted), [false]);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });

  it('does not fail, nor suspect the job, when the last locker is newer than the claiming transaction', async () => {
    const queue = 'newer-locker';
    await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const older = await connect();
    const newer = await connect();
    try {
      await older.query('BEGIN');
      await older.query('SELECT pg_current_xact_id()'); // takes its xid now
      // A younger transaction locks the job and commits without changing it.
      await newer.query('BEGIN');
      await newer.query(`SELECT 1 FROM "${db.schema}".job WHERE queue = $1 FOR UPDATE`, [queue]);
      await newer.query('COMMIT');
      const { rows } = await claimIn(older, queue);
      assert.deepEqual(rows.map((r) => r.last_claim_aborted), [false]);
      await older.query('ROLLBACK');
    } finally {
      await older.end();
      await newer.end();
    }
  });
});
