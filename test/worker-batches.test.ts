import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createWorker, enqueue, enqueueMany, silentLogger, type Worker } from 'proletarian';
import { databaseUrl, recordingLogger, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';

describe('worker: batches', () => {
  const { db, effects, newQueue } = useWorkerTestDatabase();
  const queuedCount = async (queue: string) =>
    Number((await db.rows<{ n: string }>(`SELECT count(*) AS n FROM "${db.schema}".job WHERE queue = $1`, [queue]))[0]!.n);

  it("keeps a failing job's neighbours in the batch: their writes commit, its own do not", async () => {
    const queue = newQueue();
    const total = 60;
    const ids = await enqueueMany(
      db.pool,
      Array.from({ length: total }, (_, i) => ({ jobType: 'job', payload: i, queue })),
      db.tables,
    );
    const transactionOf = new Map<number, string>();
    const runs = new Map<number, number>();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      batchSize: 20,
      retryStrategy: { retries: 1, delays: [60_000] },
      handlers: {
        job: async (payload, ctx) => {
          const i = payload as number;
          runs.set(i, (runs.get(i) ?? 0) + 1);
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, $2)`, [ctx.jobId, `job ${i}`]);
          const { rows } = await ctx.db.query<{ tx: string }>('SELECT txid_current()::text AS tx');
          transactionOf.set(i, rows[0]!.tx);
          if (i % 7 === 3) throw new Error(`job ${i} fails`);
        },
      },
    });
    await worker.start();
    try {
      // Done once the failures are recorded too: a failing job may run last and alone, and a stop
      // before its batch completes would leave it interrupted, with no attempt counted.
      const failures = Math.ceil((total - 3) / 7);
      const retried = async () =>
        Number(
          (
            await db.rows<{ n: string }>(
              `SELECT count(*) AS n FROM "${db.schema}".job WHERE queue = $1 AND attempts = 1`,
              [queue],
            )
          )[0]!.n,
        );
      await waitFor(
        async () => runs.size === total && (await queuedCount(queue)) === failures && (await retried()) === failures,
        { what: 'every job to run once' },
      );
    } finally {
      await worker.stop();
    }
    // Jobs really shared transactions: batches grew past one job.
    const batches = new Map<string, number[]>();
    for (const [i, tx] of transactionOf) batches.set(tx, [...(batches.get(tx) ?? []), i]);
    const mixed = [...batches.values()].filter((jobs) => jobs.some((i) => i % 7 === 3) && jobs.some((i) => i % 7 !== 3));
    assert.ok(mixed.length > 0, `some batch mixed failures and successes: ${JSON.stringify([...batches.values()])}`);
    assert.ok([...runs.values()].every((n) => n === 1), 'no job ran twice');

    for (let i = 0; i < total; i++) {
      const jobId = ids[i]!;
      if (i % 7 === 3) {
        assert.deepEqual(await effects(jobId), [], `failed job ${i} kept no writes`);
        const [row] = await db.rows<{ attempts: number }>(`SELECT attempts FROM "${db.schema}".job WHERE job_id = $1`, [
          jobId,
        ]);
        assert.equal(row?.attempts, 1, `failed job ${i} recorded its attempt`);
      } else {
        assert.deepEqual(await effects(jobId), [{ note: `job ${i}` }], `job ${i} committed its write`);
      }
    }
  });

  it('archives a job once even when its own handler moved its row (an update through ctx.db)', async () => {
    // A batch deletes its jobs by where the claim found their rows; a row its
    // handler updated stands elsewhere since, and is found by its id instead.
    const queue = newQueue();
    const total = 30;
    const ids = await enqueueMany(
      db.pool,
      Array.from({ length: total }, (_, i) => ({ jobType: 'job', payload: i, queue })),
      db.tables,
    );
    const runs = new Map<number, number>();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      batchSize: 10,
      handlers: {
        job: async (payload, ctx) => {
          const i = payload as number;
          runs.set(i, (runs.get(i) ?? 0) + 1);
          if (i % 3 === 0) {
            await ctx.db.query(`UPDATE "${db.schema}".job SET payload = payload WHERE job_id = $1`, [ctx.jobId]);
          }
        },
      },
    });
    await worker.start();
    try {
      await waitFor(async () => runs.size === total && (await queuedCount(queue)) === 0, { what: 'every job to finish' });
    } finally {
      await worker.stop();
    }
    assert.ok([...runs.values()].every((n) => n === 1), `no job ran twice: ${JSON.stringify([...runs])}`);
    const archived = await db.rows<{ job_id: string; status: string }>(
      `SELECT job_id, status FROM "${db.schema}".archived_job WHERE queue = $1`,
      [queue],
    );
    assert.deepEqual(archived.map((row) => row.job_id).sort(), [...ids].sort());
    assert.ok(archived.every((row) => row.status === 'success'));
  });

  it('gives handlers that query with callbacks, a query_timeout or several statements the same savepoint semantics', async () => {
    const queue = newQueue();
    const types = ['callback', 'timeout', 'statements'] as const;
    const ids = await enqueueMany(
      db.pool,
      Array.from({ length: 12 }, (_, i) => ({ jobType: types[i % 3]!, payload: i, queue })),
      db.tables,
    );
    const insert = `INSERT INTO "${db.schema}".effects VALUES ($1, $2)`;
    const ran = new Set<number>();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      batchSize: 8,
      retryStrategy: { retries: 1, delays: [60_000] },
      handlers: {
        callback: async (payload, ctx) => {
          const i = payload as number;
          await new Promise<void>((resolve, reject) =>
            ctx.db.query(insert, [ctx.jobId, `job ${i}`], (error) => (error ? reject(error) : resolve())),
          );
          ran.add(i);
          if (i % 4 >= 2) throw new Error(`job ${i} fails`);
        },
        timeout: async (payload, ctx) => {
          const i = payload as number;
          await ctx.db.query({ text: insert, values: [ctx.jobId, `job ${i}`], query_timeout: 10_000 } as never);
          ran.add(i);
          if (i % 4 >= 2) throw new Error(`job ${i} fails`);
        },
        // Text without parameters goes by pg's simple protocol, which takes several statements.
        statements: async (payload, ctx) => {
          const i = payload as number;
          await ctx.db.query(`SELECT 1; INSERT INTO "${db.schema}".effects VALUES ('${ctx.jobId}', 'job ${i}')`);
          ran.add(i);
          if (i % 4 >= 2) throw new Error(`job ${i} fails`);
        },
      },
    });
    await whileRunning(worker, () =>
      waitFor(async () => ran.size === 12 && (await queuedCount(queue)) === 6, { what: 'every job to run once' }),
    );
    for (const [i, jobId] of ids.entries()) {
      const expected = i % 4 >= 2 ? [] : [{ note: `job ${i}` }];
      assert.deepEqual(await effects(jobId), expected, `job ${i}`);
    }
  });

  it('sees no abandoned runs where none happened, across many concurrent batches', async () => {
    const queue = newQueue();
    const total = 20_000;
    for (let i = 0; i < total; i += 5_000) {
      await enqueueMany(db.pool, Array.from({ length: 5_000 }, () => ({ jobType: 'job', payload: null, queue })), db.tables);
    }
    const log = recordingLogger();
    const workers = [1, 2].map(() =>
      createWorker(db.pool, { ...db.tables, queue, log, concurrency: 2, batchSize: 500, handlers: { job: () => {} } }),
    );
    await Promise.all(workers.map((worker) => worker.start()));
    try {
      await waitFor(async () => (await queuedCount(queue)) === 0, { timeoutMs: 60_000, what: 'the queue to drain' });
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
    const suspicious = log.events.filter((e) => ['job-recovered', 'job-set-aside', 'polling-error'].includes(e.event));
    assert.deepEqual(suspicious, []);
    const [row] = await db.rows<{ n: string }>(
      `SELECT count(*) AS n FROM "${db.schema}".archived_job WHERE queue = $1 AND status = 'success' AND attempts = 1`,
      [queue],
    );
    assert.equal(Number(row!.n), total);
  });

  it('runs one job per transaction with batchSize 1', async () => {
    const queue = newQueue();
    await enqueueMany(db.pool, Array.from({ length: 10 }, () => ({ jobType: 'job', payload: null, queue })), db.tables);
    const transactions = new Set<string>();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      batchSize: 1,
      handlers: {
        job: async (_payload, ctx) => {
          transactions.add((await ctx.db.query<{ tx: string }>('SELECT txid_current()::text AS tx')).rows[0]!.tx);
        },
      },
    });
    await whileRunning(worker, () => waitFor(async () => (await queuedCount(queue)) === 0, { what: 'the queue to drain' }));
    assert.equal(transactions.size, 10);
  });

  it('on stop, commits the jobs of the batch that ran and leaves the rest queued, untouched', async () => {
    const queue = newQueue();
    const total = 200;
    await enqueueMany(db.pool, Array.from({ length: total }, (_, i) => ({ jobType: 'job', payload: i, queue })), db.tables);
    const ran = new Set<number>();
    let worker: Worker | undefined;
    let stopping: Promise<void> | undefined;
    worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      batchSize: 50,
      handlers: {
        job: (payload) => {
          ran.add(payload as number);
          if (ran.size === 120) stopping = worker!.stop();
        },
      },
    });
    await worker.start();
    await waitFor(() => stopping !== undefined, { what: 'the stop from inside a handler' });
    await stopping;
    const [counts] = await db.rows<{ archived: string; queued: string; touched: string }>(
      `SELECT (SELECT count(*) FROM "${db.schema}".archived_job WHERE queue = $1) AS archived,
              (SELECT count(*) FROM "${db.schema}".job WHERE queue = $1) AS queued,
              (SELECT count(*) FROM "${db.schema}".job WHERE queue = $1 AND (attempts > 0 OR last_error IS NOT NULL)) AS touched`,
      [queue],
    );
    assert.equal(Number(counts!.archived), ran.size, 'every job that ran is archived');
    assert.equal(Number(counts!.archived) + Number(counts!.queued), total, 'no job lost');
    assert.equal(Number(counts!.touched), 0, 'jobs that did not run are untouched');
    assert.ok(Number(counts!.queued) > 0);
  });

  it('runs a job whose enqueue committed after jobs enqueued later had run', async () => {
    // The late job is due before the claims' starting point has moved past
    // it; the worker's periodic scan from the queue's start finds it.
    const queue = newQueue();
    const ran: string[] = [];
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 50,
      handlers: { job: (payload) => void ran.push(payload as string) },
    });
    const app = new pg.Client({ connectionString: databaseUrl() });
    await app.connect();
    try {
      await whileRunning(worker, async () => {
        await app.query('BEGIN');
        await enqueue(app, 'job', 'late', { ...db.tables, queue });
        for (const name of ['first', 'second']) {
          await enqueue(db.pool, 'job', name, { ...db.tables, queue });
          await waitFor(() => ran.includes(name), { what: `job ${name} to run` });
        }
        await app.query('COMMIT');
        await waitFor(() => ran.includes('late'), { what: 'the late job to run' });
      });
    } finally {
      await app.end();
    }
    assert.deepEqual(ran, ['first', 'second', 'late']);
  });
});
