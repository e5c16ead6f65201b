import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createWorker,
  enqueue,
  silentLogger,
  type JobInfo,
  type RetryStrategy,
  type WorkerOptions,
} from 'proletarian';
import { recordingLogger, useWorkerTestDatabase, waitFor } from './helpers/database.js';

interface StoredErrorRow {
  name: string;
  message: string;
  stack?: string;
  attempt: number;
  failedAt: string;
}

interface ArchivedRow {
  status: string;
  attempts: number;
  last_error: StoredErrorRow | null;
  error_history: StoredErrorRow[] | null;
}

describe('worker: retries and failures', () => {
  const { db, effects } = useWorkerTestDatabase();

  /** Runs one job of type `job` on its own queue until it is archived; returns the archive row. */
  async function runToArchive(
    payload: unknown,
    options: Partial<WorkerOptions> & Pick<WorkerOptions, 'handlers'>,
  ): Promise<{ jobId: string; row: ArchivedRow }> {
    const queue = `q-${Math.random().toString(36).slice(2)}`;
    const jobId = await enqueue(db.pool, 'job', payload, { ...db.tables, queue });
    const worker = createWorker(db.pool, { log: silentLogger, pollInterval: 10, ...options, ...db.tables, queue });
    await worker.start();
    try {
      const rows = await waitFor(
        async () => {
          const r = await db.rows<ArchivedRow>(
            `SELECT status, attempts, last_error, error_history FROM "${db.schema}".archived_job WHERE job_id = $1`,
            [jobId],
          );
          return r.length ? r : null;
        },
        { timeoutMs: 15_000, what: 'the job to be archived' },
      );
      return { jobId, row: rows[0]! };
    } finally {
      await worker.stop();
    }
  }

  it('retries with the delays given, repeating the last, counted from each failure', async () => {
    const delays = [150, 400];
    const attempts: { attempt: number; processAt: number; failedAt: number }[] = [];
    const { row } = await runToArchive(null, {
      retryStrategy: { retries: 4, delays },
      handlers: {
        job: async (_payload, ctx) => {
          const [now] = (await ctx.db.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows;
          attempts.push({ attempt: ctx.attempt, processAt: ctx.processAt.getTime(), failedAt: now!.t.getTime() });
          throw new Error(`failure ${ctx.attempt}`);
        },
      },
    });
    // retries + 1 runs in all, then archived as failure.
    assert.deepEqual(
      attempts.map((a) => a.attempt),
      [1, 2, 3, 4, 5],
    );
    assert.equal(row.status, 'failure');
    assert.equal(row.attempts, 5);
    assert.equal(row.last_error?.message, 'failure 5');
    assert.equal(row.last_error?.attempt, 5);
    assert.match(row.last_error?.stack ?? '', /failure 5/);
    // After failed attempt k the job waited delays[k-1] (the last one repeating), measured from the failure.
    const expected = [150, 400, 400, 400];
    for (let k = 1; k < attempts.length; k++) {
      const waited = attempts[k]!.processAt - attempts[k - 1]!.failedAt;
      assert.ok(
        waited >= expected[k - 1]! && waited < expected[k - 1]! + 250,
        `delay after attempt ${k}: ${waited} ms, expected ${expected[k - 1]} ms`,
      );
    }
  });

  it('retries at once when the delay list is empty', async () => {
    const times: number[] = [];
    const { row } = await runToArchive(null, {
      retryStrategy: { retries: 2, delays: [] },
      handlers: {
        job: () => {
          times.push(Date.now());
          throw new Error('again');
        },
      },
    });
    assert.equal(times.length, 3);
    assert.equal(row.attempts, 3);
    assert.ok(times[2]! - times[0]! < 1000);
  });

  it('does not retry when the strategy returns nothing', async () => {
    let runs = 0;
    const { row } = await runToArchive(null, {
      retryStrategy: () => undefined,
      handlers: {
        job: () => {
          runs++;
          throw new Error('once');
        },
      },
    });
    assert.equal(runs, 1);
    assert.deepEqual({ status: row.status, attempts: row.attempts }, { status: 'failure', attempts: 1 });
  });

  it('gives the strategy the job and the error, and lets a job type override the worker default', async () => {
    const calls: { attempt: number; message: string; payload: unknown }[] = [];
    const perType: RetryStrategy = (job: JobInfo, error: Error) => {
      calls.push({ attempt: job.attempt, message: error.message, payload: job.payload });
      return job.attempt < 2 ? { retries: 5, delays: [0] } : null;
    };
    const { row } = await runToArchive(
      { n: 1 },
      {
        retryStrategy: { retries: 0 },
        handlers: {
          job: {
            handler: () => {
              throw new Error('typed');
            },
            retryStrategy: perType,
          },
        },
      },
    );
    assert.deepEqual(calls, [
      { attempt: 1, message: 'typed', payload: { n: 1 } },
      { attempt: 2, message: 'typed', payload: { n: 1 } },
    ]);
    assert.equal(row.attempts, 2);
  });

  it('succeeds on a later attempt and keeps only that attempt’s writes', async () => {
    const { jobId, row } = await runToArchive(null, {
      retryStrategy: { retries: 3, delays: [0] },
      handlers: {
        job: async (_payload, ctx) => {
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, $2)`, [ctx.jobId, `attempt ${ctx.attempt}`]);
          if (ctx.attempt < 3) throw new Error(`flaky ${ctx.attempt}`);
        },
      },
    });
    assert.equal(row.status, 'success');
    assert.equal(row.attempts, 3);
    assert.equal(row.last_error?.message, 'flaky 2', 'the last error is kept for the record');
    assert.deepEqual(await effects(jobId), [
      { note: 'attempt 3' },
    ]);
  });

  for (const mode of ['transaction', 'lease'] as const) {
    it(`${mode} mode: keeps every failed attempt's error with its time, oldest first, the latest as last_error`, async () => {
      const started = Date.now();
      const handler = (_payload: unknown, ctx: { attempt: number }) => {
        throw new Error(`failure ${ctx.attempt}`);
      };
      const { row } = await runToArchive(null, {
        retryStrategy: { retries: 3, delays: [0] },
        handlers: { job: mode === 'lease' ? { handler, mode, leaseDuration: 1_000 } : handler },
      });
      assert.equal(row.status, 'failure');
      assert.equal(row.last_error?.attempt, 4);
      assert.deepEqual(
        row.error_history?.map(({ attempt, message }) => ({ attempt, message })),
        [1, 2, 3].map((attempt) => ({ attempt, message: `failure ${attempt}` })),
      );
      const times = [...row.error_history!, row.last_error!].map((error) => Date.parse(error.failedAt));
      assert.ok(times.every((t, i) => t >= started && (i === 0 || t >= times[i - 1]!)), `failure times in order: ${times}`);
      assert.match(row.error_history![0]!.stack ?? '', /failure 1/);
    });
  }

  it('keeps the last 20 earlier errors: the oldest goes when a new failure comes', async () => {
    const queue = `q-${Math.random().toString(36).slice(2)}`;
    const jobId = await enqueue(db.pool, 'job', null, { ...db.tables, queue });
    const stored = (attempt: number) => ({ name: 'Error', message: `failure ${attempt}`, attempt, failedAt: new Date().toISOString() });
    await db.pool.query(
      `UPDATE "${db.schema}".job SET attempts = 21, error_history = $2::jsonb, last_error = $3::jsonb WHERE job_id = $1`,
      [jobId, JSON.stringify(Array.from({ length: 20 }, (_, i) => stored(i + 1))), JSON.stringify(stored(21))],
    );
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 10,
      retryStrategy: { retries: 21, delays: [0] },
      handlers: {
        job: (_payload, ctx) => {
          throw new Error(`failure ${ctx.attempt}`);
        },
      },
    });
    await worker.start();
    try {
      const row = await waitFor(
        async () =>
          (
            await db.rows<ArchivedRow>(
              `SELECT status, attempts, last_error, error_history FROM "${db.schema}".archived_job WHERE job_id = $1`,
              [jobId],
            )
          )[0] ?? null,
        { timeoutMs: 15_000, what: 'the job to be archived' },
      );
      assert.equal(row.last_error?.attempt, 22);
      assert.deepEqual(
        row.error_history?.map((error) => error.attempt),
        Array.from({ length: 20 }, (_, i) => i + 2),
      );
    } finally {
      await worker.stop();
    }
  });

  it('records a non-Error throw with a readable message', async () => {
    const { row } = await runToArchive(null, {
      retryStrategy: () => null,
      handlers: {
        job: () => {
          throw { code: 42 };
        },
      },
    });
    assert.equal(row.last_error?.name, 'NonErrorThrownError');
    assert.equal(row.last_error?.message, 'handler threw a non-Error value: {"code":42}');
  });

  it('calls onFailedJob once after the final failure, in the job’s transaction', async () => {
    const hookCalls: { jobId: string; attempt: number; message: string }[] = [];
    const { jobId, row } = await runToArchive(null, {
      retryStrategy: { retries: 1, delays: [0] },
      onFailedJob: async (job, error, ctx) => {
        hookCalls.push({ jobId: job.jobId, attempt: job.attempt, message: error.message });
        await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'hook')`, [job.jobId]);
      },
      handlers: {
        job: () => {
          throw new Error('permanent');
        },
      },
    });
    assert.deepEqual(hookCalls, [{ jobId, attempt: 2, message: 'permanent' }]);
    assert.equal(row.status, 'failure');
    assert.deepEqual(await effects(jobId), [
      { note: 'hook' },
    ]);
  });

  it('archives the job as failed even when onFailedJob throws, rolling back only the hook’s writes', async () => {
    const log = recordingLogger();
    let runs = 0;
    let hookRuns = 0;
    const { jobId, row } = await runToArchive(null, {
      log,
      retryStrategy: () => null,
      onFailedJob: async (job, _error, ctx) => {
        hookRuns++;
        await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'hook')`, [job.jobId]);
        throw new Error('hook broke');
      },
      handlers: {
        job: () => {
          runs++;
          throw new Error('handler broke');
        },
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 100)); // no second run may follow
    assert.equal(runs, 1);
    assert.equal(hookRuns, 1);
    assert.equal(row.status, 'failure');
    assert.equal(row.last_error?.message, 'handler broke');
    assert.deepEqual(await effects(jobId), []);
    const hookError = log.events.find((e) => e.event === 'failed-job-hook-error');
    assert.equal((hookError?.data['error'] as { message: string }).message, 'hook broke');
    assert.ok(log.names().includes('job-failed'));
  });

  it('archives the job once even when onFailedJob swallows a failed query', async () => {
    const log = recordingLogger();
    let hookRuns = 0;
    const { row } = await runToArchive(null, {
      log,
      retryStrategy: () => null,
      onFailedJob: async (_job, _error, ctx) => {
        hookRuns++;
        await ctx.db.query('SELECT 1/0').catch(() => {}); // leaves the transaction aborted
      },
      handlers: {
        job: () => {
          throw new Error('handler broke');
        },
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 100)); // no second run may follow
    assert.equal(hookRuns, 1);
    assert.equal(row.status, 'failure');
    assert.ok(log.names().includes('failed-job-hook-error'));
  });

  it('fails the job, loudly, when the retry strategy throws or returns nonsense', async () => {
    for (const strategy of [
      () => {
        throw new Error('strategy broke');
      },
      () => ({ retries: -1 }),
      () => ({ retries: 2, delays: 'soon' }) as unknown as { retries: number },
    ]) {
      const log = recordingLogger();
      let runs = 0;
      const { row } = await runToArchive(null, {
        log,
        retryStrategy: strategy,
        handlers: {
          job: () => {
            runs++;
            throw new Error('handler failed');
          },
        },
      });
      assert.equal(runs, 1);
      assert.equal(row.status, 'failure');
      assert.equal(row.last_error?.message, 'handler failed');
      assert.ok(log.names().includes('retry-strategy-error'));
    }
  });
});
