import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createWorker, enqueueMany, LATEST_SCHEMA_VERSION, listSchedules, queueStats, schemaSql, silentLogger } from 'proletarian';
import { databaseUrl, tablesIn, waitFor } from './helpers/database.js';
import { hasScript, onTerminal } from './helpers/terminal.js';

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
    assert.deepEqual(await tablesOf(schema), ['archived_job', 'job', 'job_cancel_requests', 'job_lost_transactions', 'job_migrations', 'job_queue_states', 'job_schedules', 'job_workers']);

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
    assert.deepEqual(await tablesOf(schema), ['done', 'work', 'work_cancel_requests', 'work_lost_transactions', 'work_migrations', 'work_queue_states', 'work_schedules', 'work_workers']);
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

  it('migrate with a login the server refuses exits 1 and says what to check', async () => {
    const url = new URL(databaseUrl());
    url.username = `no_such_role_${randomBytes(4).toString('hex')}`;
    const result = await run(['migrate', '--database-url', url.toString()], envWithoutDatabase());
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^proletarian: cannot connect to the database: role "no_such_role_\w+" does not exist \(SQLSTATE 28000\); check the user name and password/,
    );
  });

  it('stats on a schema never migrated exits 1 and says to run migrate', async () => {
    const result = await run(['stats', '--schema', `never_${randomBytes(4).toString('hex')}`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^proletarian: cannot count jobs: the table .* does not exist; run .*npx proletarian migrate/);
  });

  it('stats prints queued jobs per queue and job type', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    const empty = await run(['stats', '--schema', schema]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, 'no queued jobs, and none finished in the last day\n');

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
    assert.deepEqual(lines[0], [
      'queue', 'job type', 'due', 'scheduled', 'leased', 'retrying', 'cancelling', 'oldest due', 'paused',
      'succeeded 1h', 'failed 1h', 'succeeded 1d', 'failed 1d',
    ]);
    assert.deepEqual(lines[1]?.slice(0, 7), ['default', 'email', '2', '1', '0', '0', '0']);
    assert.deepEqual(lines[2]?.slice(0, 7), ['slow', 'export', '1', '0', '0', '0', '0']);
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

    const result = await run(['prune', '--schema', schema, '--older-than', '30d', '--batch-size', '2', '--yes']);
    assert.equal(result.code, 0, result.stderr);
    const [announced, done] = result.stdout.split('\n');
    assert.match(announced!, /^deleting 5 archived jobs finished before (\d{4}-\d\d-\d\dT[\d:.]+Z) \(30 days ago\)$/);
    const cutoff = /before (\S+) /.exec(announced!)![1]!;
    assert.equal(done, `deleted 5 archived jobs finished before ${cutoff} in 3 batches`);
    // Not a terminal: the progress is plain lines on stderr, one per batch.
    assert.deepEqual(result.stderr.trimEnd().split('\n').map((line) => line.replace(/ \[.*$/, '')), [
      'deleted 2/5',
      'deleted 4/5',
      'deleted 5/5',
    ]);
    assert.equal(await archivedCount(schema), 4);

    const again = await run(['prune', '--schema', schema, '--older-than', '30d', '-y']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^no archived jobs finished before \S+ \(30 days ago\); nothing to delete\n$/);
  });

  it('prune without --yes says what it would delete, deletes nothing, and asks for --yes', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    await addArchived(schema, 3, '40 days');
    await addArchived(schema, 1, '40 days', 'failure');
    const before = Date.now();
    const result = await run(['prune', '--schema', schema, '--older-than', '30d']);
    assert.equal(result.code, 1);
    const cutoff = /^would delete 4 archived jobs finished before (\S+) \(30 days ago\)\n$/.exec(result.stdout)?.[1];
    assert.ok(cutoff, result.stdout);
    assert.ok(Math.abs(Date.parse(cutoff) - (before - 30 * 86_400_000)) < 10_000, cutoff);
    assert.match(result.stderr, /nothing deleted; pass --yes to delete them, or --dry-run to only count/);
    assert.equal(await archivedCount(schema), 4);

    const dry = await run(['prune', '--schema', schema, '--older-than', '30d', '--status', 'failure', '--dry-run', '--yes']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^would delete 1 archived job with status failure finished before \S+ \(30 days ago\); dry run, nothing deleted\n$/);
    assert.equal(await archivedCount(schema), 4);

    const bounded = await run(['prune', '--schema', schema, '--older-than', '720h', '--batch-size', '1', '--max-batches', '2', '--dry-run']);
    assert.match(bounded.stdout, /^would delete 4 archived jobs finished before \S+ \(30 days ago\) \(at most 2 of them, by --max-batches\);/);
  });

  // A terminal of its own, so that prune can ask.
  it('prune on a terminal asks, and deletes only on yes', { skip: hasScript ? false : 'script(1) is not installed' }, async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    await addArchived(schema, 2, '40 days');
    const env = { ...process.env, DATABASE_URL: databaseUrl() };
    // Answer once asked, as a person would.
    const prune = (answer: string) =>
      onTerminal([cli, 'prune', '--schema', schema, '--older-than', '30d'], env, (shown) =>
        shown.includes('[y/N]') ? `${answer}\n` : null,
      );
    const declined = await prune('n');
    assert.match(declined.output, /Delete 2 archived jobs finished before \S+ \(30 days ago\)\? \[y\/N\]/);
    assert.match(declined.output, /nothing deleted/);
    assert.equal(declined.code, 1);
    assert.equal(await archivedCount(schema), 2);
    const accepted = await prune('y');
    assert.match(accepted.output, /deleted 2 archived jobs finished before \S+ in 1 batch/);
    // The progress is one line, redrawn in place.
    assert.match(accepted.output, /\r\x1b\[2Kdeleted 2\/2 \[#{30}\] 100%\r?\n/);
    assert.equal(accepted.code, 0);
    assert.equal(await archivedCount(schema), 0);
  });

  it('prune takes --status and --max-batches, and says when older jobs remain', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    await addArchived(schema, 3, '40 days', 'failure');
    await addArchived(schema, 3, '40 days', 'success');

    const bounded = await run([
      'prune', '--schema', schema, '--older-than', '30d', '--status', 'failure', '--batch-size', '1', '--max-batches', '2', '--yes',
    ]);
    assert.equal(bounded.code, 0, bounded.stderr);
    assert.match(bounded.stdout, /\ndeleted 2 archived jobs finished before \S+ in 2 batches; older ones remain\n$/);
    assert.equal(await archivedCount(schema, 'failure'), 1);
    assert.equal(await archivedCount(schema, 'success'), 3);

    const rest = await run(['prune', '--schema', schema, '--older-than', '30d', '--status', 'failure', '--yes']);
    assert.match(rest.stdout, /^deleting 1 archived job with status failure .*\ndeleted 1 archived job finished before \S+ in 1 batch\n$/);
    assert.equal(await archivedCount(schema), 3);
  });

  it('prune reads --older-than in weeks, days, hours, minutes, seconds or milliseconds', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    for (const [text, ms, words] of [
      ['2w', 14 * 86_400_000, '2 weeks'],
      ['30d', 30 * 86_400_000, '30 days'],
      ['12h', 12 * 3_600_000, '12 hours'],
      ['90m', 90 * 60_000, '90 minutes'],
      ['3600s', 3_600_000, '1 hour'],
      ['90000ms', 90_000, '90 seconds'],
      ['0s', 0, '0 milliseconds'],
    ] as const) {
      const before = Date.now();
      const result = await run(['prune', '--schema', schema, '--older-than', text]);
      assert.equal(result.code, 0, `${text}: ${result.stderr}`);
      const [, iso, ago] = /finished before (\S+) \((.*) ago\)/.exec(result.stdout) ?? [];
      const cutoff = Date.parse(iso ?? '');
      assert.equal(ago, words);
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
      [['--older-than', '1'], /--older-than needs a unit: 1d \(days\), 1h \(hours\), 1m \(minutes\) or 1s \(seconds\); a bare number is refused/],
      [['--older-than', '86400000', '--yes'], /--older-than needs a unit: 86400000d/],
      [['--older-than', '30x'], /--older-than must be a whole number with a unit, d \(days\).*"30x"/],
      [['--older-than=-5d'], /--older-than must be .*"-5d"/],
      [['--older-than', '1.5h'], /--older-than must be/],
      [['--older-than', '30d', '--status', 'maybe'], /--status must be success or failure or cancelled or discarded; got "maybe"/],
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
    const result = await run(['prune', '--older-than', '30d', '--yes'], envWithoutDatabase());
    assert.equal(result.code, 1);
    assert.match(result.stderr, /proletarian prune: set DATABASE_URL or pass --database-url/);
  });

  it('pause and resume a queue, saying what changed', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    await enqueueMany(pool, [{ jobType: 'email', payload: 1, queue: 'mail' }], { schema });
    const paused = async () => (await queueStats(pool, { schema }))[0]!.paused;

    const pause = await run(['pause', 'mail', '--schema', schema]);
    assert.equal(pause.code, 0, pause.stderr);
    assert.equal(pause.stdout, 'paused queue "mail"\n');
    assert.equal(await paused(), true);
    assert.equal((await run(['pause', 'mail', '--schema', schema])).stdout, 'queue "mail" was already paused\n');
    const stats = await run(['stats', '--schema', schema]);
    assert.deepEqual(stats.stdout.trimEnd().split('\n')[1]?.split(/\s{2,}/)[8], 'yes');

    const resume = await run(['resume', 'mail', '--schema', schema]);
    assert.equal(resume.code, 0, resume.stderr);
    assert.equal(resume.stdout, 'resumed queue "mail"\n');
    assert.equal(await paused(), false);
    assert.equal((await run(['resume', 'mail', '--schema', schema])).stdout, 'queue "mail" was not paused\n');

    const missing = await run(['pause', '--schema', schema]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /pause needs a queue name, e\.g\. proletarian pause default/);
    const blank = await run(['resume', ' ', '--schema', schema]);
    assert.equal(blank.code, 1);
    assert.match(blank.stderr, /queue must not be empty/);
  });

  it('schedules lists the schedules workers have run, with their next runs', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    const empty = await run(['schedules', '--schema', schema]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, 'no schedules\n');

    const worker = createWorker(pool, {
      schema,
      log: silentLogger,
      handlers: { other: () => {} },
      schedules: {
        nightly: { cron: '0 3 * * *', timezone: 'Europe/Oslo', jobType: 'report', payload: {}, queue: 'reports' },
        tick: { cron: '* * * * * *', jobType: 'tick', payload: {} },
      },
    });
    await worker.start();
    try {
      await waitFor(async () => (await listSchedules(pool, { schema })).length === 2, { what: 'both schedules stored' });
    } finally {
      await worker.stop();
    }
    const result = await run(['schedules', '--schema', schema, '--next', '2']);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n').map((line) => line.split(/\s{2,}/));
    assert.deepEqual(lines[0], ['name', 'cron', 'timezone', 'job type', 'queue', 'last run', 'next runs']);
    assert.deepEqual(lines[1]?.slice(0, 6), ['nightly', '0 3 * * *', 'Europe/Oslo', 'report', 'reports', '-']);
    const nightlyRuns = lines[1]![6]!.split(', ').map((run) => new Date(run));
    assert.equal(nightlyRuns.length, 2);
    assert.equal(nightlyRuns[1]!.getTime() - nightlyRuns[0]!.getTime(), 24 * 3_600_000);
    assert.match(nightlyRuns[0]!.toISOString(), /T0[12]:00:00\.000Z$/, '03:00 in Oslo');
    assert.deepEqual(lines[2]?.slice(0, 5), ['tick', '* * * * * *', 'UTC', 'tick', 'default']);
    assert.match(lines[2]![5]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    assert.equal(lines.length, 3);

    const bad = await run(['schedules', '--schema', schema, '--next', 'all']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--next must be a whole number ≥ 1; got "all"/);
  });

  it('cancel cancels a waiting job, and says when a job is running, finished or unknown', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    const [waiting, running] = await enqueueMany(
      pool,
      [
        { jobType: 'email', payload: 1 },
        { jobType: 'email', payload: 2 },
      ],
      { schema },
    );
    const cancelled = await run(['cancel', waiting!, '--schema', schema]);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(cancelled.stdout, `cancelled job ${waiting}\n`);
    assert.equal((await run(['cancel', waiting!, '--schema', schema])).stdout, `job ${waiting} has already finished; nothing to cancel\n`);

    const holder = await pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${schema}".job WHERE job_id = $1 FOR UPDATE`, [running]);
      const asked = await run(['cancel', running!, '--schema', schema]);
      assert.equal(asked.code, 0, asked.stderr);
      assert.equal(asked.stdout, `job ${running} is running: its worker was asked to cancel it\n`);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }

    const unknown = await run(['cancel', '01890000-0000-7000-8000-000000000000', '--schema', schema]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'proletarian: no job 01890000-0000-7000-8000-000000000000\n');
    const bad = await run(['cancel', 'nope', '--schema', schema]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /jobId must be a job id .*"nope"/);
    assert.match((await run(['cancel', '--schema', schema])).stderr, /cancel takes one job id/);
  });

  it('retry puts one job back, or every failed one, narrowed by --queue and --type, and says how many', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    const archive = (status: string, queue: string, jobType: string) =>
      pool
        .query<{ job_id: string }>(
          `INSERT INTO "${schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status)
           VALUES (gen_random_uuid(), $1, $2, '{}', 1, now(), now(), $3) RETURNING job_id`,
          [queue, jobType, status],
        )
        .then((result) => result.rows[0]!.job_id);
    const one = await archive('cancelled', 'default', 'email');
    await archive('failure', 'default', 'email');
    await archive('failure', 'default', 'email');
    await archive('failure', 'default', 'export');
    await archive('failure', 'slow', 'email');
    await archive('success', 'default', 'email');

    const single = await run(['retry', one, '--schema', schema]);
    assert.equal(single.code, 0, single.stderr);
    assert.equal(single.stdout, `retried job ${one}\n`);
    const again = await run(['retry', one, '--schema', schema]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no job .* is archived as failure, cancelled or discarded/);

    const narrowed = await run(['retry', '--failed', '--queue', 'default', '--type', 'email', '--schema', schema]);
    assert.equal(narrowed.code, 0, narrowed.stderr);
    assert.equal(narrowed.stdout, 'retried 2 jobs archived as failure, on queue "default", of type "email"\n');
    const rest = await run(['retry', '--failed', '--since', '1h', '--schema', schema]);
    assert.match(rest.stdout, /^retried 2 jobs archived as failure, finished since \S+\n$/);
    assert.equal((await run(['retry', '--failed', '--schema', schema])).stdout, 'retried 0 jobs archived as failure\n');
    const queued = await pool.query(`SELECT 1 FROM "${schema}".job`);
    assert.equal(queued.rowCount, 5);

    for (const [args, message] of [
      [[], /retry needs a job id, or --failed, --cancelled or --discarded/],
      [[one, '--failed'], /retry takes a job id or --failed/],
      [['--failed', '--since', 'soon'], /--since must be a whole number with a unit/],
    ] as const) {
      const result = await run(['retry', ...args, '--schema', schema]);
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.stderr, message);
    }
  });

  /** Adds `count` jobs archived as failure, finished a minute apart (so that batches split between them); their ids. */
  const addFailed = async (schema: string, count: number) =>
    (
      await pool.query<{ job_id: string }>(
        `INSERT INTO "${schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at)
         SELECT gen_random_uuid(), 'default', 'email', '{}', 1, now(), now(), 'failure', now() - n * interval '1 minute'
         FROM generate_series(1, $1::int) AS n
         RETURNING job_id`,
        [count],
      )
    ).rows.map((row) => row.job_id);
  const queuedCount = async (schema: string) =>
    (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schema}".job`)).rows[0]!.n;

  it('retry --failed reports its progress on stderr, a plain line per batch when stderr is not a terminal', async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    await addFailed(schema, 5);
    const result = await run(['retry', '--failed', '--batch-size', '2', '--schema', schema]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'retried 5 jobs archived as failure\n');
    assert.deepEqual(result.stderr.trimEnd().split('\n'), [
      'retried 2/5 [############..................] 40%',
      'retried 4/5 [########################......] 80%',
      'retried 5/5 [##############################] 100%',
    ]);
    assert.equal(await queuedCount(schema), 5);
    assert.equal(await archivedCount(schema), 0);

    // Nothing to retry: no progress at all.
    const none = await run(['retry', '--failed', '--schema', schema]);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, 'retried 0 jobs archived as failure\n');
    assert.equal(none.stderr, '');
  });

  // A terminal of its own: the progress is one line, redrawn in place, as prune's.
  it('retry --failed on a terminal redraws one progress line', { skip: hasScript ? false : 'script(1) is not installed' }, async () => {
    const schema = freshSchema();
    assert.equal((await run(['migrate', '--schema', schema])).code, 0);
    await addFailed(schema, 3);
    const env = { ...process.env, DATABASE_URL: databaseUrl() };
    const { code, output } = await onTerminal([cli, 'retry', '--failed', '--batch-size', '2', '--schema', schema], env, () => null);
    assert.equal(code, 0, output);
    assert.match(
      output,
      /\r\x1b\[2Kretried 2\/3 \[#{20}\.{10}\] 66%\r\x1b\[2Kretried 3\/3 \[#{30}\] 100%\r?\nretried 3 jobs archived as failure\r?\n/,
    );
    assert.equal(await queuedCount(schema), 3);
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
      for (const command of ['stats', 'jobs list', 'jobs show', 'worker', 'prune', 'pause', 'resume', 'schedules', 'cancel', 'retry', 'dashboard']) {
        assert.match(result.stdout, new RegExp(`^  ${command}  `, 'm'));
      }
    }
  });
});
