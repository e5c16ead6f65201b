import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createWorker, enqueue, silentLogger } from 'proletarian';
import { databaseUrl, deferred, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';

describe('worker: idle loops', () => {
  const { db, newQueue } = useWorkerTestDatabase();

  it('polls an empty queue from one loop only, however many loops the worker has', async () => {
    // Every claim takes a pooled connection: count them.
    let connects = 0;
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 6 });
    const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
    pool.connect = ((...args: unknown[]) => {
      connects++;
      return connect(...args);
    }) as typeof pool.connect;
    const worker = createWorker(pool, {
      ...db.tables,
      queue: newQueue(),
      concurrency: 4,
      pollInterval: 100,
      listen: false,
      log: silentLogger,
      handlers: { job: () => {} },
    });
    try {
      await whileRunning(worker, async () => {
        await new Promise((resolve) => setTimeout(resolve, 300)); // the first claims of every loop, then idle
        const before = connects;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const polls = connects - before;
        // One loop polling every 100 ms (±10%) makes about 10; four would make about 40.
        assert.ok(polls >= 5 && polls <= 16, `an idle worker of 4 loops polled ${polls} times in one second`);
      });
    } finally {
      await pool.end();
    }
  });

  it('wakes the sleeping loops when the polling one finds more due jobs than it takes', async () => {
    const queue = newQueue();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      concurrency: 3,
      batchSize: 1,
      pollInterval: 100,
      listen: false,
      log: silentLogger,
      handlers: {
        job: async () => {
          running++;
          if (running === 3) allRunning.resolve();
          await release.promise;
          running--;
        },
      },
    });
    let running = 0;
    const allRunning = deferred();
    const release = deferred();
    await whileRunning(worker, async () => {
      await new Promise((resolve) => setTimeout(resolve, 300)); // all three loops asleep, one of them polling
      for (let i = 0; i < 3; i++) await enqueue(db.pool, 'job', { i }, { ...db.tables, queue });
      try {
        // Three jobs that each wait for the others can only finish if all three loops run them.
        await Promise.race([
          allRunning.promise,
          new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${running} of 3 jobs ran at once`)), 5_000)),
        ]);
      } finally {
        release.resolve();
      }
      await waitFor(
        async () =>
          (await db.rows(`SELECT 1 FROM "${db.schema}".job WHERE queue = $1`, [queue])).length === 0,
        { what: 'the jobs to finish' },
      );
    });
  });
});
