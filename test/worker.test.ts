import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWorker, enqueue, enqueueMany, silentLogger, type JobContext } from 'proletarian';
import { deferred, recordingLogger, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';

describe('worker: processing', () => {
  const { db, effects } = useWorkerTestDatabase({ poolSize: 12 });

  const archived = (jobId: string) =>
    db.rows<{ status: string; attempts: number }>(
      `SELECT status, attempts FROM "${db.schema}".archived_job WHERE job_id = $1`,
      [jobId],
    );
  const queued = (jobId: string) => db.rows(`SELECT * FROM "${db.schema}".job WHERE job_id = $1`, [jobId]);


  it('runs a job, hands the handler its payload and context, and archives it as success', async () => {
    const queue = 'basic';
    const seen: { payload: unknown; ctx: JobContext; abortedDuringRun: boolean }[] = [];
    const jobId = await enqueue(db.pool, 'greet', { name: 'Ada' }, { ...db.tables, queue });
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      handlers: { greet: async (payload, ctx) => void seen.push({ payload, ctx, abortedDuringRun: ctx.signal.aborted }) },
    });
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId)).length === 1, { what: 'archive' }));
    assert.equal(seen.length, 1);
    const [{ payload, ctx, abortedDuringRun }] = seen as [(typeof seen)[number]];
    assert.deepEqual(payload, { name: 'Ada' });
    assert.equal(ctx.jobId, jobId);
    assert.equal(ctx.jobType, 'greet');
    assert.equal(ctx.queue, queue);
    assert.equal(ctx.attempt, 1);
    assert.deepEqual(ctx.payload, { name: 'Ada' });
    assert.ok(ctx.enqueuedAt instanceof Date && ctx.processAt instanceof Date);
    assert.ok(ctx.signal instanceof AbortSignal);
    assert.equal(abortedDuringRun, false);
    assert.equal(ctx.signal.aborted, true, 'the signal fires once the worker stops');
    assert.equal(typeof ctx.log, 'function');
    assert.deepEqual(await archived(jobId), [{ status: 'success', attempts: 1 }]);
    assert.equal((await queued(jobId)).length, 0);
  });

  it("commits the handler's writes through ctx.db together with the job's removal", async () => {
    const queue = 'atomic-ok';
    const jobId = await enqueue(db.pool, 'write', { note: 'hello' }, { ...db.tables, queue });
    const duringHandler = deferred<{ visibleOutside: number; jobStillQueued: number }>();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      handlers: {
        write: async (payload, ctx) => {
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, $2)`, [
            ctx.jobId,
            (payload as { note: string }).note,
          ]);
          // Another connection sees neither the effect nor the job's removal yet.
          const outside = await db.rows(`SELECT 1 FROM "${db.schema}".effects WHERE job_id = $1`, [ctx.jobId]);
          const stillQueued = await db.rows(`SELECT 1 FROM "${db.schema}".job WHERE job_id = $1`, [ctx.jobId]);
          duringHandler.resolve({ visibleOutside: outside.length, jobStillQueued: stillQueued.length });
        },
      },
    });
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId)).length === 1, { what: 'archive' }));
    assert.deepEqual(await duringHandler.promise, { visibleOutside: 0, jobStillQueued: 1 });
    assert.deepEqual(await effects(jobId), [
      { note: 'hello' },
    ]);
  });

  it("rolls back the handler's writes when it fails, yet records the attempt", async () => {
    const queue = 'atomic-fail';
    const jobId = await enqueue(db.pool, 'write-then-fail', {}, { ...db.tables, queue });
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      retryStrategy: { retries: 1, delays: [60_000] },
      handlers: {
        'write-then-fail': async (_payload, ctx) => {
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'should vanish')`, [ctx.jobId]);
          throw new Error('boom');
        },
      },
    });
    const rows = await whileRunning(worker, () =>
      waitFor(
        async () => {
          const r = await db.rows<{ attempts: number; last_error: { message: string } | null }>(
            `SELECT attempts, last_error FROM "${db.schema}".job WHERE job_id = $1`,
            [jobId],
          );
          return r[0]?.attempts === 1 ? r : null;
        },
        { what: 'the failed attempt to be recorded' },
      ),
    );
    assert.equal(rows?.[0]?.last_error?.message, 'boom');
    assert.deepEqual(await effects(jobId), []);
  });

  it('treats a handler that swallowed a failed query as a failed attempt, not a success', async () => {
    const queue = 'swallowed';
    const jobId = await enqueue(db.pool, 'swallow', {}, { ...db.tables, queue });
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      retryStrategy: () => null,
      handlers: {
        swallow: async (_payload, ctx) => {
          await ctx.db.query('SELECT 1/0').catch(() => {});
        },
      },
    });
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId)).length === 1, { what: 'archive' }));
    const [row] = await db.rows<{ status: string; last_error: { message: string } }>(
      `SELECT status, last_error FROM "${db.schema}".archived_job WHERE job_id = $1`,
      [jobId],
    );
    assert.equal(row?.status, 'failure');
    assert.match(row?.last_error.message ?? '', /could not be completed/);
  });

  it('refuses ctx.db after the job has finished', async () => {
    const queue = 'leak';
    await enqueue(db.pool, 'leak', {}, { ...db.tables, queue });
    const leaked = deferred<JobContext['db']>();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      handlers: { leak: (_payload, ctx) => leaked.resolve(ctx.db) },
    });
    const leakedDb = await whileRunning(worker, () => leaked.promise);
    await assert.rejects(leakedDb.query('SELECT 1'), { name: 'JobFinishedError' });
  });

  it('claims only job types it has handlers for; others wait for a worker that knows them', async () => {
    const queue = 'mixed';
    const known = await enqueue(db.pool, 'known', {}, { ...db.tables, queue });
    const unknown = await enqueue(db.pool, 'unknown', {}, { ...db.tables, queue });
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      handlers: { known: () => {} },
    });
    await whileRunning(worker, async () => {
      await waitFor(async () => (await archived(known)).length === 1, { what: 'known job' });
      await new Promise((resolve) => setTimeout(resolve, 150)); // several polls
    });
    assert.equal((await queued(unknown)).length, 1, 'the unknown job is untouched');
    assert.deepEqual(
      await db.rows(`SELECT attempts FROM "${db.schema}".job WHERE job_id = $1`, [unknown]),
      [{ attempts: 0 }],
    );

    const seen: string[] = [];
    const catchAll = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      handlers: {},
      fallbackHandler: (_payload, ctx) => void seen.push(ctx.jobType),
    });
    await whileRunning(catchAll, () => waitFor(async () => (await archived(unknown)).length === 1, { what: 'fallback' }));
    assert.deepEqual(seen, ['unknown']);
  });

  it('serves only its own queue', async () => {
    const other = await enqueue(db.pool, 'job', {}, { ...db.tables, queue: 'queue-b' });
    const mine = await enqueue(db.pool, 'job', {}, { ...db.tables, queue: 'queue-a' });
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue: 'queue-a',
      log: silentLogger,
      pollInterval: 20,
      handlers: { job: () => {} },
    });
    await whileRunning(worker, () => waitFor(async () => (await archived(mine)).length === 1, { what: 'queue-a job' }));
    assert.equal((await queued(other)).length, 1);
  });

  it('does not run a job before its processAt', async () => {
    const queue = 'scheduled';
    const later = await enqueue(db.pool, 'job', {}, { ...db.tables, queue, processIn: 60_000 });
    const now = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      handlers: { job: () => {} },
    });
    await whileRunning(worker, async () => {
      await waitFor(async () => (await archived(now)).length === 1, { what: 'due job' });
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    assert.equal((await queued(later)).length, 1);
  });

  it('runs jobs in order of process_at, then enqueue order', async () => {
    const queue = 'fifo';
    const order: number[] = [];
    await enqueueMany(
      db.pool,
      Array.from({ length: 20 }, (_, i) => ({ jobType: 'ordered', payload: i, queue })),
      db.tables,
    );
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      handlers: { ordered: (payload) => void order.push(payload as number) },
    });
    await whileRunning(worker, () => waitFor(() => order.length === 20, { what: '20 jobs' }));
    assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
  });

  it('runs `concurrency` jobs at the same time', async () => {
    const queue = 'parallel';
    await enqueueMany(db.pool, Array.from({ length: 4 }, () => ({ jobType: 'slow', payload: null, queue })), db.tables);
    let running = 0;
    let peak = 0;
    const release = deferred();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      concurrency: 4,
      log: silentLogger,
      pollInterval: 20,
      handlers: {
        slow: async () => {
          running++;
          peak = Math.max(peak, running);
          await release.promise;
          running--;
        },
      },
    });
    await whileRunning(worker, async () => {
      await waitFor(() => peak === 4, { what: '4 jobs running at once' });
      release.resolve();
      await waitFor(async () => (await db.rows(`SELECT 1 FROM "${db.schema}".job WHERE queue = $1`, [queue])).length === 0);
    });
    assert.equal(peak, 4);
  });

  it('shares a queue between several workers: every job runs exactly once', async () => {
    const queue = 'shared';
    const total = 300;
    const ids = await enqueueMany(
      db.pool,
      Array.from({ length: total }, (_, i) => ({ jobType: 'count', payload: i, queue })),
      db.tables,
    );
    const runs = new Map<string, number>();
    const workers = Array.from({ length: 3 }, () =>
      createWorker(db.pool, {
        ...db.tables,
        queue,
        concurrency: 3,
        log: silentLogger,
        pollInterval: 10,
        handlers: {
          count: async (_payload, ctx) => {
            runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
            await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'counted')`, [ctx.jobId]);
          },
        },
      }),
    );
    await Promise.all(workers.map((worker) => worker.start()));
    try {
      await waitFor(
        async () => (await db.rows(`SELECT 1 FROM "${db.schema}".job WHERE queue = $1`, [queue])).length === 0,
        { timeoutMs: 30_000, what: 'the queue to drain' },
      );
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
    assert.equal(runs.size, total);
    assert.ok([...runs.values()].every((count) => count === 1), 'no job ran twice');
    const [counts] = await db.rows<{ archived: string; effects: string }>(
      `SELECT (SELECT count(*) FROM "${db.schema}".archived_job WHERE job_id = ANY($1::uuid[]) AND status = 'success') AS archived,
              (SELECT count(*) FROM "${db.schema}".effects WHERE job_id = ANY($1::uuid[])) AS effects`,
      [ids],
    );
    assert.deepEqual(counts, { archived: String(total), effects: String(total) });
  });

  it('logs structured events with the worker and job context', async () => {
    const queue = 'logging';
    const log = recordingLogger();
    const jobId = await enqueue(db.pool, 'chatty', {}, { ...db.tables, queue });
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log,
      workerId: 'w-1',
      pollInterval: 20,
      handlers: { chatty: (_payload, ctx) => ctx.log('sending', { to: 'someone' }) },
    });
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId)).length === 1));
    const names = log.names();
    for (const event of ['worker-started', 'job-started', 'job-log', 'job-succeeded', 'worker-stopping', 'worker-stopped'] as const) {
      assert.ok(names.includes(event), `logged ${event}`);
    }
    const jobLog = log.events.find((e) => e.event === 'job-log');
    assert.deepEqual(
      { ...jobLog?.data, slot: undefined },
      { workerId: 'w-1', queue, slot: undefined, jobId, jobType: 'chatty', attempt: 1, to: 'someone', message: 'sending', level: 'info' },
    );
  });

  it('accepts a pino-style logger object', async () => {
    const queue = 'pino';
    const lines: { level: string; data: Record<string, unknown>; message: string }[] = [];
    const logger = Object.fromEntries(
      (['debug', 'info', 'warn', 'error'] as const).map((level) => [
        level,
        (data: Record<string, unknown>, message: string) => void lines.push({ level, data, message }),
      ]),
    ) as { debug: (d: Record<string, unknown>, m: string) => void; info: (d: Record<string, unknown>, m: string) => void; warn: (d: Record<string, unknown>, m: string) => void; error: (d: Record<string, unknown>, m: string) => void };
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const worker = createWorker(db.pool, { ...db.tables, queue, log: logger, pollInterval: 20, handlers: { job: () => {} } });
    await whileRunning(worker, () => waitFor(async () => (await archived(jobId)).length === 1));
    const started = lines.find((line) => line.message === 'worker-started');
    assert.equal(started?.level, 'info');
    assert.equal(started?.data['queue'], queue);
    assert.equal(lines.find((line) => line.message === 'job-succeeded')?.level, 'debug');
  });
});
