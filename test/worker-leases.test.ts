import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWorker, enqueue, queueStats, silentLogger, type WorkerOptions } from 'proletarian';
import { deferred, recordingLogger, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';
import { crashEveryRun, startChildWorker } from './helpers/processes.js';

interface JobState {
  attempts: number;
  locked_by: string | null;
  abandoned_runs: number;
  process_at: Date;
}

describe('worker: lease mode', () => {
  const { db, effects, newQueue } = useWorkerTestDatabase();
  const jobState = async (jobId: string) =>
    (
      await db.rows<JobState>(
        `SELECT attempts, locked_by, abandoned_runs, process_at FROM "${db.schema}".job WHERE job_id = $1`,
        [jobId],
      )
    )[0];
  const archived = async (jobId: string) =>
    (
      await db.rows<{ status: string; attempts: number; last_error: { name: string; message: string } | null }>(
        `SELECT status, attempts, last_error FROM "${db.schema}".archived_job WHERE job_id = $1`,
        [jobId],
      )
    )[0];

  function leaseWorker(queue: string, handler: WorkerOptions['handlers'][string], options: Partial<WorkerOptions> = {}) {
    return createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 50,
      retryStrategy: { retries: 2, delays: [0] },
      ...options,
      handlers: { long: { handler: handler as never, mode: 'lease', leaseDuration: 1_000 } },
    });
  }

  it('runs the handler outside a transaction, under a lease renewed while it runs', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'long', {}, { ...db.tables, queue });
    const midway = deferred<{ effectVisible: number; state: JobState | undefined }>();
    const worker = leaseWorker(queue, async (_payload, ctx) => {
      await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'outside')`, [ctx.jobId]);
      // Runs for 2.5 lease durations: only the heartbeat keeps others away.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      midway.resolve({ effectVisible: (await effects(ctx.jobId)).length, state: await jobState(ctx.jobId) });
    });
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId))?.status === 'success', { what: 'the leased job' }));
    const { effectVisible, state } = await midway.promise;
    assert.equal(effectVisible, 1, 'a write through ctx.db commits at once');
    assert.ok(state?.locked_by, 'the job is marked with its holder');
    assert.ok(state!.process_at.getTime() > Date.now() - 1_000, 'the lease was renewed');
    assert.equal((await archived(jobId))?.attempts, 1);
  });

  it('shows a running leased job as leased in queueStats, not as due', async () => {
    const queue = newQueue();
    await enqueue(db.pool, 'long', {}, { ...db.tables, queue });
    const running = deferred();
    const release = deferred();
    const worker = leaseWorker(queue, async () => {
      running.resolve();
      await release.promise;
    });
    await worker.start();
    try {
      await running.promise;
      const stats = (await queueStats(db.pool, db.tables)).find((s) => s.queue === queue);
      assert.equal(stats?.leased, 1);
      assert.equal(stats?.due, 0);
      assert.equal(stats?.retrying, 0, 'a first run is no retry');
    } finally {
      release.resolve();
      await worker.stop();
    }
  });

  it("takes over a dead worker's leased job once its lease runs out, and counts the abandoned run", async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'work', {}, { ...db.tables, queue });
    const child = startChildWorker({ SCHEMA: db.schema, QUEUE: queue, JOB_MS: -1, MODE: 'lease' });
    await child.waitForLine(/^started /);
    child.child.kill('SIGKILL');
    await child.exited;
    const killedAt = Date.now();

    const log = recordingLogger();
    const ran: number[] = [];
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log,
      pollInterval: 50,
      retryStrategy: { retries: 1, delays: [0] },
      handlers: {
        work: {
          mode: 'lease',
          leaseDuration: 1_000,
          handler: (_p, ctx) => {
            if (ran.push(ctx.attempt) === 1) throw new Error('the first attempt fails');
          },
        },
      },
    });
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId))?.status === 'success', { what: 'the take-over' }));
    const tookOverIn = Date.now() - killedAt;
    // The child's lease lasts 1 s; one poll later the job is taken.
    assert.ok(tookOverIn < 3_000, `taken over after ${tookOverIn} ms`);
    assert.deepEqual(ran, [1, 2], 'the dead run counted as an abandoned run, not an attempt, as in transaction mode');
    const recovered = log.events.filter((e) => e.event === 'job-recovered');
    assert.equal(recovered.length, 1, 'told once, by the lease that took the job over, not again at its retry');
    assert.equal(recovered[0]?.data['abandonedRuns'], 1);
    assert.equal((await archived(jobId))?.attempts, 2);
  });

  it('sets aside a job whose workers keep dying, after maxAbandonedRuns', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'work', {}, { ...db.tables, queue });
    await crashEveryRun({ schema: db.schema, queue, runs: 2, mode: 'lease' });
    const log = recordingLogger();
    let ran = 0;
    const hooked: string[] = [];
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log,
      pollInterval: 50,
      maxAbandonedRuns: 2,
      onFailedJob: (_job, error) => void hooked.push(error.name),
      handlers: { work: { mode: 'lease', leaseDuration: 1_000, handler: () => void ran++ } },
    });
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId))?.status === 'failure', { what: 'the job to be set aside' }));
    assert.equal(ran, 0, 'the poison job never ran again');
    assert.equal((await archived(jobId))?.last_error?.name, 'AbandonedJobError');
    const setAside = log.events.find((e) => e.event === 'job-set-aside');
    assert.equal(setAside?.data['abandonedRuns'], 2);
    assert.equal((setAside?.data['error'] as { name: string } | undefined)?.name, 'AbandonedJobError');
    assert.deepEqual(hooked, ['AbandonedJobError'], 'a set-aside job failed for good: onFailedJob runs, as in transaction mode');
  });

  it('retries a failed leased job by its retry strategy, and archives its final failure', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'long', {}, { ...db.tables, queue });
    const attempts: number[] = [];
    const worker = leaseWorker(queue, (_payload, ctx) => {
      attempts.push(ctx.attempt);
      throw new Error(`attempt ${ctx.attempt}`);
    });
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId))?.status === 'failure', { what: 'the final failure' }));
    assert.deepEqual(attempts, [1, 2, 3]);
    const row = await archived(jobId);
    assert.equal(row?.attempts, 3);
    assert.equal(row?.last_error?.message, 'attempt 3');
  });

  it('runs onFailedJob in one transaction with the archiving: its writes commit with it', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'long', {}, { ...db.tables, queue });
    const seenByHook = deferred<{ inside: unknown; outside: unknown }>();
    const worker = leaseWorker(
      queue,
      () => {
        throw new Error('for good');
      },
      {
        retryStrategy: { retries: 0 },
        onFailedJob: async (job, _error, ctx) => {
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'hook')`, [job.jobId]);
          const inside = await ctx.db.query(`SELECT status FROM "${db.schema}".archived_job WHERE job_id = $1`, [job.jobId]);
          // From the pool: another connection, which sees only what has committed.
          seenByHook.resolve({ inside: inside.rows[0]?.['status'], outside: (await archived(job.jobId))?.status });
        },
      },
    );
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId))?.status === 'failure', { what: 'the final failure' }));
    assert.deepEqual(await seenByHook.promise, { inside: 'failure', outside: undefined }, 'the hook ran before the archiving committed');
    assert.deepEqual(await effects(jobId), [{ note: 'hook' }], "the hook's write committed with the archiving");
    assert.equal(await jobState(jobId), undefined);
  });

  it('keeps a leased job archived as failed when onFailedJob throws or swallows a failed query, undoing only its writes', async () => {
    const hooks: NonNullable<WorkerOptions['onFailedJob']>[] = [
      async (job, _error, ctx) => {
        await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'hook')`, [job.jobId]);
        throw new Error('hook broke');
      },
      async (job, _error, ctx) => {
        await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'hook')`, [job.jobId]);
        await ctx.db.query('SELECT 1/0').catch(() => {}); // leaves its part of the transaction aborted
      },
    ];
    for (const onFailedJob of hooks) {
      const queue = newQueue();
      const jobId = await enqueue(db.pool, 'long', {}, { ...db.tables, queue });
      const log = recordingLogger();
      let runs = 0;
      const worker = leaseWorker(
        queue,
        () => {
          runs++;
          throw new Error('handler broke');
        },
        { log, retryStrategy: { retries: 0 }, onFailedJob },
      );
      await whileRunning(worker, () => waitFor(async () => (await archived(jobId))?.status === 'failure', { what: 'the final failure' }));
      const row = await archived(jobId);
      assert.deepEqual({ status: row?.status, error: row?.last_error?.message }, { status: 'failure', error: 'handler broke' });
      assert.deepEqual(await effects(jobId), [], "the hook's writes were undone");
      assert.equal(runs, 1);
      assert.ok(log.names().includes('failed-job-hook-error'));
      assert.ok(log.names().includes('job-failed'));
    }
  });

  it('gives a leased job back, attempt uncounted, when the handler gives up at shutdown', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'long', {}, { ...db.tables, queue });
    const started = deferred();
    const worker = leaseWorker(queue, async (_payload, ctx) => {
      started.resolve();
      await new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
    });
    await worker.start();
    await started.promise;
    await worker.stop();
    const state = await jobState(jobId);
    assert.deepEqual({ attempts: state?.attempts, lockedBy: state?.locked_by }, { attempts: 0, lockedBy: null });
    assert.ok(state!.process_at.getTime() <= Date.now() + 50, 'due again at once');
  });

  it('rejects invalid lease options by name', () => {
    assert.throws(
      () => createWorker(db.pool, { handlers: { x: { handler: () => {}, mode: 'lease', leaseDuration: 10 } } }),
      { name: 'InvalidOptionError', message: /leaseDuration/ },
    );
    assert.throws(
      () => createWorker(db.pool, { handlers: { x: { handler: () => {}, mode: 'leased' as never } } }),
      { name: 'InvalidOptionError', message: /mode must be 'transaction' or 'lease'/ },
    );
    assert.throws(() => createWorker(db.pool, { handlers: { x: () => {} }, maxAbandonedRuns: 0 }), {
      name: 'InvalidOptionError',
      message: /maxAbandonedRuns/,
    });
  });
});
