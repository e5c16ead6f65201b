import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { enqueue, migrate } from 'proletarian';
import { databaseUrl } from './helpers/database.js';
import { hasScript, onTerminal } from './helpers/terminal.js';

// The read commands (jobs list with its filters, jobs show, stats with its
// archive counts and --watch), --json on each, --version, per-command --help and the messages
// for mistyped flags.

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { env: { ...process.env, DATABASE_URL: databaseUrl() }, timeout: 15_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(error);
        return;
      }
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

describe('the CLI read commands', () => {
  let pool: pg.Pool;
  const schema = `test_cli_read_${randomBytes(6).toString('hex')}`;
  let waiting: string[] = [];
  let scheduled = '';
  let failed = '';

  before(async () => {
    pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
    await migrate(pool, { schema });
    waiting = [];
    for (let i = 0; i < 3; i++) {
      waiting.push(await enqueue(pool, 'email', { to: `user${i}@example.com` }, { schema, uniqueKey: i === 0 ? 'first' : undefined }));
    }
    scheduled = await enqueue(pool, 'report', { n: 1 }, { schema, queue: 'slow', processIn: 3_600_000 });
    const error = { name: 'TypeError', message: 'boom', stack: 'TypeError: boom\n    at handler (jobs.js:1:1)', attempt: 3 };
    const { rows } = await pool.query<{ job_id: string }>(
      `INSERT INTO "${schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at, last_error, priority)
       VALUES (gen_random_uuid(), 'default', 'email', '{"to":"x@example.com"}', 3, now(), now(), 'failure', now() - interval '10 minutes', $1, 5),
              (gen_random_uuid(), 'default', 'email', '{}', 1, now(), now(), 'success', now() - interval '2 hours', NULL, 0),
              (gen_random_uuid(), 'default', 'email', '{}', 1, now(), now(), 'success', now() - interval '3 days', NULL, 0)
       RETURNING job_id`,
      [JSON.stringify(error)],
    );
    failed = rows[0]!.job_id;
  });
  after(async () => {
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await pool.end();
  });

  it('jobs list shows waiting jobs by default, oldest first, and pages with --limit and --after', async () => {
    const all = await run(['jobs', 'list', '--schema', schema]);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^id\s+queue\s+job type\s+priority\s+attempts\s+due\s+payload\s+last error$/);
    assert.deepEqual(lines.slice(1).map((line) => line.split(' ')[0]), waiting);

    const first = await run(['jobs', 'list', '--schema', schema, '--limit', '2', '--json']);
    const page1 = JSON.parse(first.stdout) as { jobs: { id: string; payload: unknown; uniqueKey: string | null }[]; next: string | null };
    assert.deepEqual(page1.jobs.map((job) => job.id), waiting.slice(0, 2));
    assert.deepEqual(page1.jobs[0]!.payload, { to: 'user0@example.com' });
    assert.equal(page1.jobs[0]!.uniqueKey, 'first');
    assert.ok(page1.next);
    const second = await run(['jobs', 'list', '--schema', schema, '--limit', '2', '--json', '--after', page1.next]);
    const page2 = JSON.parse(second.stdout) as { jobs: { id: string }[]; next: string | null };
    assert.deepEqual(page2.jobs.map((job) => job.id), waiting.slice(2));
    assert.equal(page2.next, null);

    const text = await run(['jobs', 'list', '--schema', schema, '--limit', '2']);
    assert.match(text.stdout, new RegExp(`^more: add --after ${page1.next}$`, 'm'));
  });

  it('jobs list filters by state, queue, type and time', async () => {
    const list = async (...args: string[]) => {
      const result = await run(['jobs', 'list', '--schema', schema, '--json', ...args]);
      assert.equal(result.code, 0, result.stderr);
      return (JSON.parse(result.stdout) as { jobs: { id: string; queue: string; jobType: string; state: string }[] }).jobs;
    };
    const ids = async (...args: string[]) => (await list(...args)).map((job) => job.id);
    assert.equal((await list('--state', 'scheduled')).length, 1);
    // The matching jobs come back, and only they.
    assert.deepEqual(await ids('--queue', 'default'), waiting);
    assert.deepEqual(await ids('--type', 'email'), waiting);
    assert.deepEqual(await ids('--queue', 'default', '--type', 'email'), waiting);
    assert.deepEqual(await ids('--state', 'scheduled', '--queue', 'slow'), [scheduled]);
    assert.deepEqual(await ids('--state', 'scheduled', '--type', 'report'), [scheduled]);
    assert.deepEqual(await ids('--state', 'scheduled', '--queue', 'slow', '--type', 'report'), [scheduled]);
    assert.deepEqual(await ids('--state', 'failed', '--type', 'email', '--queue', 'default'), [failed]);
    assert.equal((await list('--state', 'scheduled', '--queue', 'default')).length, 0);
    assert.equal((await list('--state', 'scheduled', '--queue', 'slow', '--type', 'email')).length, 0);
    assert.equal((await list('--queue', 'slow')).length, 0);
    assert.equal((await list('--type', 'report')).length, 0);
    assert.equal((await list('--state', 'succeeded')).length, 2);
    assert.equal((await list('--state', 'succeeded', '--since', '1d')).length, 1);
    assert.equal((await list('--state', 'succeeded', '--until', '1d')).length, 1);
    const failures = await list('--state', 'failed', '--since', '1h');
    assert.deepEqual(failures.map((job) => job.state), ['failed']);

    const bad = await run(['jobs', 'list', '--schema', schema, '--state', 'done']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--state must be one of waiting, scheduled, running, retrying, succeeded, failed, cancelled, discarded; got "done"/);
    const bare = await run(['jobs', 'list', '--schema', schema, '--since', '5']);
    assert.match(bare.stderr, /--since needs a unit/);
  });

  it('jobs list --since and --until select waiting and scheduled jobs by their due time', async () => {
    // A schema of its own: the jobs here are due at chosen times.
    const timed = `${schema}_timed`;
    await migrate(pool, { schema: timed });
    try {
      // Due `offset` (an interval) from now: enqueue takes a past time for now, so the past is set here.
      const dueAt = async (offset: string) => {
        const jobId = await enqueue(pool, 'timed', { offset }, { schema: timed });
        await pool.query(`UPDATE "${timed}".job SET process_at = now() + $2::interval WHERE job_id = $1`, [jobId, offset]);
        return jobId;
      };
      const dueTwoHoursAgo = await dueAt('-2 hours');
      const dueTenMinutesAgo = await dueAt('-10 minutes');
      const dueNow = await dueAt('0 seconds');
      const inAnHour = await dueAt('1 hour');
      const inTwoDays = await dueAt('2 days');
      const ids = async (...args: string[]) => {
        const result = await run(['jobs', 'list', '--schema', timed, '--json', ...args]);
        assert.equal(result.code, 0, result.stderr);
        return (JSON.parse(result.stdout) as { jobs: { id: string }[] }).jobs.map((job) => job.id);
      };
      assert.deepEqual(await ids('--state', 'waiting'), [dueTwoHoursAgo, dueTenMinutesAgo, dueNow]);
      assert.deepEqual(await ids('--state', 'waiting', '--since', '1h'), [dueTenMinutesAgo, dueNow]);
      assert.deepEqual(await ids('--state', 'waiting', '--since', '3h'), [dueTwoHoursAgo, dueTenMinutesAgo, dueNow]);
      assert.deepEqual(await ids('--state', 'waiting', '--until', '1h'), [dueTwoHoursAgo]);
      assert.deepEqual(await ids('--state', 'waiting', '--until', '5m'), [dueTwoHoursAgo, dueTenMinutesAgo]);
      assert.deepEqual(await ids('--state', 'waiting', '--since', '1h', '--until', '5m'), [dueTenMinutesAgo]);
      assert.deepEqual(await ids('--state', 'waiting', '--since', '3h', '--until', '1h'), [dueTwoHoursAgo]);
      // A scheduled job is due later than any time ago: --since keeps it, --until leaves it out.
      assert.deepEqual(await ids('--state', 'scheduled'), [inAnHour, inTwoDays]);
      assert.deepEqual(await ids('--state', 'scheduled', '--since', '1m'), [inAnHour, inTwoDays]);
      assert.deepEqual(await ids('--state', 'scheduled', '--until', '1m'), []);
      assert.deepEqual(await ids('--state', 'scheduled', '--since', '1d', '--until', '1m'), []);
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${timed}" CASCADE`);
    }
  });

  it('jobs show prints the payload, attempts, priority, unique key and the last error with its stack', async () => {
    const shown = await run(['jobs', 'show', failed, '--schema', schema]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^state\s+failed$/m);
    assert.match(shown.stdout, /^attempts\s+3$/m);
    assert.match(shown.stdout, /^priority\s+5$/m);
    assert.match(shown.stdout, /^payload:\n {2}\{\n {4}"to": "x@example.com"\n {2}\}$/m);
    assert.match(shown.stdout, /^last error \(attempt 3\):\n {2}TypeError: boom\n {6}at handler \(jobs\.js:1:1\)$/m);

    const json = await run(['jobs', 'show', waiting[0]!, '--schema', schema, '--json']);
    const job = JSON.parse(json.stdout) as { id: string; state: string; uniqueKey: string; payload: unknown; lastError: unknown };
    assert.equal(job.id, waiting[0]);
    assert.equal(job.state, 'waiting');
    assert.equal(job.uniqueKey, 'first');
    assert.deepEqual(job.payload, { to: 'user0@example.com' });
    assert.equal(job.lastError, null);

    const missing = await run(['jobs', 'show', '01890000-0000-7000-8000-000000000000', '--schema', schema]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'proletarian: no job 01890000-0000-7000-8000-000000000000\n');
  });

  it('stats counts the jobs that succeeded and failed in the last hour and day, also as JSON', async () => {
    const result = await run(['stats', '--schema', schema, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const lines = JSON.parse(result.stdout) as Record<string, unknown>[];
    const email = lines.find((line) => line['queue'] === 'default' && line['jobType'] === 'email')!;
    assert.equal(email['due'], 3);
    assert.equal(email['succeededLastHour'], 0);
    assert.equal(email['failedLastHour'], 1);
    assert.equal(email['succeededLastDay'], 1);
    assert.equal(email['failedLastDay'], 1);
    const text = await run(['stats', '--schema', schema]);
    assert.match(text.stdout, /^default\s+email\s+3\s+0\s+0\s+0\s+0\s+\S+\s+no\s+0\s+1\s+1\s+1$/m);
  });

  it('stats --watch refreshes every 2 seconds until SIGINT, then exits 0', async () => {
    const child = spawn(process.execPath, [cli, 'stats', '--watch', '--json', '--schema', schema], {
      env: { ...process.env, DATABASE_URL: databaseUrl() },
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const started = Date.now();
    while (stdout.split('\n').filter(Boolean).length < 2 && Date.now() - started < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    const refreshes = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { at: string; stats: unknown[] });
    assert.ok(refreshes.length >= 2, stdout);
    const gap = Date.parse(refreshes[1]!.at) - Date.parse(refreshes[0]!.at);
    assert.ok(gap >= 1900 && gap < 4000, `refreshed after ${gap} ms`);
  });

  // A terminal of its own: the screen is redrawn in place, and Ctrl-C typed there ends the watch.
  it('stats --watch on a terminal redraws the screen until Ctrl-C', { skip: hasScript ? false : 'script(1) is not installed' }, async () => {
    const env = { ...process.env, DATABASE_URL: databaseUrl() };
    // Ctrl-C once the first screen is complete, as a person would.
    const { code, output } = await onTerminal([cli, 'stats', '--watch', '--schema', schema], env, (shown) =>
      /^default\s+email\s/m.test(shown) ? '\x03' : null,
    );
    assert.equal(code, 0, output);
    assert.match(output, /\x1b\[H\x1b\[2Jproletarian stats, every 2 s \(Ctrl-C to stop\): \d{4}-/);
  });

  it('schedules takes --json', async () => {
    const result = await run(['schedules', '--schema', schema, '--json']);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), []);
  });
});

describe('the CLI command line', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(
      await import('node:fs').then((fs) => fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')),
    ) as { version: string };
    for (const flag of ['--version', '-V']) {
      const result = await run([flag]);
      assert.equal(result.code, 0);
      assert.equal(result.stdout, `${version}\n`);
    }
  });

  it('--help after a command shows its own options', async () => {
    const prune = await run(['prune', '--help']);
    assert.equal(prune.code, 0);
    assert.match(prune.stdout, /^Usage: proletarian prune --older-than <duration> \[options\]/);
    assert.match(prune.stdout, /--max-batches <n>/);
    assert.doesNotMatch(prune.stdout, /--handlers/);
    const list = await run(['jobs', 'list', '-h']);
    assert.match(list.stdout, /^Usage: proletarian jobs list/);
    assert.match(list.stdout, /--state <state>/);
    assert.equal((await run(['help', 'stats'])).stdout, (await run(['stats', '--help'])).stdout);
  });

  it('only the help of stats, which takes --watch, mentions it; the other read commands refuse it', async () => {
    const stats = await run(['stats', '--help']);
    assert.match(stats.stdout, /--watch/);
    assert.match(stats.stdout, /--json +Print JSON \(one document; with --watch, one\n +line per refresh\)/);
    for (const command of [['jobs', 'list'], ['jobs', 'show'], ['schedules']]) {
      const help = await run([...command, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /--json +Print JSON \(one document\)$/m, command.join(' '));
      assert.doesNotMatch(help.stdout, /watch/, command.join(' '));
      const watched = await run([...command, '--watch']);
      assert.equal(watched.code, 1, command.join(' '));
      assert.match(watched.stderr, new RegExp(`^proletarian: ${command.join(' ')}: unknown option --watch`));
    }
  });

  it('a mistyped or misplaced flag is named, with the nearest one and a pointer to --help', async () => {
    const typo = await run(['prune', '--older-thn', '30d']);
    assert.equal(typo.code, 1);
    assert.equal(typo.stderr, 'proletarian: prune: unknown option --older-thn; did you mean --older-than? (see `proletarian prune --help`)\n');
    const elsewhere = await run(['stats', '--handlers', 'x.js']);
    assert.equal(elsewhere.stderr, 'proletarian: stats: unknown option --handlers (see `proletarian stats --help`)\n');
    const missing = await run(['jobs', 'list', '--queue']);
    assert.equal(missing.stderr, 'proletarian: jobs list: --queue needs a value, e.g. --queue <name> (see `proletarian jobs list --help`)\n');
    const valued = await run(['stats', '--json=yes']);
    assert.match(valued.stderr, /^proletarian: stats: --json takes no value/);
    const jobs = await run(['jobs']);
    assert.equal(jobs.code, 1);
    assert.match(jobs.stderr, /jobs needs a subcommand: jobs list, or jobs show <id>/);
  });
});
