import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { enqueueMany, LATEST_SCHEMA_VERSION, schemaSql } from 'proletarian';
import { databaseUrl, tablesIn } from './helpers/database.js';

// build/test/cli.test.js -> dist/cli.js
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI and resolves with its exit code and output, whatever the code. */
function run(args: string[], env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: databaseUrl() }): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { env, timeout: 15_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(error); // could not start, or killed by the timeout
        return;
      }
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** The environment without DATABASE_URL (nor PG* variables that could point somewhere). */
function envWithoutDatabase(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => key !== 'DATABASE_URL' && !key.startsWith('PG')),
  );
}

describe('the proletarian CLI', () => {
  let pool: pg.Pool;
  const schemas: string[] = [];
  const freshSchema = () => {
    const schema = `test_cli_${randomBytes(6).toString('hex')}`;
    schemas.push(schema);
    return schema;
  };
  const tablesOf = (schema: string) => tablesIn(pool, schema);

  before(() => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
  });
  after(async () => {
    for (const schema of schemas) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it('migrate installs the schema, then says it is up to date', async () => {
    const schema = freshSchema();
    const first = await run(['migrate', '--schema', schema]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`migrated from version 0 to ${LATEST_SCHEMA_VERSION} \\(applied 1`));
    assert.equal(first.stderr, '');
    assert.deepEqual(await tablesOf(schema), ['archived_job', 'job', 'job_migrations']);

    const second = await run(['migrate', '--schema', schema]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, new RegExp(`up to date \\(version ${LATEST_SCHEMA_VERSION}\\)`));
  });

  it('migrate takes --database-url and custom table names', async () => {
    const schema = freshSchema();
    const result = await run(
      ['migrate', '--database-url', databaseUrl(), '--schema', schema, '--job-table', 'work', '--archived-job-table', 'done'],
      envWithoutDatabase(),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await tablesOf(schema), ['done', 'work', 'work_migrations']);
  });

  it('migrate without DATABASE_URL exits 1 with a clear message', async () => {
    const result = await run(['migrate', '--schema', freshSchema()], envWithoutDatabase());
    assert.equal(result.code, 1);
    assert.match(result.stderr, /DATABASE_URL/);
    assert.match(result.stderr, /--database-url/);
    assert.equal(result.stdout, '');
  });

  it('migrate with an invalid schema name exits 1, names the option and creates nothing', async () => {
    const result = await run(['migrate', '--schema', 'Bad"; DROP TABLE x; --']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /schema must be a lower-case SQL identifier/);
    const created = await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname LIKE 'Bad%'`);
    assert.equal(created.rowCount, 0);
  });

  it('migrate against an unreachable database exits 1 with the error', async () => {
    const result = await run(['migrate', '--database-url', 'postgres://nobody@127.0.0.1:1/nowhere'], envWithoutDatabase());
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^proletarian: .*(ECONNREFUSED|connect)/);
  });

  it('stats prints queued jobs per queue and job type', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    const empty = await run(['stats', '--schema', schema]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, 'no queued jobs\n');

    await enqueueMany(
      pool,
      [
        { jobType: 'email', payload: 1 },
        { jobType: 'email', payload: 2 },
        { jobType: 'email', payload: 3, processIn: 60_000 },
        { jobType: 'export', payload: 4, queue: 'slow' },
      ],
      { schema },
    );
    const result = await run(['stats', '--schema', schema]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));
    assert.deepEqual(lines[0], ['queue', 'job type', 'due', 'scheduled', 'retrying', 'oldest due']);
    assert.deepEqual(lines[1]?.slice(0, 5), ['default', 'email', '2', '1', '0']);
    assert.deepEqual(lines[2]?.slice(0, 5), ['slow', 'export', '1', '0', '0']);
    assert.equal(lines.length, 3);
  });

  it('schema prints the SQL of schemaSql(), without touching a database', async () => {
    const result = await run(['schema'], envWithoutDatabase());
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /CREATE TABLE "proletarian"\."job" \(/);
    assert.equal(result.stdout, schemaSql());
    const custom = await run(['schema', '--schema', 'app', '--job-table', 'work'], envWithoutDatabase());
    assert.equal(custom.code, 0, custom.stderr);
    assert.equal(custom.stdout, schemaSql({ schema: 'app', jobTable: 'work' }));
  });

  it('an unknown command exits 1 with the usage', async () => {
    const result = await run(['frobnicate']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /unknown command "frobnicate"/);
    assert.match(result.stderr, /Usage: proletarian <command>/);
  });

  it('an unknown option exits 1 and names it', async () => {
    const result = await run(['migrate', '--shema', 'x']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /--shema/);
  });

  it('no command prints the usage and exits 1', async () => {
    const result = await run([]);
    assert.equal(result.code, 1);
    assert.match(result.stdout + result.stderr, /Usage: proletarian <command>/);
  });

  it('--help and -h print the usage and exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const result = await run([flag], envWithoutDatabase());
      assert.equal(result.code, 0, `${flag}: ${result.stderr}`);
      assert.match(result.stdout, /Usage: proletarian <command>/);
      assert.match(result.stdout, /migrate/);
      assert.match(result.stdout, /schema/);
    }
  });
});
