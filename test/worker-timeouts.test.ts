import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWorker, enqueue, JobTimeoutError, silentLogger, type WorkerOptions } from 'proletarian';
import { useWorkerTestDatabase, waitFor } from './helpers/database.js';

interface JobState {
  attempts: number;
  last_error: { name: string; message: string } | null;
}

describe('worker: job timeouts', () => {
  const { db, effects, newQueue } = useWorkerTestDatabase();
  const jobState = async (jobId: string) =>
    (await db.rows<JobState>(`SELECT attempts, last_error FROM "${db.schema}".job WHERE job_id = $1`, [jobId]))[0];
  const archivedStatus = async (jobId: string) =>
    (await db.rows<{ status: string }>(`SELECT status FROM "${db.schema}".archived_job WHERE job_id = $1`, [jobId]))[0]
      ?.status;

  /** Runs a worker on a fresh queue with `slow` jobs that time out, plus `quick` jobs to show the slot is free. */
  async function withWorker(
    handlers: WorkerOptions['handlers'],
    body: (queue: string) => Promise<void>,
    options: Partial<WorkerOptions> = {},
  ): Promise<void> {
    const queue = newQueue();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      retryStrategy: { retries: 1, delays: [60_000] },
      ...options,
      handlers,
    });
    await worker.start();
    try {
      await body(queue);
    } finally {
      await worker.stop({ timeout: 1_000 });
    }
  }

  it('aborts ctx.signal with a JobTimeoutError and fails the attempt, which is retried as usual', async () => {
    let reason: unknown;
    await withWorker(
      {
        slow: {
          timeout: 100,
          handler: async (_payload, ctx) => {
            await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
            reason = ctx.signal.reason;
            throw ctx.signal.reason;
          },
        },
      },
      async (queue) => {
        const jobId = await enqueue(db.pool, 'slow', {}, { ...db.tables, queue });
        const state = await waitFor(async () => {
          const s = await jobState(jobId);
          return s?.attempts === 1 ? s : null;
        });
        assert.equal(state.last_error?.name, 'JobTimeoutError');
        assert.match(state.last_error?.message ?? '', /timed out after 100 ms/);
      },
    );
    assert.ok(reason instanceof JobTimeoutError);
  });

  it('cancels a query the handler is stuck in, rolls back its writes, and frees the slot', async () => {
    await withWorker(
      {
        slow: async (_payload, ctx) => {
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'must not commit')`, [ctx.jobId]);
          await ctx.db.query('SELECT pg_sleep(60)'); // ignores the signal
        },
        quick: async (_payload, ctx) => {
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'quick')`, [ctx.jobId]);
        },
      },
      async (queue) => {
        const slow = await enqueue(db.pool, 'slow', {}, { ...db.tables, queue });
        const quick = await enqueue(db.pool, 'quick', {}, { ...db.tables, queue });
        const started = Date.now();
        await waitFor(async () => (await archivedStatus(quick)) === 'success', { what: 'the next job to run' });
        assert.ok(Date.now() - started < 10_000, 'the slot was freed long before pg_sleep(60) ended');
        const state = await jobState(slow);
        assert.equal(state?.attempts, 1);
        assert.equal(state?.last_error?.name, 'JobTimeoutError');
        assert.deepEqual(await effects(slow), []);
        assert.deepEqual(await effects(quick), [{ note: 'quick' }]);
        const sleeping = await db.rows(`SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'`);
        assert.deepEqual(sleeping, [], 'the stuck query was cancelled');
      },
      { concurrency: 1, jobTimeout: 300 },
    );
  });

  it('fails a handler that never settles, and keeps it from writing afterwards', async () => {
    let lateWrite: Promise<unknown> | undefined;
    await withWorker(
      {
        slow: {
          timeout: 150,
          handler: (_payload, ctx) =>
            new Promise(() => {
              setTimeout(() => {
                lateWrite = ctx.db
                  .query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'late')`, [ctx.jobId])
                  .then(() => 'written', (error: unknown) => error);
              }, 300);
            }),
        },
      },
      async (queue) => {
        const jobId = await enqueue(db.pool, 'slow', {}, { ...db.tables, queue });
        await waitFor(async () => (await jobState(jobId))?.attempts === 1, { what: 'the timed-out attempt' });
        await waitFor(() => lateWrite !== undefined, { what: 'the late write' });
        assert.equal(((await lateWrite) as Error).name, 'JobFinishedError');
        assert.deepEqual(await effects(jobId), []);
      },
    );
  });

  it('lets a job type override the worker-wide jobTimeout', async () => {
    const ran: string[] = [];
    await withWorker(
      {
        patient: {
          timeout: 2_000,
          handler: async () => {
            await new Promise((resolve) => setTimeout(resolve, 300));
            ran.push('patient');
          },
        },
      },
      async (queue) => {
        const jobId = await enqueue(db.pool, 'patient', {}, { ...db.tables, queue });
        await waitFor(async () => (await archivedStatus(jobId)) === 'success', { what: 'the patient job' });
        assert.deepEqual(ran, ['patient']);
      },
      { jobTimeout: 50 },
    );
  });

  it('rejects invalid timeouts by name', () => {
    assert.throws(() => createWorker(db.pool, { handlers: { x: () => {} }, jobTimeout: 0 }), {
      name: 'InvalidOptionError',
      message: /jobTimeout/,
    });
    assert.throws(() => createWorker(db.pool, { handlers: { x: { handler: () => {}, timeout: -5 } } }), {
      name: 'InvalidOptionError',
      message: /handlers\["x"\]\.timeout/,
    });
  });
});
