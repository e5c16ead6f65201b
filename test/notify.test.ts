import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createWorker, enqueue, enqueueMany, notifyChannel, silentLogger, type Worker } from 'proletarian';
import { createTestDatabase, databaseUrl, deferred, recordingLogger, waitFor, type TestDatabase } from './helpers/database.js';

// Long enough that a job picked up quickly can only have come from a notification.
const NO_POLLING = 60_000;

describe('wake-ups by LISTEN/NOTIFY', () => {
  let db: TestDatabase;
  let listener: pg.Client;
  const notifications: string[] = [];
  before(async () => {
    db = await createTestDatabase();
    listener = new pg.Client({ connectionString: databaseUrl() });
    await listener.connect();
    listener.on('notification', (message) => notifications.push(message.payload ?? ''));
    await listener.query(`LISTEN ${notifyChannel(db.tables)}`);
  });
  after(async () => {
    await listener.end();
    await db.close();
  });

  const newQueue = () => `q-${Math.random().toString(36).slice(2)}`;
  /** Listening connections of workers, not counting the test's own. */
  const countWorkerListeners = async () => {
    const ownPid = (await listener.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const rows = await db.rows(`SELECT pid FROM pg_stat_activity WHERE starts_with(query, $1) AND pid <> $2`, [
      `LISTEN ${notifyChannel(db.tables)}`,
      ownPid,
    ]);
    return rows.length;
  };

  async function idleWorker(queue: string, onJob: () => void, options: { listen?: boolean } = {}): Promise<Worker> {
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: NO_POLLING,
      ...options,
      handlers: { job: onJob },
    });
    await worker.start();
    // Let every loop find the queue empty and settle into its long wait.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return worker;
  }

  it('wakes an idle worker at once, without waiting for the poll', async () => {
    const queue = newQueue();
    const ran = deferred();
    const worker = await idleWorker(queue, () => ran.resolve());
    try {
      const enqueuedAt = Date.now();
      await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      await Promise.race([
        ran.promise,
        new Promise((_resolve, reject) => setTimeout(() => reject(new Error('not woken within 5 s')), 5_000)),
      ]);
      assert.ok(Date.now() - enqueuedAt < 5_000);
    } finally {
      await worker.stop();
    }
  });

  it('notifies at commit, once per queue, and never for a rolled-back enqueue', async () => {
    const queue = newQueue();
    const client = await db.pool.connect();
    try {
      notifications.length = 0;
      await client.query('BEGIN');
      await enqueue(client, 'job', {}, { ...db.tables, queue });
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      await enqueueMany(
        client,
        [
          { jobType: 'job', payload: 1, queue },
          { jobType: 'job', payload: 2, queue },
          { jobType: 'job', payload: 3, queue: `${queue}-other` },
        ],
        db.tables,
      );
      await enqueue(client, 'job', {}, { ...db.tables, queue });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(notifications, [], 'nothing is delivered before commit');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await waitFor(() => notifications.length >= 2, { what: 'notifications' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual([...notifications].sort(), [queue, `${queue}-other`].sort());
  });

  it('sends nothing for jobs scheduled for later; polling finds them', async () => {
    notifications.length = 0;
    await enqueue(db.pool, 'job', {}, { ...db.tables, queue: newQueue(), processIn: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(notifications, []);
  });

  it('works by polling alone with listen: false', async () => {
    const queue = newQueue();
    let runs = 0;
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      listen: false,
      pollInterval: 30,
      handlers: { job: () => void runs++ },
    });
    await worker.start();
    try {
      await enqueueMany(db.pool, Array.from({ length: 5 }, () => ({ jobType: 'job', payload: null, queue })), db.tables);
      await waitFor(() => runs === 5, { what: 'five jobs by polling' });
      assert.equal(await countWorkerListeners(), 0);
    } finally {
      await worker.stop();
    }
  });

  it('shares one listening connection among the workers of a pool and closes it when they stop', async () => {
    const workers = await Promise.all([newQueue(), newQueue(), newQueue()].map((queue) => idleWorker(queue, () => {})));
    assert.equal(await countWorkerListeners(), 1);
    await Promise.all(workers.map((worker) => worker.stop()));
    await waitFor(async () => (await countWorkerListeners()) === 0, { what: 'the listener to close' });
  });

  it('reconnects a lost listening connection and catches up on what it missed', async () => {
    const queue = newQueue();
    const log = recordingLogger();
    const ran: string[] = [];
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log,
      pollInterval: NO_POLLING,
      handlers: { job: (_payload, ctx) => void ran.push(ctx.jobId) },
    });
    await worker.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const listenerPid = (await listener.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      // The worker's listener runs LISTEN on this channel first (then on the cancel channel).
      await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE starts_with(query, $1) AND pid <> $2`, [
        `LISTEN ${notifyChannel(db.tables)}`,
        listenerPid,
      ]);
      // Enqueued while the listener is down (its notification is lost) ...
      const missed = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      await waitFor(() => log.names().includes('listener-reconnected'), { what: 'the listener to reconnect' });
      // ... yet run after the reconnect, long before the next poll.
      await waitFor(() => ran.includes(missed), { what: 'the missed job' });
      const next = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      await waitFor(() => ran.includes(next), { what: 'a job after the reconnect' });
      assert.ok(log.names().includes('listener-error'));
    } finally {
      await worker.stop();
    }
  });
});
