import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWorker, enqueue, enqueueMany, InvalidOptionError, silentLogger, type JobContext } from 'proletarian';
import { deferred, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';

describe('priorities', () => {
  const { db, newQueue } = useWorkerTestDatabase();

  /** Runs `queue` with one loop taking one job per claim until `count` jobs ran; resolves with their `tag`s in run order. */
  async function runOrder(queue: string, count: number, mode: 'transaction' | 'lease'): Promise<string[]> {
    const ran: string[] = [];
    const handler = async (payload: unknown) => {
      ran.push((payload as { tag: string }).tag);
    };
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      concurrency: 1,
      batchSize: 1,
      log: silentLogger,
      handlers: { tagged: mode === 'lease' ? { handler, mode: 'lease' } : handler },
    });
    await whileRunning(worker, () => waitFor(() => ran.length === count, { what: `${count} jobs` }));
    return ran;
  }

  for (const mode of ['transaction', 'lease'] as const) {
    it(`runs lower priorities first, then the longest due, then the first enqueued (${mode} mode)`, async () => {
      const queue = newQueue();
      const past = (ms: number) => new Date(Date.now() - ms);
      await enqueueMany(
        db.pool,
        [
          { jobType: 'tagged', payload: { tag: 'p0-old' }, queue, processAt: past(60_000) },
          { jobType: 'tagged', payload: { tag: 'p5' }, queue, priority: 5, processAt: past(120_000) },
          { jobType: 'tagged', payload: { tag: 'p0-new-a' }, queue },
          { jobType: 'tagged', payload: { tag: 'p0-new-b' }, queue },
          { jobType: 'tagged', payload: { tag: 'p-3' }, queue, priority: -3 },
          { jobType: 'tagged', payload: { tag: 'p-max' }, queue, priority: -32768 },
          { jobType: 'tagged', payload: { tag: 'p-max-future' }, queue, priority: -32768, processIn: 3_600_000 },
        ],
        db.tables,
      );
      await enqueue(db.pool, 'tagged', { tag: 'p32767' }, { ...db.tables, queue, priority: 32767 });
      assert.deepEqual(await runOrder(queue, 7, mode), ['p-max', 'p-3', 'p0-old', 'p0-new-a', 'p0-new-b', 'p5', 'p32767']);
    });
  }

  it('gives the handler its priority, and a retry keeps it', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'flaky', {}, { ...db.tables, queue, priority: -7 });
    const seen: [number, number][] = [];
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      retryStrategy: { retries: 1, delays: [0] },
      handlers: {
        flaky: async (_payload: unknown, ctx: JobContext) => {
          seen.push([ctx.attempt, ctx.priority]);
          if (ctx.attempt === 1) throw new Error('first attempt fails');
        },
      },
    });
    await whileRunning(worker, () => waitFor(() => seen.length === 2, { what: 'two attempts' }));
    assert.deepEqual(seen, [
      [1, -7],
      [2, -7],
    ]);
    const archived = await waitFor(
      async () =>
        (await db.rows<{ priority: number }>(`SELECT priority FROM "${db.schema}".archived_job WHERE job_id = $1`, [jobId]))[0],
      { what: 'the archived job' },
    );
    assert.equal(archived.priority, -7);
  });

  it('wakes a worker busy with less urgent jobs for a more urgent one at once', async () => {
    const queue = newQueue();
    // A standing backlog of priority 0 that lasts for the whole test: 2
    // loops of 20 ms jobs take 20 s over it, twice the time between two
    // scans from the queue's start.
    await enqueueMany(
      db.pool,
      Array.from({ length: 2_000 }, (_, i) => ({ jobType: 'bulk' as const, payload: { i }, queue })),
      db.tables,
    );
    const bulkRunning = deferred();
    const urgentRan = deferred<number>();
    let bulkDone = 0;
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      concurrency: 2,
      batchSize: 5,
      log: silentLogger,
      handlers: {
        bulk: async () => {
          bulkDone++;
          if (bulkDone === 20) bulkRunning.resolve();
          await new Promise((resolve) => setTimeout(resolve, 20));
        },
        urgent: async () => urgentRan.resolve(bulkDone),
      },
    });
    await whileRunning(worker, async () => {
      await bulkRunning.promise;
      const before = bulkDone;
      await enqueue(db.pool, 'urgent', {}, { ...db.tables, queue, priority: -1 });
      const bulkBeforeUrgent = await urgentRan.promise;
      // Claims start past the jobs already taken; the notification sends
      // them back for the urgent job. Without it, the next scan from the
      // queue's start would find it, up to 10 s (some 1,000 jobs) later.
      assert.ok(bulkBeforeUrgent - before < 150, `${bulkBeforeUrgent - before} bulk jobs ran before the urgent one`);
    });
  });

  it('refuses a priority that is not an integer from -32768 to 32767', async () => {
    for (const priority of [1.5, -32769, 32768, '1', Number.NaN, null]) {
      await assert.rejects(
        enqueue(db.pool, 'x', {}, { ...db.tables, priority: priority as number }),
        (error: Error) => error instanceof InvalidOptionError && /priority must be an integer from -32768 to 32767/.test(error.message),
      );
    }
    await assert.rejects(
      enqueueMany(db.pool, [{ jobType: 'x', payload: {}, priority: 40_000 }], db.tables),
      /jobs\[0\]: priority must be an integer/,
    );
  });
});
