import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  ARCHIVE_STATUSES,
  createWorker,
  enqueue,
  LATEST_SCHEMA_VERSION,
  listSchedules,
  migrate,
  MigrationError,
  pauseQueue,
  schemaSql,
  SchemaNotReadyError,
  silentLogger,
} from 'proletarian';
import { databaseUrl, installSchemaVersion, tablesIn } from './helpers/database.js';

const uniqueSchema = () => `test_mig_${randomBytes(6).toString('hex')}`;
/** Every schema version, 1 to the latest: what a migration from nothing applies. */
const allVersions = Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1);

describe('migrate', () => {
  let pool: pg.Pool;
  const schemas: string[] = [];
  /** A fresh schema name, dropped after the file. */
  const freshSchema = () => {
    const schema = uniqueSchema();
    schemas.push(schema);
    return schema;
  };
  const tablesOf = (schema: string) => tablesIn(pool, schema);
  const count = async (table: string) =>
    Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n);

  before(() => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 4 });
  });
  after(async () => {
    for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it('LATEST_SCHEMA_VERSION is a positive whole number', () => {
    assert.ok(Number.isInteger(LATEST_SCHEMA_VERSION) && LATEST_SCHEMA_VERSION >= 1);
  });

  it('installs the latest version on an empty schema, then is a no-op', async () => {
    const schema = freshSchema();
    const first = await migrate(pool, { schema });
    assert.deepEqual(first, {
      fromVersion: 0,
      toVersion: LATEST_SCHEMA_VERSION,
      applied: allVersions,
    });
    assert.deepEqual(await tablesOf(schema), ['archived_job', 'job', 'job_cancel_requests', 'job_lost_transactions', 'job_migrations', 'job_queue_states', 'job_schedules', 'job_workers']);

    const second = await migrate(pool, { schema });
    assert.deepEqual(second, { fromVersion: LATEST_SCHEMA_VERSION, toVersion: LATEST_SCHEMA_VERSION, applied: [] });
    assert.deepEqual(await tablesOf(schema), ['archived_job', 'job', 'job_cancel_requests', 'job_lost_transactions', 'job_migrations', 'job_queue_states', 'job_schedules', 'job_workers']);
  });

  it('installs into a schema that already exists (empty)', async () => {
    const schema = freshSchema();
    await pool.query(`CREATE SCHEMA "${schema}"`);
    const result = await migrate(pool, { schema });
    assert.equal(result.fromVersion, 0);
    assert.deepEqual(await tablesOf(schema), ['archived_job', 'job', 'job_cancel_requests', 'job_lost_transactions', 'job_migrations', 'job_queue_states', 'job_schedules', 'job_workers']);
  });

  it('records every applied version in the bookkeeping table', async () => {
    const schema = freshSchema();
    await migrate(pool, { schema });
    const { rows } = await pool.query<{ version: number; name: string; age_s: number }>(
      `SELECT version, name, extract(epoch FROM now() - applied_at)::float8 AS age_s
       FROM "${schema}".job_migrations ORDER BY version`,
    );
    assert.deepEqual(
      rows.map((r) => r.version),
      allVersions,
    );
    assert.equal(rows[0]?.name, 'initial schema');
    assert.equal(rows[1]?.name, 'archive retention index');
    assert.ok(rows.every((r) => r.name.length > 0 && r.age_s >= 0 && r.age_s < 60));
  });

  it('creates the job table with the expected columns and the claim index', async () => {
    const schema = freshSchema();
    await migrate(pool, { schema });
    const { rows: columns } = await pool.query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = 'job' ORDER BY ordinal_position`,
      [schema],
    );
    const byName = Object.fromEntries(columns.map((c) => [c.column_name, `${c.data_type} ${c.is_nullable}`]));
    assert.deepEqual(byName, {
      job_id: 'uuid NO',
      queue: 'text NO',
      job_type: 'text NO',
      payload: 'jsonb NO',
      attempts: 'integer NO',
      enqueued_at: 'timestamp with time zone NO',
      process_at: 'timestamp with time zone NO',
      last_error: 'jsonb YES',
      locked_by: 'text YES',
      abandoned_runs: 'integer NO',
      aborted_claim: 'xid8 YES',
      priority: 'smallint NO',
      unique_key: 'text YES',
      replacement: 'jsonb YES',
      trace_context: 'jsonb YES',
      error_history: 'jsonb YES',
    });
    const { rows: indexes } = await pool.query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'job' ORDER BY indexname`,
      [schema],
    );
    assert.ok(
      indexes.some((i) => /\(queue, priority, process_at, job_id\)/.test(i.indexdef)),
      `claim index present: ${JSON.stringify(indexes)}`,
    );
  });

  it('indexes the archived-job table on finished_at, named after the table', async () => {
    const schema = freshSchema();
    const longName = 'a'.repeat(40); // the longest table name allowed: the index name must not be truncated
    await migrate(pool, { schema });
    await migrate(pool, { schema, jobTable: 'work', archivedJobTable: longName });
    const { rows } = await pool.query<{ tablename: string; indexname: string; indexdef: string }>(
      `SELECT tablename, indexname, indexdef FROM pg_indexes
       WHERE schemaname = $1 AND indexdef LIKE '%(finished_at) INCLUDE%' ORDER BY indexname`,
      [schema],
    );
    assert.deepEqual(
      rows.map((r) => [r.tablename, r.indexname]),
      [
        [longName, `${longName}_finished_idx`],
        ['archived_job', 'archived_job_finished_idx'],
      ],
    );
  });

  it('upgrades a version 1 schema: adds the finished_at index and keeps the queued and archived jobs', async () => {
    const schema = freshSchema();
    await installSchemaVersion(pool, { schema }, 1);
    // Enqueued by the version this schema belongs to.
    const jobId = randomUUID();
    await pool.query(
      `INSERT INTO "${schema}".job (job_id, queue, job_type, payload) VALUES ($1, 'default', 'queued-before-upgrade', '{"n": 1}')`,
      [jobId],
    );
    await assert.rejects(enqueue(pool, 'queued-before-upgrade', { n: 2 }, { schema }), (error: Error) => {
      assert.ok(error instanceof SchemaNotReadyError, String(error));
      assert.match(error.message, /older than this version of proletarian needs.*migrate/);
      return true;
    });
    await pool.query(
      `INSERT INTO "${schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status)
       VALUES (gen_random_uuid(), 'default', 'done-before-upgrade', '{}', 1, now(), now(), 'success')`,
    );
    // A worker of this version refuses the old schema until it is migrated.
    const worker = createWorker(pool, { schema, handlers: { x: async () => {} }, log: silentLogger });
    await assert.rejects(worker.start(), SchemaNotReadyError);

    const result = await migrate(pool, { schema });
    assert.deepEqual(result, { fromVersion: 1, toVersion: LATEST_SCHEMA_VERSION, applied: allVersions.slice(1) });
    const indexes = await pool.query(
      `SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = 'archived_job_finished_idx'`,
      [schema],
    );
    assert.equal(indexes.rowCount, 1);
    assert.equal(await count(`"${schema}".job WHERE job_id = '${jobId}'`), 1);
    assert.equal(await count(`"${schema}".archived_job`), 1);
    const upgraded = createWorker(pool, { schema, handlers: { x: async () => {} }, log: silentLogger });
    await upgraded.start();
    await upgraded.stop();
  });

  it('upgrades from the version before schedules and paused queues: adds their tables, keeps the jobs', async () => {
    const schema = freshSchema();
    // Found by name: the migration's number depends on the order of merges.
    const version = Number(/-- Migration (\d+): schedules and paused queues/.exec(schemaSql({ schema }))?.[1]);
    const previous = version - 1;
    await installSchemaVersion(pool, { schema }, previous);
    assert.deepEqual(await tablesOf(schema), ['archived_job', 'job', 'job_lost_transactions', 'job_migrations']);
    const jobId = await enqueue(pool, 'queued-before-upgrade', { n: 1 }, { schema });
    const result = await migrate(pool, { schema });
    assert.deepEqual(result, { fromVersion: previous, toVersion: LATEST_SCHEMA_VERSION, applied: allVersions.slice(previous) });
    assert.deepEqual(await tablesOf(schema), [
      'archived_job',
      'job',
      'job_cancel_requests',
      'job_lost_transactions',
      'job_migrations',
      'job_queue_states',
      'job_schedules',
      'job_workers',
    ]);
    assert.equal(await count(`"${schema}".job WHERE job_id = '${jobId}'`), 1);
    assert.equal(await pauseQueue(pool, 'default', { schema }), true);
    assert.deepEqual(await listSchedules(pool, { schema }), []);
  });

  it('upgrades a schema from before trace context: queued jobs run and are archived with none', async () => {
    const schema = freshSchema();
    // Found by name: the migration's number depends on the order of merges.
    const version = Number(/-- Migration (\d+): trace context/.exec(schemaSql({ schema }))?.[1]);
    await installSchemaVersion(pool, { schema }, version - 1);
    const jobId = randomUUID();
    await pool.query(
      `INSERT INTO "${schema}".job (job_id, queue, job_type, payload) VALUES ($1, 'default', 'queued-before-upgrade', '{}')`,
      [jobId],
    );
    const result = await migrate(pool, { schema });
    assert.ok(result.applied.includes(version));
    const worker = createWorker(pool, { schema, handlers: { 'queued-before-upgrade': () => {} }, log: silentLogger, pollInterval: 20 });
    await worker.start();
    try {
      for (let i = 0; i < 250 && (await count(`"${schema}".archived_job`)) === 0; i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await worker.stop();
    }
    const { rows } = await pool.query(`SELECT status, trace_context FROM "${schema}".archived_job WHERE job_id = $1`, [jobId]);
    assert.deepEqual(rows, [{ status: 'success', trace_context: null }]);
  });

  it('upgrades to cancel and discard: the archive takes exactly ARCHIVE_STATUSES, its rows kept unvalidated', async () => {
    // Found by name: versions are renumbered as migrations are added.
    const version = Number(/-- Migration (\d+): cancel and discard/.exec(schemaSql())?.[1]);
    assert.ok(version > 1);
    const schema = freshSchema();
    await installSchemaVersion(pool, { schema }, version - 1);
    const archive = (status: string) =>
      pool.query(
        `INSERT INTO "${schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status)
         VALUES (gen_random_uuid(), 'default', 'archived', '{}', 1, now(), now(), $1)`,
        [status],
      );
    await archive('failure');
    await assert.rejects(archive('cancelled'), { code: '23514' }, 'the old check refuses the new statuses');

    const result = await migrate(pool, { schema });
    assert.ok(result.applied.includes(version));
    for (const status of ARCHIVE_STATUSES) await archive(status);
    await assert.rejects(archive('maybe'), { code: '23514' });
    assert.equal(await count(`"${schema}".archived_job`), 1 + ARCHIVE_STATUSES.length);
    const { rows } = await pool.query<{ convalidated: boolean }>(
      `SELECT convalidated FROM pg_constraint WHERE conname = 'archived_job_status_check' AND connamespace = $1::regnamespace`,
      [schema],
    );
    assert.deepEqual(rows, [{ convalidated: false }], 'added without scanning the archive');
    assert.deepEqual(await tablesOf(schema), [
      'archived_job',
      'job',
      'job_cancel_requests',
      'job_lost_transactions',
      'job_migrations',
      'job_queue_states',
      'job_schedules',
      'job_workers',
    ]);
  });

  it('upgrades the previous version: adds the workers table, keeps queued jobs, and workers report to it', async () => {
    const schema = freshSchema();
    // Found by name: the migration's number depends on the order of merges.
    const version = Number(/-- Migration (\d+): workers and dashboard/.exec(schemaSql({ schema }))?.[1]);
    await installSchemaVersion(pool, { schema }, version - 1);
    await pool.query(`INSERT INTO "${schema}".job (job_id, queue, job_type, payload) VALUES ($1, 'default', 'x', '{}')`, [randomUUID()]);
    assert.ok((await migrate(pool, { schema })).applied.includes(version));
    assert.equal(await count(`"${schema}".job`), 1);
    const worker = createWorker(pool, { schema, handlers: { x: async () => {} }, log: silentLogger, workerId: 'upgraded' });
    await worker.start();
    try {
      // The heartbeat's first round runs just after start.
      for (let i = 0; i < 500 && (await count(`"${schema}".job_workers`)) === 0; i++) await new Promise((r) => setTimeout(r, 10));
      const { rows } = await pool.query<{ worker_id: string }>(`SELECT worker_id FROM "${schema}".job_workers`);
      assert.deepEqual(rows.map((row) => row.worker_id), ['upgraded']);
    } finally {
      await worker.stop();
    }
    assert.equal(await count(`"${schema}".job_workers`), 0, 'a stopped worker removes its row');
  });

  it('8 concurrent calls on a fresh schema: all succeed, exactly one applies', async () => {
    const schema = freshSchema();
    // Each call through its own connection: 4 pools and 4 plain clients.
    const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: databaseUrl(), max: 1 }));
    const clients = Array.from({ length: 4 }, () => new pg.Client({ connectionString: databaseUrl() }));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const results = await Promise.all([
        ...pools.map((p) => migrate(p, { schema })),
        ...clients.map((c) => migrate(c, { schema })),
      ]);
      const appliers = results.filter((r) => r.applied.length > 0);
      assert.equal(appliers.length, 1, `exactly one call applied migrations: ${JSON.stringify(results)}`);
      assert.equal(appliers[0]?.fromVersion, 0);
      for (const r of results) assert.equal(r.toVersion, LATEST_SCHEMA_VERSION);
      for (const r of results.filter((x) => x.applied.length === 0)) {
        assert.equal(r.fromVersion, LATEST_SCHEMA_VERSION, 'the others waited, then found nothing to do');
      }
    } finally {
      await Promise.all([...pools.map((p) => p.end()), ...clients.map((c) => c.end())]);
    }
    assert.deepEqual(await tablesOf(schema), ['archived_job', 'job', 'job_cancel_requests', 'job_lost_transactions', 'job_migrations', 'job_queue_states', 'job_schedules', 'job_workers']);
    assert.equal(await count(`"${schema}".job_migrations`), LATEST_SCHEMA_VERSION);
  });

  it('works with a pg.Client, and leaves it usable and outside any transaction', async () => {
    const schema = freshSchema();
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      const result = await migrate(client, { schema });
      assert.deepEqual(result.applied, allVersions);
      // Outside a transaction, a job enqueued on the client is visible to others at once.
      const jobId = await enqueue(client, 'after-migrate', {}, { schema });
      assert.equal(await count(`"${schema}".job WHERE job_id = '${jobId}'`), 1);
    } finally {
      await client.end();
    }
  });

  it('keeps two installations with different table names apart in one schema', async () => {
    const schema = freshSchema();
    const a = { schema, jobTable: 'jobs_a', archivedJobTable: 'done_a' };
    const b = { schema, jobTable: 'jobs_b', archivedJobTable: 'done_b' };
    assert.deepEqual((await migrate(pool, a)).applied, allVersions);
    assert.deepEqual((await migrate(pool, b)).applied, allVersions, 'b has its own bookkeeping: installing a does not count');
    assert.deepEqual((await migrate(pool, a)).applied, []);
    assert.deepEqual(await tablesOf(schema), [
      'done_a',
      'done_b',
      'jobs_a',
      'jobs_a_cancel_requests',
      'jobs_a_lost_transactions',
      'jobs_a_migrations',
      'jobs_a_queue_states',
      'jobs_a_schedules',
      'jobs_a_workers',
      'jobs_b',
      'jobs_b_cancel_requests',
      'jobs_b_lost_transactions',
      'jobs_b_migrations',
      'jobs_b_queue_states',
      'jobs_b_schedules',
      'jobs_b_workers',
    ]);
    const { rows: indexes } = await pool.query<{ indexname: string }>(
      `SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE '%finished_idx' ORDER BY 1`,
      [schema],
    );
    assert.deepEqual(
      indexes.map((i) => i.indexname),
      ['done_a_finished_idx', 'done_b_finished_idx'],
    );

    const idA = await enqueue(pool, 'for-a', { to: 'a' }, a);
    const idB1 = await enqueue(pool, 'for-b', { to: 'b' }, b);
    const idB2 = await enqueue(pool, 'for-b', { to: 'b' }, b);
    const ids = async (table: string) =>
      (await pool.query<{ job_id: string }>(`SELECT job_id FROM "${schema}".${table} ORDER BY job_id`)).rows.map(
        (r) => r.job_id,
      );
    assert.deepEqual(await ids('jobs_a'), [idA]);
    assert.deepEqual(await ids('jobs_b'), [idB1, idB2]);
  });

  it(
    'concurrent first migrations of two installations sharing one new schema',

    async () => {
      const schema = freshSchema();
      const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: databaseUrl(), max: 1 }));
      try {
        const results = await Promise.allSettled(
          pools.map((p, i) => migrate(p, { schema, jobTable: `jobs_${i}`, archivedJobTable: `done_${i}` })),
        );
        for (const r of results) assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '');
      } finally {
        await Promise.all(pools.map((p) => p.end()));
      }
      assert.equal((await tablesOf(schema)).length, 32);
    },
  );

  it('with custom table names, leaves the default names alone', async () => {
    const schema = freshSchema();
    await migrate(pool, { schema, jobTable: 'work', archivedJobTable: 'work_done' });
    assert.deepEqual(await tablesOf(schema), ['work', 'work_cancel_requests', 'work_done', 'work_lost_transactions', 'work_migrations', 'work_queue_states', 'work_schedules', 'work_workers']);
    await assert.rejects(enqueue(pool, 'x', {}, { schema }), SchemaNotReadyError);
  });

  it('fails with MigrationError and changes nothing when a migration cannot run', async () => {
    const schema = freshSchema();
    // Something of the app's own already has the job table's name.
    await pool.query(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".job (id int)`);
    await assert.rejects(migrate(pool, { schema }), (error: Error) => {
      assert.ok(error instanceof MigrationError);
      assert.match(error.message, /migration 1 .*failed.*already exists.*nothing was changed/);
      return true;
    });
    assert.deepEqual(await tablesOf(schema), ['job'], 'the whole upgrade was rolled back');
  });

  it('a worker refuses to start on a schema that was never migrated', async () => {
    const schema = uniqueSchema();
    const worker = createWorker(pool, { schema, handlers: { x: async () => {} }, log: silentLogger });
    await assert.rejects(worker.start(), (error: Error) => {
      assert.ok(error instanceof SchemaNotReadyError);
      assert.match(error.message, /not installed.*migrate/);
      return true;
    });
    assert.notEqual(worker.state, 'running');
    const created = await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [schema]);
    assert.equal(created.rowCount, 0, 'start() does not create the schema');
  });

  it('a worker refuses to start on a schema older than the library', async () => {
    const schema = freshSchema();
    // The bookkeeping table exists, but no migration was recorded: version 0.
    await pool.query(`CREATE SCHEMA "${schema}";
      CREATE TABLE "${schema}".job_migrations (version integer PRIMARY KEY, name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now())`);
    const worker = createWorker(pool, { schema, handlers: { x: async () => {} }, log: silentLogger });
    await assert.rejects(worker.start(), (error: Error) => {
      assert.ok(error instanceof SchemaNotReadyError);
      assert.match(error.message, new RegExp(`version 0 .*needs ${LATEST_SCHEMA_VERSION}.*migrate`));
      return true;
    });
    // and migrate() upgrades it from there
    assert.equal((await migrate(pool, { schema })).fromVersion, 0);
  });

  it('a worker starts on a migrated schema', async () => {
    const schema = freshSchema();
    await migrate(pool, { schema });
    const worker = createWorker(pool, { schema, handlers: { x: async () => {} }, log: silentLogger, pollInterval: 20 });
    await worker.start();
    try {
      assert.equal(worker.state, 'running');
    } finally {
      await worker.stop();
    }
  });
});
