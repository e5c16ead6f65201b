import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createWorker,
  enqueue,
  enqueueMany,
  InvalidNameError,
  InvalidOptionError,
  pauseQueue,
  queueStats,
  resumeQueue,
  SchemaNotReadyError,
  type JobHandler,
  type WorkerOptions,
} from 'proletarian';
import { recordingLogger, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';

describe('pausing a queue', () => {
  const { db, newQueue } = useWorkerTestDatabase();
  const archivedCount = async (queue: string) =>
    (await db.rows<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".archived_job WHERE queue = $1`, [queue]))[0]!.n;
  const queuedCount = async (queue: string) =>
    (await db.rows<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".job WHERE queue = $1`, [queue]))[0]!.n;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('pauseQueue and resumeQueue change the stored state and say whether they did; queueStats shows it', async () => {
    const queue = newQueue();
    await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    const paused = async () => (await queueStats(db.pool, db.tables)).find((s) => s.queue === queue)!.paused;
    assert.equal(await paused(), false);
    assert.equal(await resumeQueue(db.pool, queue, db.tables), false, 'not paused: nothing to resume');
    assert.equal(await pauseQueue(db.pool, queue, db.tables), true);
    assert.equal(await pauseQueue(db.pool, queue, db.tables), false, 'already paused');
    assert.equal(await paused(), true);
    assert.equal(await resumeQueue(db.pool, queue, db.tables), true);
    assert.equal(await paused(), false);
    assert.equal(await pauseQueue(db.pool, queue, db.tables), true, 'and again');
    await resumeQueue(db.pool, queue, db.tables);
  });

  it('checks its arguments, and says when the schema is missing', async () => {
    await assert.rejects(pauseQueue(db.pool, '', db.tables), InvalidNameError);
    await assert.rejects(pauseQueue(db.pool, undefined as unknown as string, db.tables), InvalidNameError);
    await assert.rejects(pauseQueue({} as never, 'q', db.tables), InvalidOptionError);
    await assert.rejects(resumeQueue(db.pool, 'q', { ...db.tables, queue: 'q' } as never), /unknown resumeQueue option "queue"/);
    await assert.rejects(pauseQueue(db.pool, 'q', { schema: 'test_nothing_here' }), SchemaNotReadyError);
  });

  it('runs in the caller\'s transaction: a rolled-back pause never happened, a committed one wakes workers at commit', async () => {
    const queue = newQueue();
    const log = recordingLogger();
    const worker = createWorker(db.pool, { ...db.tables, queue, log, pollInterval: 20, handlers: { job: () => {} } });
    await whileRunning(worker, async () => {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        assert.equal(await pauseQueue(client, queue, db.tables), true);
        await client.query('ROLLBACK');
        await client.query('BEGIN');
        await pauseQueue(client, queue, db.tables);
        await enqueue(client, 'job', {}, { ...db.tables, queue });
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await waitFor(() => log.names().includes('queue-paused'), { what: 'queue-paused' });
      assert.equal(log.names().filter((name) => name === 'queue-paused').length, 1);
      await resumeQueue(db.pool, queue, db.tables);
      await waitFor(async () => (await archivedCount(queue)) === 1, { what: 'the job run after resume' });
    });
  });

  for (const mode of ['transaction', 'lease'] as const) {
    it(`under load (${mode} mode): claiming stops at once, running jobs finish, enqueue works, resume wakes workers at once`, async () => {
      const queue = newQueue();
      const log = recordingLogger();
      const starts: number[] = [];
      let running = 0;
      const handler: JobHandler = async () => {
        starts.push(Date.now());
        running++;
        await sleep(30);
        running--;
      };
      const worker = createWorker(db.pool, {
        ...db.tables,
        queue,
        log,
        concurrency: 3,
        pollInterval: 50,
        handlers: { job: mode === 'lease' ? { mode, handler, leaseDuration: 5_000 } : handler },
      });
      await enqueueMany(db.pool, Array.from({ length: 300 }, (_, n) => ({ jobType: 'job', payload: { n }, queue })), db.tables);
      await whileRunning(worker, async () => {
        await waitFor(() => starts.length >= 10, { what: 'jobs running' });
        const pausedAt = Date.now();
        await pauseQueue(db.pool, queue, db.tables);
        await waitFor(() => log.names().includes('queue-paused'), { what: 'the worker to see the pause' });
        const seenAfter = Date.now() - pausedAt;
        assert.ok(seenAfter < 1_000, `pause seen after ${seenAfter} ms`);
        // Running jobs finish; nothing starts after that.
        await waitFor(() => running === 0, { what: 'running jobs to finish' });
        const startedBeforePause = starts.length;
        await waitFor(async () => (await archivedCount(queue)) === startedBeforePause, { what: 'their completion' });
        assert.ok(starts.every((t) => t < pausedAt + 1_000), 'no job started a second after the pause');
        // Enqueueing goes on.
        const more = await enqueue(db.pool, 'job', { n: 'more' }, { ...db.tables, queue });
        assert.ok(more);
        await sleep(500); // ten poll intervals: a window for any claim to show
        assert.equal(starts.length, startedBeforePause, 'no job claimed while paused');
        assert.equal(await queuedCount(queue), 301 - startedBeforePause);

        const resumedAt = Date.now();
        await resumeQueue(db.pool, queue, db.tables);
        await waitFor(() => starts.length > startedBeforePause, { what: 'a job after resume' });
        const wokeAfter = starts[startedBeforePause]! - resumedAt;
        assert.ok(wokeAfter < 800, `first job ${wokeAfter} ms after resume`); // the every-second read alone would take longer
        assert.ok(log.names().includes('queue-resumed'));
      });
    });
  }

  it('without LISTEN, workers see a pause and a resume within about a second', async () => {
    const queue = newQueue();
    const log = recordingLogger();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log,
      listen: false,
      pollInterval: 20,
      handlers: { job: () => {} },
    });
    await whileRunning(worker, async () => {
      await waitFor(() => log.names().includes('worker-started'), { what: 'start' });
      const pausedAt = Date.now();
      await pauseQueue(db.pool, queue, db.tables);
      await waitFor(() => log.names().includes('queue-paused'), { what: 'the pause seen', timeoutMs: 3_000 });
      assert.ok(Date.now() - pausedAt < 1_600, `seen after ${Date.now() - pausedAt} ms`);
      await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      const resumedAt = Date.now();
      await resumeQueue(db.pool, queue, db.tables);
      await waitFor(async () => (await archivedCount(queue)) === 1, { what: 'the job run after resume', timeoutMs: 3_000 });
      assert.ok(Date.now() - resumedAt < 1_800, `ran ${Date.now() - resumedAt} ms after resume`);
    });
  });

  it('a paused queue stays paused across restarts: a starting worker reads the state before its first claim', async () => {
    const queue = newQueue();
    await pauseQueue(db.pool, queue, db.tables);
    await enqueueMany(db.pool, [1, 2, 3].map((n) => ({ jobType: 'job', payload: n, queue })), db.tables);
    const ran: unknown[] = [];
    const options: WorkerOptions = { ...db.tables, queue, pollInterval: 20, handlers: { job: (payload) => void ran.push(payload) } };
    for (const listen of [true, false]) {
      const log = recordingLogger();
      const worker = createWorker(db.pool, { ...options, log, listen });
      await whileRunning(worker, async () => {
        await waitFor(() => log.names().includes('queue-paused'), { what: 'the worker to read the pause' });
        await sleep(300); // fifteen poll intervals: a window for any claim to show
      });
      assert.deepEqual(ran, [], `nothing ran (listen: ${listen})`);
      assert.equal(await queuedCount(queue), 3);
    }
    // Stopped and started again, the same worker reads the state again.
    const log = recordingLogger();
    const worker = createWorker(db.pool, { ...options, log });
    await whileRunning(worker, () => waitFor(() => log.names().includes('queue-paused'), { what: 'paused at first start' }));
    await resumeQueue(db.pool, queue, db.tables);
    await whileRunning(worker, () => waitFor(() => ran.length === 3, { what: 'the jobs, once resumed' }));
  });
});
