import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { createWorker, enqueue, LATEST_SCHEMA_VERSION, migrate, schemaSql, silentLogger } from 'proletarian';
import { databaseUrl } from './helpers/database.js';

// build/test/schema-file.test.js -> the repository root
const root = new URL('../../', import.meta.url);
const schemaFile = fileURLToPath(new URL('database/proletarian-schema.sql', root));
const writer = fileURLToPath(new URL('scripts/write-schema-sql.mjs', root));

/** The committed file, split into its comment header and the SQL below it. */
function readSchemaFile(): { header: string; body: string } {
  const text = readFileSync(schemaFile, 'utf8');
  const lines = text.split('\n');
  const firstSql = lines.findIndex((line) => line.trim() !== '' && !line.startsWith('--'));
  assert.ok(firstSql > 0, 'the file starts with a comment header');
  return { header: lines.slice(0, firstSql).join('\n'), body: lines.slice(firstSql).join('\n') };
}

/** Replaces the default schema name, which the file always writes quoted and qualified. */
function inSchema(sql: string, schema: string): string {
  return sql.replaceAll('"proletarian".', `"${schema}".`).replace(
    'CREATE SCHEMA IF NOT EXISTS "proletarian";',
    `CREATE SCHEMA IF NOT EXISTS "${schema}";`,
  );
}

interface Catalog {
  tables: string[];
  columns: string[];
  indexes: string[];
  constraints: string[];
  migrations: string[];
}

describe('database/proletarian-schema.sql', () => {
  let pool: pg.Pool;
  const schemas: string[] = [];
  const freshSchema = () => {
    const schema = `test_file_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    return schema;
  };

  /** Everything about a schema that matters to Proletarian, with the schema's name taken out. */
  async function catalog(db: pg.Pool | pg.ClientBase, schema: string): Promise<Catalog> {
    const list = async (sql: string) =>
      (await db.query<{ x: string }>(sql, [schema])).rows.map((r) => r.x.replaceAll(schema, '<schema>'));
    return {
      tables: await list(`SELECT tablename AS x FROM pg_tables WHERE schemaname = $1 ORDER BY 1`),
      columns: await list(
        `SELECT concat_ws(' ', table_name, ordinal_position, column_name, data_type, is_nullable, column_default) AS x
         FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
      ),
      indexes: await list(`SELECT indexname || ': ' || indexdef AS x FROM pg_indexes WHERE schemaname = $1 ORDER BY 1`),
      constraints: await list(
        `SELECT conrelid::regclass::text || ' ' || conname || ': ' || pg_get_constraintdef(c.oid) AS x
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE n.nspname = $1 ORDER BY 1`,
      ),
      migrations: (
        await db.query<{ x: string }>(`SELECT version || ' ' || name AS x FROM "${schema}".job_migrations ORDER BY version`)
      ).rows.map((r) => r.x),
    };
  }

  before(() => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 3 });
  });
  after(async () => {
    for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it('is exactly what schemaSql() renders today, below its comment header', () => {
    const { header, body } = readSchemaFile();
    assert.equal(body, schemaSql(), 'stale: run `npm run build && npm run schema:sql` and commit the result');
    assert.ok(header.split('\n').every((line) => line === '' || line.startsWith('--')));
    assert.match(header, /npm run schema:sql/);
    assert.match(header, /src\/migrations/);
    assert.match(header, /npx proletarian migrate/);
    assert.match(header, new RegExp(`version ${LATEST_SCHEMA_VERSION}\\b`));
  });

  it('is what the generator script would write (header included)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [writer, '--check']);
    assert.match(stdout, /up to date/);
  });

  it('always names the schema as "proletarian". or in CREATE SCHEMA, so it can be renamed textually', () => {
    const { body } = readSchemaFile();
    const sqlOnly = body
      .split('\n')
      .filter((line) => !line.startsWith('--'))
      .join('\n');
    const renamed = inSchema(sqlOnly, 'elsewhere');
    assert.doesNotMatch(renamed, /proletarian/);
    assert.equal(inSchema(schemaSql(), 'elsewhere'), schemaSql({ schema: 'elsewhere' }));
  });

  it('applied to a fresh schema, gives the same tables, columns, indexes and constraints as migrate()', async () => {
    const viaMigrate = freshSchema();
    const viaFile = freshSchema();
    await migrate(pool, { schema: viaMigrate });
    await pool.query(inSchema(readSchemaFile().body, viaFile));

    const expected = await catalog(pool, viaMigrate);
    assert.deepEqual(expected.tables, ['archived_job', 'job', 'job_cancel_requests', 'job_lost_transactions', 'job_migrations', 'job_queue_states', 'job_schedules', 'job_workers']);
    assert.ok(expected.columns.length > 10 && expected.constraints.length >= 4);
    assert.deepEqual(expected.indexes.map((i) => i.split(':')[0]).sort(), [
      'archived_job_finished_idx',
      'archived_job_pkey',
      'archived_job_unsuccessful_idx',
      'job_cancel_requests_pkey',
      'job_claim_order_idx',
      'job_lost_reported_idx',
      'job_lost_transactions_pkey',
      'job_migrations_pkey',
      'job_pkey',
      'job_queue_states_pkey',
      'job_schedules_pkey',
      'job_unique_key_idx',
      'job_workers_pkey',
    ]);
    assert.deepEqual(await catalog(pool, viaFile), expected);

    // migrate() recognizes it as installed, and the library works on it
    assert.deepEqual(await migrate(pool, { schema: viaFile }), {
      fromVersion: LATEST_SCHEMA_VERSION,
      toVersion: LATEST_SCHEMA_VERSION,
      applied: [],
    });
    const jobId = await enqueue(pool, 'from-file', { ok: true }, { schema: viaFile });
    assert.equal((await pool.query(`SELECT 1 FROM "${viaFile}".job WHERE job_id = $1`, [jobId])).rowCount, 1);
    const worker = createWorker(pool, { schema: viaFile, handlers: { x: () => {} }, log: silentLogger });
    await worker.start();
    await worker.stop();
  });

  it('applies as is (schema "proletarian") inside a transaction that is rolled back', async (t) => {
    const client = await pool.connect();
    try {
      const existing = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'proletarian'`);
      if (existing.rowCount !== 0) {
        t.skip('schema "proletarian" already exists in this database; the renamed copy above covers the file');
        return;
      }
      await client.query('BEGIN');
      try {
        await client.query(readFileSync(schemaFile, 'utf8'));
        const applied = await catalog(client, 'proletarian');
        const reference = freshSchema();
        await migrate(pool, { schema: reference });
        assert.deepEqual(applied, await catalog(pool, reference));
      } finally {
        await client.query('ROLLBACK');
      }
      const left = await client.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'proletarian'`);
      assert.equal(left.rowCount, 0, 'nothing left behind');
    } finally {
      client.release();
    }
  });

  it('schemaSql() honours custom names', () => {
    const sql = schemaSql({ schema: 'app', jobTable: 'work', archivedJobTable: 'work_done' });
    assert.match(sql, /CREATE TABLE "app"\."work" \(/);
    assert.match(sql, /CREATE TABLE "app"\."work_done" \(/);
    assert.match(sql, /"app"\."work_migrations"/);
    assert.match(sql, /CREATE INDEX "work_claim_idx"/);
    assert.match(sql, /CREATE INDEX "work_done_finished_at_idx" ON "app"\."work_done" \(finished_at\)/);
    assert.match(sql, /CREATE INDEX "work_done_finished_idx" ON "app"\."work_done" \(finished_at\) INCLUDE/);
    assert.doesNotMatch(sql, /proletarian|"job"|archived_job/);
  });
});
