import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  cancelJob,
  createWorker,
  enqueue,
  enqueueMany,
  listSchedules,
  migrate,
  MigrationError,
  pauseQueue,
  prune,
  resumeQueue,
  retryJob,
  silentLogger,
} from 'proletarian';
import { createTestDatabase, databaseUrl, waitFor, type TestDatabase, tablesIn } from './helpers/database.js';

// build/test/roles.test.js -> the repository root
const rolesFile = new URL('../../database/roles.sql', import.meta.url);

/**
 * The script for another schema and role. As the file's header promises, the
 * schema is always written `proletarian.` or `SCHEMA proletarian`, and every
 * other `proletarian` outside comments is the role.
 */
function renderRoles(schema: string, role: string): string {
  const sql = readFileSync(rolesFile, 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('--'))
    .join('\n');
  const rendered = sql
    .replaceAll('SCHEMA proletarian', `SCHEMA ${schema}`)
    .replaceAll('proletarian.', `${schema}.`)
    .replace(/\bproletarian\b/g, role);
  assert.doesNotMatch(rendered, /proletarian/);
  return rendered;
}

describe('database/roles.sql: a least-privilege role', () => {
  let db: TestDatabase;
  let role: string;
  let rolePool: pg.Pool | undefined;
  const pools: pg.Pool[] = [];

  /** A pool whose sessions run as the role (as an app connecting as it would). */
  const poolAsRole = (max = 4) => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max, options: `-c role=${role}` });
    pool.on('error', () => {});
    pools.push(pool);
    return pool;
  };
  const asRole = () => (rolePool ??= poolAsRole());

  /** Runs `sql` as the role and returns the SQLSTATE it fails with. */
  async function deniedCode(sql: string): Promise<string | undefined> {
    try {
      await asRole().query(sql);
    } catch (error) {
      return (error as { code?: string }).code;
    }
    assert.fail(`the role was allowed to run: ${sql}`);
  }

  before(async () => {
    db = await createTestDatabase();
    role = `test_role_${randomBytes(6).toString('hex')}`;
    await db.pool.query(renderRoles(db.schema, role));
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    try {
      await db.pool.query(`DROP OWNED BY ${role}`);
      await db.pool.query(`DROP ROLE IF EXISTS ${role}`);
    } finally {
      await db.close();
    }
  });

  it('every occurrence of the schema and of the role is where the header says', () => {
    const sql = readFileSync(rolesFile, 'utf8')
      .split('\n')
      .filter((line) => !line.startsWith('--'))
      .join('\n');
    const schemaUses = sql.match(/SCHEMA proletarian\b|\bproletarian\./g) ?? [];
    const all = sql.match(/\bproletarian\b/g) ?? [];
    assert.equal(schemaUses.length, 9, 'USAGE on the schema and eight tables');
    assert.equal(all.length - schemaUses.length, 11, 'the role: pg_roles check, CREATE ROLE, nine grantees');
  });

  it('creates a role that cannot log in, and running the script again changes nothing', async () => {
    const { rows } = await db.pool.query<{ rolcanlogin: boolean; rolsuper: boolean; rolcreaterole: boolean }>(
      `SELECT rolcanlogin, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = $1`,
      [role],
    );
    assert.deepEqual(rows, [{ rolcanlogin: false, rolsuper: false, rolcreaterole: false }]);
    const grants = () =>
      db.rows<{ table_name: string; privilege_type: string }>(
        `SELECT table_name, privilege_type FROM information_schema.role_table_grants
         WHERE grantee = $1 AND table_schema = $2 ORDER BY table_name, privilege_type`,
        [role, db.schema],
      );
    const expected = [
      { table_name: 'archived_job', privilege_type: 'INSERT' },
      { table_name: 'archived_job', privilege_type: 'SELECT' },
      { table_name: 'job', privilege_type: 'DELETE' },
      { table_name: 'job', privilege_type: 'INSERT' },
      { table_name: 'job', privilege_type: 'SELECT' },
      { table_name: 'job', privilege_type: 'UPDATE' },
      { table_name: 'job_cancel_requests', privilege_type: 'DELETE' },
      { table_name: 'job_cancel_requests', privilege_type: 'INSERT' },
      { table_name: 'job_cancel_requests', privilege_type: 'SELECT' },
      { table_name: 'job_cancel_requests', privilege_type: 'UPDATE' },
      { table_name: 'job_lost_transactions', privilege_type: 'DELETE' },
      { table_name: 'job_lost_transactions', privilege_type: 'INSERT' },
      { table_name: 'job_lost_transactions', privilege_type: 'SELECT' },
      { table_name: 'job_migrations', privilege_type: 'SELECT' },
      { table_name: 'job_queue_states', privilege_type: 'INSERT' },
      { table_name: 'job_queue_states', privilege_type: 'SELECT' },
      { table_name: 'job_queue_states', privilege_type: 'UPDATE' },
      { table_name: 'job_schedules', privilege_type: 'INSERT' },
      { table_name: 'job_schedules', privilege_type: 'SELECT' },
      { table_name: 'job_schedules', privilege_type: 'UPDATE' },
      { table_name: 'job_workers', privilege_type: 'DELETE' },
      { table_name: 'job_workers', privilege_type: 'INSERT' },
      { table_name: 'job_workers', privilege_type: 'SELECT' },
      { table_name: 'job_workers', privilege_type: 'UPDATE' },
    ];
    assert.deepEqual(await grants(), expected);
    await db.pool.query(renderRoles(db.schema, role)); // idempotent
    assert.deepEqual(await grants(), expected);
  });

  it('connections run as the role', async () => {
    const { rows } = await asRole().query<{ current_user: string }>('SELECT current_user');
    assert.deepEqual(rows, [{ current_user: role }]);
  });

  it('can enqueue', async () => {
    const jobId = await enqueue(asRole(), 'as-role', { n: 1 }, { ...db.tables, queue: 'role-enqueue' });
    const [two] = await enqueueMany(asRole(), [{ jobType: 'as-role', payload: {}, queue: 'role-enqueue' }], db.tables);
    const rows = await db.rows(`SELECT job_id FROM "${db.schema}".job WHERE queue = 'role-enqueue' ORDER BY job_id`);
    assert.deepEqual(rows, [{ job_id: jobId }, { job_id: two }]);
  });

  it('a worker on the role\'s connections processes jobs: success, retry, final failure', async () => {
    const queue = 'role-worker';
    const workerPool = poolAsRole(3);
    const ok = await enqueue(workerPool, 'succeed', {}, { ...db.tables, queue });
    const flaky = await enqueue(workerPool, 'fail-once', {}, { ...db.tables, queue });
    const doomed = await enqueue(workerPool, 'always-fail', {}, { ...db.tables, queue });
    const worker = createWorker(workerPool, {
      ...db.tables,
      queue,
      concurrency: 2,
      pollInterval: 20,
      log: silentLogger,
      retryStrategy: { retries: 1, delays: [0] },
      handlers: {
        succeed: async () => {},
        'fail-once': async (_payload, ctx) => {
          if (ctx.attempt === 1) throw new Error('first attempt fails');
        },
        'always-fail': { handler: async () => Promise.reject(new Error('never works')), retryStrategy: { retries: 0 } },
      },
    });
    await worker.start();
    try {
      const archived = await waitFor(
        async () => {
          const rows = await db.rows<{ job_id: string; status: string; attempts: number }>(
            `SELECT job_id, status, attempts FROM "${db.schema}".archived_job WHERE queue = $1`,
            [queue],
          );
          return rows.length === 3 ? rows : null;
        },
        { what: 'three archived jobs', timeoutMs: 8_000 },
      );
      const byId = new Map(archived.map((r) => [r.job_id, r]));
      assert.deepEqual(byId.get(ok), { job_id: ok, status: 'success', attempts: 1 });
      assert.deepEqual(byId.get(flaky), { job_id: flaky, status: 'success', attempts: 2 });
      assert.deepEqual(byId.get(doomed), { job_id: doomed, status: 'failure', attempts: 1 });
      assert.deepEqual(await db.rows(`SELECT * FROM "${db.schema}".job WHERE queue = $1`, [queue]), []);
    } finally {
      await worker.stop();
    }
  });

  it('can pause and resume a queue, and a worker on the role\'s connections runs its schedules', async () => {
    const queue = 'role-schedules';
    assert.equal(await pauseQueue(asRole(), queue, db.tables), true);
    assert.equal(await resumeQueue(asRole(), queue, db.tables), true);
    const workerPool = poolAsRole(3);
    const worker = createWorker(workerPool, {
      ...db.tables,
      queue,
      pollInterval: 20,
      log: silentLogger,
      handlers: { other: () => {} },
      schedules: { 'role-tick': { cron: '* * * * * *', jobType: 'role-tick', payload: {} } },
    });
    await worker.start();
    try {
      await waitFor(
        async () => (await db.rows(`SELECT 1 FROM "${db.schema}".job WHERE job_type = 'role-tick'`)).length >= 2,
        { what: 'scheduled jobs', timeoutMs: 8_000 },
      );
    } finally {
      await worker.stop();
    }
    assert.deepEqual((await listSchedules(asRole(), db.tables)).map((s) => s.name), ['role-tick']);
    await db.pool.query(`DELETE FROM "${db.schema}".job WHERE job_type = 'role-tick'`);
  });

  for (const [what, sql] of [
    ['DROP TABLE job', (s: string) => `DROP TABLE "${s}".job`],
    ['DROP TABLE archived_job', (s: string) => `DROP TABLE "${s}".archived_job`],
    ['ALTER TABLE job', (s: string) => `ALTER TABLE "${s}".job ADD COLUMN sneaky text`],
    ['TRUNCATE job', (s: string) => `TRUNCATE "${s}".job`],
    ['TRUNCATE archived_job', (s: string) => `TRUNCATE "${s}".archived_job`],
    ['DELETE FROM archived_job', (s: string) => `DELETE FROM "${s}".archived_job`],
    ['UPDATE archived_job', (s: string) => `UPDATE "${s}".archived_job SET status = 'success'`],
    ['write job_migrations', (s: string) => `INSERT INTO "${s}".job_migrations (version, name) VALUES (999, 'x')`],
    ['CREATE TABLE in the schema', (s: string) => `CREATE TABLE "${s}".other (id int)`],
    ['DROP SCHEMA', (s: string) => `DROP SCHEMA "${s}" CASCADE`],
  ] as const) {
    it(`cannot ${what} (42501 permission denied)`, async () => {
      assert.equal(await deniedCode(sql(db.schema)), '42501');
    });
  }

  it('cannot run migrations', async () => {
    const other = `test_role_mig_${randomBytes(6).toString('hex')}`;
    await assert.rejects(migrate(asRole(), { schema: other }), (error: Error) => {
      assert.ok(error instanceof MigrationError);
      assert.equal((error.cause as { code?: string } | undefined)?.code, '42501');
      return true;
    });
  });

  it('cannot prune archived jobs (42501 permission denied)', async () => {
    await assert.rejects(prune(asRole(), { ...db.tables, olderThan: new Date(Date.now() + 60_000) }), (error: Error) => {
      assert.equal((error as { code?: string }).code, '42501');
      return true;
    });
  });

  it('can cancel jobs, waiting or running, but cannot retry archived ones (42501 permission denied)', async () => {
    const tables = db.tables;
    const waiting = await enqueue(asRole(), 'as-role', {}, { ...tables, queue: 'role-cancel' });
    assert.equal(await cancelJob(asRole(), waiting, tables), 'cancelled');
    const running = await enqueue(asRole(), 'as-role', {}, { ...tables, queue: 'role-cancel' });
    const holder = await db.pool.connect();
    try {
      // Held as a batch holds its jobs.
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${db.schema}".job WHERE job_id = $1 FOR UPDATE`, [running]);
      assert.equal(await cancelJob(asRole(), running, tables), 'cancelling');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    await assert.rejects(retryJob(asRole(), waiting, tables), (error: Error) => {
      assert.equal((error as { code?: string }).code, '42501');
      return true;
    });
  });

  it('the tables are intact after all those attempts', async () => {
    assert.deepEqual(
      await tablesIn(db.pool, db.schema),
      ['archived_job', 'job', 'job_cancel_requests', 'job_lost_transactions', 'job_migrations', 'job_queue_states', 'job_schedules', 'job_workers'],
    );
    const archived = await db.rows(`SELECT count(*)::int AS n FROM "${db.schema}".archived_job`);
    assert.deepEqual(archived, [{ n: 4 }]);
  });

  it(
    'can call migrate() at start-up once the schema is up to date',

    async () => {
      const result = await migrate(asRole(), db.tables);
      assert.deepEqual(result.applied, []);
    },
  );
});
