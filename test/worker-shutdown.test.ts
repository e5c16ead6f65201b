import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWorker, enqueue, silentLogger, type WorkerOptions } from 'proletarian';
import { deferred, recordingLogger, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';
import { startChildWorker } from './helpers/processes.js';

describe('worker: start and stop', () => {
  const { db, effects, newQueue } = useWorkerTestDatabase();
  const jobRow = async (jobId: string) =>
    (await db.rows<{ attempts: number }>(`SELECT attempts FROM "${db.schema}".job WHERE job_id = $1`, [jobId]))[0];
  const archivedStatus = async (jobId: string) =>
    (await db.rows<{ status: string }>(`SELECT status FROM "${db.schema}".archived_job WHERE job_id = $1`, [jobId]))[0]
      ?.status;

  function worker(queue: string, options: Partial<WorkerOptions> & Pick<WorkerOptions, 'handlers'>) {
    return createWorker(db.pool, { log: silentLogger, pollInterval: 20, ...options, ...db.tables, queue });
  }

  it('lets a running job finish and commit when it ends within the timeout', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const started = deferred();
    let sawAbort = false;
    const w = worker(queue, {
      handlers: {
        job: async (_payload, ctx) => {
          started.resolve();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          sawAbort = true;
          await new Promise((resolve) => setTimeout(resolve, 50)); // finishing up after the signal
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'done')`, [ctx.jobId]);
        },
      },
    });
    await w.start();
    await started.promise;
    await w.stop({ timeout: 5_000 });
    assert.equal(w.state, 'stopped');
    assert.ok(sawAbort);
    assert.equal(await archivedStatus(jobId), 'success');
    assert.equal((await effects(jobId)).length, 1);
  });

  it('leaves a job that gives up on shutdown queued, with no attempt counted', async () => {
    const queue = newQueue();
    const log = recordingLogger();
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const started = deferred();
    const w = worker(queue, {
      log,
      handlers: {
        job: async (_payload, ctx) => {
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'partial')`, [ctx.jobId]);
          started.resolve();
          await new Promise((_resolve, reject) =>
            ctx.signal.addEventListener('abort', () => reject(new Error('aborted by shutdown'))),
          );
        },
      },
    });
    await w.start();
    await started.promise;
    await w.stop();
    assert.deepEqual(await jobRow(jobId), { attempts: 0 });
    assert.deepEqual(await effects(jobId), []);
    assert.ok(log.names().includes('job-interrupted'));
  });

  it('rolls back a job that outlives the timeout; the job is claimable again at once', async () => {
    const queue = newQueue();
    const log = recordingLogger();
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const started = deferred();
    const w = worker(queue, {
      log,
      handlers: {
        job: async (_payload, ctx) => {
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'never committed')`, [ctx.jobId]);
          started.resolve();
          await new Promise(() => {}); // ignores the signal and never settles
        },
      },
    });
    await w.start();
    await started.promise;
    const before = Date.now();
    await w.stop({ timeout: 200 });
    const took = Date.now() - before;
    assert.ok(took >= 200 && took < 3_000, `stop took ${took} ms`);
    assert.ok(log.names().includes('job-abandoned'));
    assert.deepEqual(await jobRow(jobId), { attempts: 0 });
    assert.deepEqual(await effects(jobId), []);

    const seen: number[] = [];
    const second = worker(queue, { handlers: { job: (_payload, ctx) => void seen.push(ctx.attempt) } });
    await whileRunning(second, () => waitFor(async () => (await archivedStatus(jobId)) === 'success', { what: 'the job to run again' }));
    assert.deepEqual(seen, [1]);
  });

  it('treats a handler that fails after stop began as interrupted, not failed', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const started = deferred();
    const w = worker(queue, {
      retryStrategy: () => null,
      handlers: {
        job: async () => {
          started.resolve();
          await new Promise((resolve) => setTimeout(resolve, 150));
          throw new Error('late failure');
        },
      },
    });
    await w.start();
    await started.promise;
    await w.stop();
    assert.deepEqual(await jobRow(jobId), { attempts: 0 });
    assert.equal(await archivedStatus(jobId), undefined);
  });

  it('makes start and stop idempotent, and can start again after stopping', async () => {
    const queue = newQueue();
    let runs = 0;
    const w = worker(queue, { handlers: { job: () => void runs++ } });
    assert.equal(w.state, 'idle');
    await w.stop(); // before start: nothing to do
    await Promise.all([w.start(), w.start()]);
    await w.start();
    assert.equal(w.state, 'running');
    await Promise.all([w.stop(), w.stop()]);
    await w.stop();
    assert.equal(w.state, 'stopped');

    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    await whileRunning(w, () => waitFor(async () => (await archivedStatus(jobId)) === 'success', { what: 'the restarted worker' }));
    assert.equal(runs, 1);
  });

  it('starts again when start() is called while a stop is in progress', async () => {
    const queue = newQueue();
    const started = deferred();
    const release = deferred();
    const w = worker(queue, {
      handlers: {
        job: async () => {
          started.resolve();
          await release.promise;
        },
      },
    });
    await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    await w.start();
    await started.promise;
    const stopping = w.stop();
    assert.equal(w.state, 'stopping');
    const restarting = w.start();
    release.resolve();
    await stopping;
    await restarting;
    assert.equal(w.state, 'running');
    await w.stop();
  });

  it('stops cleanly when stop() is called while start() is still checking the schema', async () => {
    const w = worker(newQueue(), { handlers: { job: () => {} } });
    const starting = w.start();
    await w.stop();
    await starting;
    assert.equal(w.state, 'stopped');
  });

  it('rejects a negative stop timeout', async () => {
    const w = worker(newQueue(), { handlers: { job: () => {} } });
    await w.start();
    await assert.rejects(w.stop({ timeout: -1 }), { name: 'InvalidOptionError' });
    await w.stop();
  });

  it('on SIGTERM, finishes the running job, stops, and lets the process exit', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'work', {}, { ...db.tables, queue });
    const child = startChildWorker({ SCHEMA: db.schema, QUEUE: queue, JOB_MS: 300 });
    await child.waitForLine(/^started /);
    child.child.kill('SIGTERM');
    const exit = await child.exited;
    assert.equal(exit.signal, 'SIGTERM');
    assert.ok(child.lines.includes(`finished ${jobId}`), 'the job finished before exit');
    assert.equal(await archivedStatus(jobId), 'success');
    assert.equal((await effects(jobId)).length, 1);
  });
});
