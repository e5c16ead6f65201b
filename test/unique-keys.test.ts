import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createWorker, enqueue, enqueueMany, InvalidOptionError, silentLogger } from 'proletarian';
import { databaseUrl, deferred, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';

describe('unique keys', () => {
  const { db, newQueue } = useWorkerTestDatabase();
  const jobsWithKey = (queue: string, key: string) =>
    db.rows<{ job_id: string; payload: { v: number }; priority: number; replacement: unknown }>(
      `SELECT job_id, payload, priority, replacement FROM "${db.schema}".job WHERE queue = $1 AND unique_key = $2`,
      [queue, key],
    );
  const archivedWithKey = (queue: string, key: string) =>
    db.rows<{ job_id: string; payload: { v: number } }>(
      `SELECT job_id, payload FROM "${db.schema}".archived_job WHERE queue = $1 AND unique_key = $2 ORDER BY finished_at`,
      [queue, key],
    );

  it('returns the id of the unfinished job holding the key, and inserts nothing', async () => {
    const queue = newQueue();
    const first = await enqueue(db.pool, 'sync', { v: 1 }, { ...db.tables, queue, uniqueKey: 'user:1' });
    const second = await enqueue(db.pool, 'sync', { v: 2 }, { ...db.tables, queue, uniqueKey: 'user:1', processIn: 60_000 });
    assert.equal(second, first);
    const other = await enqueue(db.pool, 'sync', { v: 3 }, { ...db.tables, queue, uniqueKey: 'user:2' });
    assert.notEqual(other, first);
    const elsewhere = await enqueue(db.pool, 'sync', { v: 4 }, { ...db.tables, queue: newQueue(), uniqueKey: 'user:1' });
    assert.notEqual(elsewhere, first, 'keys are unique per queue');
    assert.deepEqual((await jobsWithKey(queue, 'user:1')).map((job) => job.payload), [{ v: 1 }]);
  });

  it('ends with exactly one job when 20 transactions on 20 connections enqueue one key at once', async () => {
    const queue = newQueue();
    const clients = Array.from({ length: 20 }, () => new pg.Client({ connectionString: databaseUrl() }));
    await Promise.all(clients.map((client) => client.connect()));
    try {
      await Promise.all(clients.map((client) => client.query('BEGIN')));
      // Every transaction has enqueued before any commits: all but the
      // first wait on the unique index for the first to decide.
      const ids = await Promise.all(
        clients.map(async (client, i) => {
          const id = await enqueue(client, 'sync', { v: i }, { ...db.tables, queue, uniqueKey: 'shared' });
          await client.query('COMMIT');
          return id;
        }),
      );
      const jobs = await jobsWithKey(queue, 'shared');
      assert.equal(jobs.length, 1);
      assert.deepEqual(new Set(ids), new Set([jobs[0]!.job_id]), 'every enqueue returned the one job');
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  });

  it('inserts the key again when the transaction holding it rolls back', async () => {
    const queue = newQueue();
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      const rolledBack = await enqueue(holder, 'sync', { v: 1 }, { ...db.tables, queue, uniqueKey: 'k' });
      const waiting = enqueue(db.pool, 'sync', { v: 2 }, { ...db.tables, queue, uniqueKey: 'k' });
      await holder.query('ROLLBACK');
      const id = await waiting;
      assert.notEqual(id, rolledBack);
      assert.deepEqual((await jobsWithKey(queue, 'k')).map((job) => job.job_id), [id]);
    } finally {
      holder.release();
    }
  });

  it('collapses repeats inside one enqueueMany to the first, and returns ids in input order with repeats', async () => {
    const queue = newQueue();
    const held = await enqueue(db.pool, 'sync', { v: 0 }, { ...db.tables, queue, uniqueKey: 'held' });
    const ids = await enqueueMany(
      db.pool,
      [
        { jobType: 'sync', payload: { v: 1 }, queue, uniqueKey: 'a' },
        { jobType: 'sync', payload: { v: 2 }, queue },
        { jobType: 'sync', payload: { v: 3 }, queue, uniqueKey: 'a' },
        { jobType: 'sync', payload: { v: 4 }, queue, uniqueKey: 'held' },
        { jobType: 'sync', payload: { v: 5 }, queue, uniqueKey: 'b' },
      ],
      db.tables,
    );
    assert.equal(ids.length, 5);
    assert.equal(ids[2], ids[0]);
    assert.equal(ids[3], held);
    assert.equal(new Set(ids).size, 4);
    const rows = await db.rows<{ job_id: string; payload: { v: number } }>(
      `SELECT job_id, payload FROM "${db.schema}".job WHERE queue = $1 ORDER BY payload->>'v'`,
      [queue],
    );
    assert.deepEqual(
      rows.map((row) => row.payload.v),
      [0, 1, 2, 5],
    );
    assert.equal(rows.find((row) => row.payload.v === 1)?.job_id, ids[0]);
  });

  it('does not deadlock when transactions enqueue the same keys in opposite orders', async () => {
    const queue = newQueue();
    const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
    const clients = Array.from({ length: 6 }, () => new pg.Client({ connectionString: databaseUrl() }));
    await Promise.all(clients.map((client) => client.connect()));
    try {
      const results = await Promise.all(
        clients.map(async (client, i) => {
          await client.query('BEGIN');
          const order = i % 2 === 0 ? keys : [...keys].reverse();
          const ids = await enqueueMany(
            client,
            order.map((uniqueKey) => ({ jobType: 'sync', payload: { i }, queue, uniqueKey })),
            db.tables,
          );
          await client.query('COMMIT');
          return new Map(order.map((key, j) => [key, ids[j]]));
        }),
      );
      for (const key of keys) {
        const holders = await jobsWithKey(queue, key);
        assert.equal(holders.length, 1);
        for (const result of results) assert.equal(result.get(key), holders[0]!.job_id);
      }
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
  });

  it('frees the key when its job finishes', async () => {
    const queue = newQueue();
    const ran: number[] = [];
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      handlers: { sync: async (payload: unknown) => void ran.push((payload as { v: number }).v) },
    });
    await whileRunning(worker, async () => {
      const first = await enqueue(db.pool, 'sync', { v: 1 }, { ...db.tables, queue, uniqueKey: 'k' });
      await waitFor(async () => (await archivedWithKey(queue, 'k')).length === 1, { what: 'the first job' });
      const second = await enqueue(db.pool, 'sync', { v: 2 }, { ...db.tables, queue, uniqueKey: 'k' });
      assert.notEqual(second, first);
      await waitFor(async () => (await archivedWithKey(queue, 'k')).length === 2, { what: 'the second job' });
    });
    assert.deepEqual(ran, [1, 2]);
  });

  it("with onConflict 'replace', gives a waiting job the new payload, due time and priority", async () => {
    const queue = newQueue();
    const options = { ...db.tables, queue, uniqueKey: 'debounced', onConflict: 'replace' as const };
    const first = await enqueue(db.pool, 'sync', { v: 1 }, { ...options, processIn: 60_000 });
    const second = await enqueue(db.pool, 'sync', { v: 2 }, { ...options, processIn: 30_000, priority: 4 });
    assert.equal(second, first);
    const [job] = await jobsWithKey(queue, 'debounced');
    assert.deepEqual(job?.payload, { v: 2 });
    assert.equal(job?.priority, 4);
    const [{ in_seconds } = { in_seconds: 0 }] = await db.rows<{ in_seconds: number }>(
      `SELECT extract(epoch FROM process_at - now())::float8 AS in_seconds FROM "${db.schema}".job WHERE job_id = $1`,
      [first],
    );
    assert.ok(in_seconds > 20 && in_seconds <= 30, `due in ${in_seconds} s`);
  });

  for (const mode of ['transaction', 'lease'] as const) {
    it(`with onConflict 'replace', runs a change enqueued while the job runs after that run (${mode} mode)`, async () => {
      const queue = newQueue();
      const options = { ...db.tables, queue, uniqueKey: 'doc:1', onConflict: 'replace' as const };
      const running = deferred();
      const release = deferred();
      const ran: number[] = [];
      const handler = async (payload: unknown) => {
        const { v } = payload as { v: number };
        ran.push(v);
        if (v === 1) {
          running.resolve();
          await release.promise;
        }
      };
      const worker = createWorker(db.pool, {
        ...db.tables,
        queue,
        log: silentLogger,
        handlers: { sync: mode === 'lease' ? { handler, mode: 'lease' } : handler },
      });
      await whileRunning(worker, async () => {
        await enqueue(db.pool, 'sync', { v: 1 }, options);
        await running.promise;
        // In a batch, the running job is locked: this enqueue waits for the
        // batch to end. Under a lease, it returns at once.
        const change = enqueue(db.pool, 'sync', { v: 2 }, options);
        if (mode === 'lease') {
          await change;
          const [job] = await jobsWithKey(queue, 'doc:1');
          assert.deepEqual(job?.payload, { v: 1 }, 'the running job keeps its payload');
          assert.deepEqual((job?.replacement as { payload: unknown } | null)?.payload, { v: 2 });
        }
        release.resolve();
        await change;
        await waitFor(async () => (await archivedWithKey(queue, 'doc:1')).length === 2, { what: 'both runs' });
      });
      assert.deepEqual(ran, [1, 2]);
      assert.deepEqual(
        (await archivedWithKey(queue, 'doc:1')).map((job) => job.payload.v),
        [1, 2],
      );
    });
  }

  it('refuses bad keys and options with clear errors', async () => {
    await assert.rejects(enqueue(db.pool, 'x', {}, { ...db.tables, uniqueKey: '' }), /uniqueKey must be a non-empty string/);
    await assert.rejects(
      enqueue(db.pool, 'x', {}, { ...db.tables, uniqueKey: 7 as unknown as string }),
      /uniqueKey must be a non-empty string; got number/,
    );
    await assert.rejects(enqueue(db.pool, 'x', {}, { ...db.tables, uniqueKey: 'a\u0000b' }), /NUL/);
    await assert.rejects(
      enqueue(db.pool, 'x', {}, { ...db.tables, uniqueKey: 'k', onConflict: 'update' as 'replace' }),
      (error: Error) => error instanceof InvalidOptionError && /onConflict must be 'keep' or 'replace'/.test(error.message),
    );
    await assert.rejects(enqueue(db.pool, 'x', {}, { ...db.tables, onConflict: 'replace' }), /onConflict needs a uniqueKey/);
    await assert.rejects(
      enqueueMany(
        db.pool,
        [
          { jobType: 'x', payload: {}, uniqueKey: 'a' },
          { jobType: 'x', payload: {}, uniqueKey: 'b', onConflict: 'replace' },
        ],
        db.tables,
      ),
      /must all use the same onConflict/,
    );
  });
});
