import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomInt } from 'node:crypto';
import { enqueue } from 'proletarian';
import { createTestDatabase, waitFor, type TestDatabase } from './helpers/database.js';

// `proletarian worker`: a worker run from the command line on a module's handlers.

const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const dir = fileURLToPath(new URL('../cli-worker/', import.meta.url));

interface Running {
  output: () => string;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, [cli, 'worker', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { output: () => output, exited, kill: (signal) => child.kill(signal) };
}

describe('proletarian worker', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    await db.pool.query(`CREATE TABLE "${db.schema}".done (job_id uuid PRIMARY KEY, note text)`);
    mkdirSync(dir, { recursive: true });
    // An ES module and a CommonJS one, as an app's build would produce them.
    writeFileSync(
      `${dir}jobs.mjs`,
      `export const handlers = {
  greet: async (payload, ctx) => {
    await ctx.db.query('INSERT INTO "${db.schema}".done (job_id, note) VALUES ($1, $2)', [ctx.jobId, 'hello ' + payload.name]);
  },
  // Says it began, then waits for the advisory lock the test holds: it runs until the test lets it finish.
  hold: async (payload, ctx) => {
    ctx.log('holding');
    await ctx.db.query('SELECT 1 AS locked FROM pg_advisory_xact_lock($1)', [payload.lock]);
    await ctx.db.query('INSERT INTO "${db.schema}".done (job_id, note) VALUES ($1, $2)', [ctx.jobId, 'held']);
  },
};
`,
    );
    writeFileSync(
      `${dir}jobs.cjs`,
      `module.exports = { handlers: { greet: async (payload, ctx) => {
  await ctx.db.query('INSERT INTO "${db.schema}".done (job_id, note) VALUES ($1, $2)', [ctx.jobId, 'cjs ' + payload.name]);
} } };
`,
    );
    writeFileSync(`${dir}nothing.mjs`, 'export const other = 1;\n');
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db.close();
  });

  const note = async (jobId: string) =>
    (await db.rows<{ note: string }>(`SELECT note FROM "${db.schema}".done WHERE job_id = $1`, [jobId]))[0]?.note;

  for (const file of ['jobs.mjs', 'jobs.cjs']) {
    it(`runs the handlers ${file} exports, and stops gracefully on SIGTERM`, async () => {
      const worker = start(['--handlers', `${dir}${file}`, '--schema', db.schema, '--queue', 'cli', '--concurrency', '2']);
      try {
        await waitFor(() => worker.output().includes('worker-started'), { what: 'the worker to start' });
        assert.match(worker.output(), /"concurrency":2/);
        const jobId = await enqueue(db.pool, 'greet', { name: 'ada' }, { ...db.tables, queue: 'cli' });
        const expected = `${file === 'jobs.mjs' ? 'hello' : 'cjs'} ada`;
        await waitFor(async () => (await note(jobId)) === expected, { what: 'the job to run' });
      } finally {
        worker.kill('SIGTERM');
      }
      assert.equal(await worker.exited, 0, worker.output());
      assert.match(worker.output(), /worker-stopped/);
    });
  }

  it('stops gracefully on SIGINT too: the job running at the signal finishes, then the worker exits 0', async () => {
    const lock = randomInt(2 ** 40);
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 AS locked FROM pg_advisory_xact_lock($1)', [lock]);
      const worker = start(['--handlers', `${dir}jobs.mjs`, '--schema', db.schema, '--queue', 'cli-sigint']);
      try {
        await waitFor(() => worker.output().includes('worker-started'), { what: 'the worker to start' });
        const jobId = await enqueue(db.pool, 'hold', { lock }, { ...db.tables, queue: 'cli-sigint' });
        await waitFor(() => worker.output().includes('job-log'), { what: 'the handler to begin' });
        worker.kill('SIGINT');
        await waitFor(() => worker.output().includes('worker-stopping'), { what: 'the worker to begin stopping' });
        // Still running, and the worker waits for it.
        assert.equal((await db.rows(`SELECT FROM "${db.schema}".archived_job WHERE job_id = $1`, [jobId])).length, 0);
        assert.doesNotMatch(worker.output(), /worker-stopped/);
        await holder.query('COMMIT'); // lets the handler go on
        assert.equal(await worker.exited, 0, worker.output());
        assert.equal(await note(jobId), 'held');
        const archived = await db.rows<{ status: string }>(`SELECT status FROM "${db.schema}".archived_job WHERE job_id = $1`, [jobId]);
        assert.deepEqual(archived, [{ status: 'success' }]);
        assert.match(worker.output(), /worker-stopped/);
        assert.doesNotMatch(worker.output(), /job-interrupted|job-abandoned/);
      } finally {
        worker.kill('SIGKILL'); // only if a failed assertion left it running
      }
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });

  it('refuses a module without handlers, or no --handlers, and exits 1', async () => {
    const without = start(['--handlers', `${dir}nothing.mjs`, '--schema', db.schema]);
    assert.equal(await without.exited, 1);
    assert.match(without.output(), /^proletarian: --handlers: .*nothing\.mjs must export `handlers`/);
    const missing = start(['--schema', db.schema]);
    assert.equal(await missing.exited, 1);
    assert.match(missing.output(), /--handlers is required/);
  });

  it('a schema never migrated: exits 1 saying to run migrate', async () => {
    const worker = start(['--handlers', `${dir}jobs.mjs`, '--schema', 'never_migrated_cli']);
    assert.equal(await worker.exited, 1);
    assert.match(worker.output(), /proletarian: .*not installed in schema "never_migrated_cli".*npx proletarian migrate/);
  });
});
