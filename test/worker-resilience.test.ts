import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createWorker, enqueue, silentLogger } from 'proletarian';
import { databaseUrl, deferred, recordingLogger, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';
import { crashEveryRun, startChildWorker } from './helpers/processes.js';
import { startProxy } from './helpers/proxy.js';

describe('worker: crashes and connection faults', () => {
  const { db, effects, newQueue } = useWorkerTestDatabase();
  const archived = async (jobId: string) =>
    (
      await db.rows<{ status: string; last_error: { name: string } | null }>(
        `SELECT status, last_error FROM "${db.schema}".archived_job WHERE job_id = $1`,
        [jobId],
      )
    )[0];
  const archivedStatus = async (jobId: string) =>
    (await db.rows<{ status: string }>(`SELECT status FROM "${db.schema}".archived_job WHERE job_id = $1`, [jobId]))[0]
      ?.status;

  it("gives a killed worker's job to another worker at once, with none of its writes", async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'work', {}, { ...db.tables, queue });
    const child = startChildWorker({ SCHEMA: db.schema, QUEUE: queue, JOB_MS: -1 });
    await child.waitForLine(/^started /);
    child.child.kill('SIGKILL');
    await child.exited;
    const killedAt = Date.now();

    const attempts: number[] = [];
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      handlers: {
        work: async (_payload, ctx) => {
          attempts.push(ctx.attempt);
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'survivor')`, [ctx.jobId]);
        },
      },
    });
    await whileRunning(worker, () => waitFor(async () => (await archivedStatus(jobId)) === 'success', { what: 'the job to be taken over' }));
    const recoveredIn = Date.now() - killedAt;
    assert.ok(recoveredIn < 2_000, `taken over after ${recoveredIn} ms`);
    assert.deepEqual(attempts, [1], 'the crashed run counted no attempt');
    assert.deepEqual(await effects(jobId), [{ note: 'survivor' }], "the dead worker's write never committed");
  });

  it('sets aside a job whose runs keep killing their worker, after maxAbandonedRuns', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'work', {}, { ...db.tables, queue });
    await crashEveryRun({ schema: db.schema, queue, runs: 2 });
    const [before] = await db.rows<{ abandoned_runs: number; attempts: number; kept: boolean }>(
      `SELECT abandoned_runs, attempts, aborted_claim IS NOT NULL AS kept FROM "${db.schema}".job WHERE job_id = $1`,
      [jobId],
    );
    // The second worker kept the first crash for a verdict, which comes only
    // now that the job has died again.
    assert.deepEqual(before, { abandoned_runs: 0, attempts: 0, kept: true });

    const log = recordingLogger();
    let ran = 0;
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log,
      pollInterval: 20,
      maxAbandonedRuns: 2,
      handlers: { work: () => void ran++ },
    });
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId))?.status === 'failure', { what: 'the job to be set aside' }));
    assert.equal(ran, 0, 'it never ran again');
    assert.equal((await archived(jobId))?.last_error?.name, 'AbandonedJobError');
    // The same data as in lease mode.
    const setAside = log.events.find((e) => e.event === 'job-set-aside');
    assert.equal(setAside?.data['abandonedRuns'], 2);
    assert.equal((setAside?.data['error'] as { name: string } | undefined)?.name, 'AbandonedJobError');
  });

  it('survives its connection being terminated mid-job: the job runs again and commits once', async () => {
    const queue = newQueue();
    const log = recordingLogger();
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const firstRun = deferred<number>();
    let runs = 0;
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log,
      pollInterval: 20,
      handlers: {
        job: async (_payload, ctx) => {
          runs++;
          const { rows } = await ctx.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, $2)`, [ctx.jobId, `run ${runs}`]);
          if (runs === 1) {
            firstRun.resolve(rows[0]!.pid);
            await ctx.db.query('SELECT pg_sleep(30)'); // fails when the connection is cut
          }
        },
      },
    });
    await worker.start();
    try {
      const pid = await firstRun.promise;
      await db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      await waitFor(async () => (await archivedStatus(jobId)) === 'success', { what: 'the job to be retried' });
    } finally {
      await worker.stop();
    }
    assert.equal(runs, 2);
    assert.deepEqual(await effects(jobId), [{ note: 'run 2' }]);
    assert.ok(log.names().includes('polling-error'), 'the lost connection was reported');
  });

  it('does not hold connections the database ended against their jobs, even at maxAbandonedRuns 1', async () => {
    // Whichever worker finds the job first, before or after the victim's
    // report, the verdict on its died claim waits for that report.
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const pids: number[] = [];
    const running = deferred();
    const log = recordingLogger();
    const options = { ...db.tables, queue, pollInterval: 20, maxAbandonedRuns: 1 };
    const victim = createWorker(db.pool, {
      ...options,
      log,
      handlers: {
        job: async (_payload, ctx) => {
          const { rows } = await ctx.db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          pids.push(rows[0]!.pid);
          running.resolve();
          if (pids.length === 1) await ctx.db.query('SELECT pg_sleep(30)'); // fails when the connection is cut
        },
      },
    });
    const survivor = createWorker(db.pool, { ...options, log, handlers: { job: () => {} } });
    const lostTransactions = async () =>
      (await db.rows<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".job_lost_transactions`))[0]!.n;
    const reportedBefore = await lostTransactions();
    await whileRunning(victim, async () => {
      await running.promise;
      await survivor.start();
      try {
        await db.pool.query('SELECT pg_terminate_backend($1)', [pids[0]]);
        await waitFor(async () => (await archivedStatus(jobId)) !== undefined, { what: 'the job to finish' });
      } finally {
        await survivor.stop();
      }
    });
    assert.equal(await archivedStatus(jobId), 'success');
    assert.equal(await lostTransactions(), reportedBefore + 1, 'the victim reported its lost transaction');
    assert.ok(log.names().includes('job-claim-died'));
    assert.ok(!log.names().includes('job-set-aside') && !log.names().includes('job-recovered'));
  });

  it('keeps polling through a database outage, backing off, and resumes by itself', async () => {
    const url = new URL(databaseUrl());
    const proxy = await startProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    const pool = new pg.Pool({ connectionString: url.toString(), max: 3, connectionTimeoutMillis: 2_000 });
    const queue = newQueue();
    const log = recordingLogger();
    const pollingErrors: Error[] = [];
    const processed: string[] = [];
    const worker = createWorker(pool, {
      ...db.tables,
      queue,
      log,
      pollInterval: 20,
      concurrency: 2,
      onPollingError: (error) => void pollingErrors.push(error),
      handlers: { job: (_payload, ctx) => void processed.push(ctx.jobId) },
    });
    try {
      await worker.start();
      const first = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      await waitFor(() => processed.includes(first), { what: 'the first job' });

      proxy.down();
      const during = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      // Each loop tries again at once after its first error, then backs off.
      await waitFor(() => pollingErrors.length >= 6, { what: 'polling errors during the outage' });
      assert.ok(!processed.includes(during));
      const errorEvents = log.events.filter((e) => e.event === 'polling-error');
      const delays = errorEvents.map((e) => e.data['retryInMs'] as number);
      assert.equal(delays[0], 0, `the first retry is immediate: ${JSON.stringify(delays)}`);
      assert.ok(delays.some((d) => d > 20), `backoff grows: ${JSON.stringify(delays)}`);

      proxy.up();
      const upAt = Date.now();
      await waitFor(() => processed.includes(during), { timeoutMs: 10_000, what: 'processing to resume' });
      const resumedIn = Date.now() - upAt;
      assert.ok(resumedIn < 6_000, `resumed ${resumedIn} ms after the database came back`);
      await waitFor(() => log.names().includes('polling-recovered'), { what: 'the polling-recovered event' });
    } finally {
      await worker.stop();
      await pool.end();
      await proxy.close();
    }
  });
});
