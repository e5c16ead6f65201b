import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { enqueue } from 'proletarian';
import { createTestDatabase, databaseUrl, type TestDatabase } from './helpers/database.js';

// SQL-level checks of the claim statement, which the worker tests cannot
// steer into every interleaving of transactions. The statement is internal,
// so it is loaded from the build.
interface ClaimModule {
  batchClaimStatement(t: unknown, filter: 'all' | 'only' | 'except'): pg.QueryConfig;
  claimJobs(
    client: pg.ClientBase,
    request: {
      claim: pg.QueryConfig;
      queue: string;
      jobTypes: readonly string[] | null;
      limit: number;
      claimFrom: number | null;
    },
  ): Promise<{ jobs: ClaimedRow[]; xid: string | null }>;
}
interface ClaimedRow {
  job_id: string;
  queue: string;
  job_type: string;
  payload: string;
  attempts: number;
  abandoned_runs: number;
  enqueued_at: Date;
  process_at: Date;
  aborted_locker: string | null;
  aborted_claim_lost_connection: boolean | null;
}
interface TablesModule {
  resolveTables(options: { schema: string }): unknown;
}

describe('the claim statement', () => {
  let db: TestDatabase;
  let claim: pg.QueryConfig;
  let jobs: ClaimModule;
  before(async () => {
    db = await createTestDatabase();
    jobs = (await import(new URL('../../dist/sql/claim.js', import.meta.url).href)) as ClaimModule;
    const tables = (await import(new URL('../../dist/tables.js', import.meta.url).href)) as TablesModule;
    claim = jobs.batchClaimStatement(tables.resolveTables({ schema: db.schema }), 'all');
  });
  after(() => db.close());

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    return client;
  }

  const claimIn = async (client: pg.Client, queue: string) => {
    const { jobs: rows, xid } = await jobs.claimJobs(client, { claim, queue, jobTypes: null, limit: 10, claimFrom: null });
    return { rows, xid };
  };

  it('sees that the last claim of a job aborted, and which transaction it was; and that a committed one did not', async () => {
    const queue = 'aborted-or-not';
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const client = await connect();
    try {
      await client.query('BEGIN');
      const died = await claimIn(client, queue);
      assert.match(died.xid ?? '', /^[0-9]+$/);
      await client.query('ROLLBACK'); // a claim that died
      await client.query('BEGIN');
      const afterAbort = await claimIn(client, queue);
      assert.deepEqual(afterAbort.rows.map((r) => [r.job_id, r.aborted_locker]), [[jobId, died.xid]]);
      await client.query('COMMIT'); // a claim that ended without touching the job
      await client.query('BEGIN');
      const afterCommit = await claimIn(client, queue);
      assert.deepEqual(afterCommit.rows.map((r) => r.aborted_locker), [null]);
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
      assert.deepEqual(rows.map((r) => r.aborted_locker), [null]);
      await older.query('ROLLBACK');
    } finally {
      await older.end();
      await newer.end();
    }
  });

  it('returns each claimed job as stored, oldest first, passing over jobs another transaction holds', async () => {
    const queue = 'as-stored';
    const first = await enqueue(db.pool, 'first', { n: 1 }, { ...db.tables, queue, processIn: -1 });
    const held = await enqueue(db.pool, 'held', { n: 2 }, { ...db.tables, queue });
    const third = await enqueue(db.pool, 'third', { n: 3, text: 'ünïcödé' }, { ...db.tables, queue });
    await db.rows(`UPDATE "${db.schema}".job SET attempts = 2, abandoned_runs = 1 WHERE job_id = $1`, [third]);
    const holder = await connect();
    const claimer = await connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${db.schema}".job WHERE job_id = $1 FOR UPDATE`, [held]);
      await claimer.query('BEGIN');
      const { rows } = await claimIn(claimer, queue);
      const stored = await db.rows<{ job_id: string; enqueued_at: Date; process_at: Date }>(
        `SELECT job_id, enqueued_at, process_at FROM "${db.schema}".job WHERE job_id = ANY($1::uuid[]) ORDER BY process_at, job_id`,
        [[first, third]],
      );
      assert.deepEqual(
        rows.map((r) => [r.job_id, r.queue, r.job_type, JSON.parse(r.payload), r.attempts, r.abandoned_runs]),
        [
          [first, queue, 'first', { n: 1 }, 0, 0],
          [third, queue, 'third', { n: 3, text: 'ünïcödé' }, 2, 1],
        ],
      );
      // Times to the millisecond, as pg itself would give them.
      for (const [i, row] of rows.entries()) {
        assert.ok(row.enqueued_at instanceof Date && row.process_at instanceof Date);
        assert.equal(row.enqueued_at.getTime(), stored[i]!.enqueued_at.getTime());
        assert.equal(row.process_at.getTime(), stored[i]!.process_at.getTime());
      }
      await claimer.query('ROLLBACK');
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
      await claimer.end();
    }
  });

  it("tells whether a job's kept died claim was reported as a lost connection", async () => {
    const queue = 'kept-claim';
    const none = await enqueue(db.pool, 'job', 'none', { ...db.tables, queue, processIn: -2 });
    const reported = await enqueue(db.pool, 'job', 'reported', { ...db.tables, queue, processIn: -1 });
    const unreported = await enqueue(db.pool, 'job', 'unreported', { ...db.tables, queue });
    await db.rows(`UPDATE "${db.schema}".job SET aborted_claim = '1001' WHERE job_id = $1`, [reported]);
    await db.rows(`UPDATE "${db.schema}".job SET aborted_claim = '1002' WHERE job_id = $1`, [unreported]);
    await db.rows(`INSERT INTO "${db.schema}".job_lost_transactions (xid) VALUES ('1001')`);
    const client = await connect();
    try {
      await client.query('BEGIN');
      const { rows } = await claimIn(client, queue);
      assert.deepEqual(
        rows.map((r) => [r.job_id, r.aborted_claim_lost_connection]),
        [
          [none, null],
          [reported, true],
          [unreported, false],
        ],
      );
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });
});
