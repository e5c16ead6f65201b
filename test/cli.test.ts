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
    const all = Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1).join(', ');
    assert.equal(first.stdout, `migrated from version 0 to ${LATEST_SCHEMA_VERSION} (applied ${all})\n`);
    assert.equal(first.stderr, '');
    assert.deepEqual(await tablesOf(schema), ['archived_job', 'job', 'job_lost_transactions', 'job_migrations', 'job_workers']);

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
    assert.deepEqual(await tablesOf(schema), ['done', 'work', 'work_lost_transactions', 'work_migrations', 'work_workers']);
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
    assert.deepEqual(lines[0], ['queue', 'job type', 'due', 'scheduled', 'leased', 'retrying', 'oldest due']);
    assert.deepEqual(lines[1]?.slice(0, 6), ['default', 'email', '2', '1', '0', '0']);
    assert.deepEqual(lines[2]?.slice(0, 6), ['slow', 'export', '1', '0', '0', '0']);
    assert.equal(lines.length, 3);
  });

  /** Adds `count` archived jobs with `status` to `schema`, finished `age` (an interval) ago. */
  const addArchived = (schema: string, count: number, age: string, status = 'success') =>
    pool.query(
      `INSERT INTO "${schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at)
       SELECT gen_random_uuid(), 'default', 'old', '{}', 1, now(), now(), $3, now() - $2::interval
       FROM generate_series(1, $1::int)`,
      [count, age, status],
    );
  const archivedCount = async (schema: string, status?: string) =>
    (
      await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${schema}".archived_job WHERE $1::text IS NULL OR status = $1`,
        [status ?? null],
      )
    ).rows[0]!.n;

  it('prune deletes archived jobs older than --older-than, in batches, and says how many', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    await addArchived(schema, 3, '40 days');
    await addArchived(schema, 2, '40 days', 'failure');
    await addArchived(schema, 4, '1 day');

    const result = await run(['prune', '--schema', schema, '--older-than', '30d', '--batch-size', '2']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^deleted 5 archived jobs finished before \d{4}-\d\d-\d\dT[\d:.]+Z in 3 batches\n$/);
    assert.equal(result.stderr, '');
    assert.equal(await archivedCount(schema), 4);

    const again = await run(['prune', '--schema', schema, '--older-than', '30d']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^deleted 0 archived jobs .* in 0 batches\n$/);
  });

  it('prune takes --status and --max-batches, and says when older jobs remain', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    await addArchived(schema, 3, '40 days', 'failure');
    await addArchived(schema, 3, '40 days', 'success');

    const bounded = await run([
      'prune', '--schema', schema, '--older-than', '30d', '--status', 'failure', '--batch-size', '1', '--max-batches', '2',
    ]);
    assert.equal(bounded.code, 0, bounded.stderr);
    assert.match(bounded.stdout, /^deleted 2 archived jobs finished before \S+ in 2 batches; older ones remain\n$/);
    assert.equal(await archivedCount(schema, 'failure'), 1);
    assert.equal(await archivedCount(schema, 'success'), 3);

    const rest = await run(['prune', '--schema', schema, '--older-than', '30d', '--status', 'failure']);
    assert.match(rest.stdout, /^deleted 1 archived job finished before \S+ in 1 batch\n$/);
    assert.equal(await archivedCount(schema), 3);
  });

  it('prune reads --older-than in days, hours, minutes, seconds or milliseconds', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    for (const [text, ms] of [
      ['30d', 30 * 86_400_000],
      ['12h', 12 * 3_600_000],
      ['15m', 15 * 60_000],
      ['3600s', 3_600_000],
      ['90000ms', 90_000],
      ['86400000', 86_400_000],
      ['0', 0],
    ] as const) {
      const before = Date.now();
      const result = await run(['prune', '--schema', schema, '--older-than', text]);
      assert.equal(result.code, 0, `${text}: ${result.stderr}`);
      const cutoff = Date.parse(/finished before (\S+) in/.exec(result.stdout)?.[1] ?? '');
      assert.ok(
        cutoff >= before - ms - 5_000 && cutoff <= Date.now() - ms + 5_000,
        `${text}: cutoff ${new Date(cutoff).toISOString()} should be ${ms} ms ago`,
      );
    }
  });

  it('prune with a missing or invalid option exits 1, names it and deletes nothing', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    await addArchived(schema, 2, '40 days');
    for (const [args, message] of [
      [[], /--older-than is required/],
      [['--older-than', '30x'], /--older-than must be a whole number with an optional unit.*"30x"/],
      [['--older-than=-5d'], /--older-than must be .*"-5d"/],
      [['--older-than', '1.5h'], /--older-than must be/],
      [['--older-than', '30d', '--status', 'maybe'], /--status must be success or failure; got "maybe"/],
      [['--older-than', '30d', '--batch-size', '0'], /--batch-size must be a whole number ≥ 1; got "0"/],
      [['--older-than', '30d', '--max-batches', 'all'], /--max-batches must be a whole number ≥ 1; got "all"/],
    ] as const) {
      const result = await run(['prune', '--schema', schema, ...args]);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stdout}`);
      assert.match(result.stderr, message);
      assert.equal(result.stdout, '');
    }
    assert.equal(await archivedCount(schema), 2);
  });

  it('prune without DATABASE_URL exits 1 with a clear message', async () => {
    const result = await run(['prune', '--older-than', '30d'], envWithoutDatabase());
    assert.equal(result.code, 1);
    assert.match(result.stderr, /proletarian prune: set DATABASE_URL or pass --database-url/);
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
      assert.match(result.stdout, /prune .*\n.*\n[\s\S]*--older-than <duration>/);
    }
  });
});
