import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cancelJob,
  createWorker,
  DiscardJobError,
  enqueue,
  JobCancelledError,
  notifyChannel,
  queueStats,
  retryJob,
  SnoozeJobError,
  type JobHandler,
  type WorkerOptions,
} from 'proletarian';
import { deferred, recordingLogger, untilListening, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';

// Cancel, discard and snooze as workers carry them out, in both modes.

type Mode = 'transaction' | 'lease';

interface ArchivedRow {
  status: string;
  attempts: number;
  last_error: { name: string; message: string } | null;
}

describe('worker: cancel, retry, discard, snooze', () => {
  const { db, effects, newQueue } = useWorkerTestDatabase();

  const archived = async (jobId: string) =>
    (
      await db.rows<ArchivedRow>(
        `SELECT status, attempts, last_error FROM "${db.schema}".archived_job WHERE job_id = $1`,
        [jobId],
      )
    )[0];
  const untilArchived = (jobId: string) => waitFor(() => archived(jobId), { what: `job ${jobId} archived` });
  const stillQueued = async (jobId: string) =>
    (await db.rows(`SELECT 1 FROM "${db.schema}".job WHERE job_id = $1`, [jobId])).length > 0;

  function worker(queue: string, mode: Mode, handler: JobHandler, options: Partial<WorkerOptions> = {}) {
    const log = recordingLogger();
    const entry = mode === 'lease' ? { handler, mode, leaseDuration: 1_000 } : { handler };
    const w = createWorker(db.pool, {
      ...db.tables,
      queue,
      log,
      pollInterval: 20,
      retryStrategy: { retries: 3, delays: [0] },
      ...options,
      handlers: { job: entry },
    });
    return { worker: w, log };
  }

  /** A handler that writes, says it started, then waits for its signal and returns `then`. */
  function waitsForCancel(then: 'returns' | 'throws') {
    const started = deferred<string>();
    const reason = deferred<unknown>();
    const handler: JobHandler = async (_payload, ctx) => {
      await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'ran')`, [ctx.jobId]);
      started.resolve(ctx.jobId);
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      reason.resolve(ctx.signal.reason);
      if (then === 'throws') throw ctx.signal.reason;
    };
    return { handler, started, reason };
  }

  it('a request made while the listener was down reaches a handler that only waits for its signal', async () => {
    const queue = newQueue();
    const { handler, started, reason } = waitsForCancel('returns');
    const { worker: w, log } = worker(queue, 'transaction', handler);
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    await whileRunning(w, async () => {
      await started.promise;
      await untilListening(db);
      await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE starts_with(query, $1)`, [
        `LISTEN ${notifyChannel(db.tables)}`,
      ]);
      await waitFor(() => log.names().includes('listener-error'), { what: 'the worker to lose its listener' });
      // Its notification goes nowhere: nobody listens until the reconnect, which reads the request.
      assert.equal(await cancelJob(db.pool, jobId, db.tables), 'cancelling');
      const aborted = await reason.promise;
      assert.ok(aborted instanceof JobCancelledError);
      assert.equal((await untilArchived(jobId)).status, 'cancelled');
    });
    assert.deepEqual(await effects(jobId), []);
  });

  for (const mode of ['transaction', 'lease'] as const) {
    it(`${mode} mode: cancelling a running job aborts its signal; archived as cancelled, not retried`, async () => {
      const queue = newQueue();
      const { handler, started, reason } = waitsForCancel(mode === 'lease' ? 'throws' : 'returns');
      const { worker: w, log } = worker(queue, mode, handler);
      const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      await whileRunning(w, async () => {
        await started.promise;
        const before = performance.now();
        assert.equal(await cancelJob(db.pool, jobId, db.tables), 'cancelling');
        const ms = performance.now() - before;
        assert.ok(ms < 1_000, `cancelJob returned after ${Math.round(ms)} ms while the job ran`);
        const aborted = await reason.promise;
        assert.ok(aborted instanceof JobCancelledError);
        assert.equal(aborted.jobId, jobId);
        const row = await untilArchived(jobId);
        assert.equal(row.status, 'cancelled');
        assert.equal(row.attempts, 1);
        assert.equal(row.last_error, null, 'a cancellation is no error of the job');
      });
      assert.equal(await stillQueued(jobId), false, 'not retried');
      // Transaction mode rolls the handler's writes back; lease mode's were committed as made.
      assert.deepEqual(await effects(jobId), mode === 'lease' ? [{ note: 'ran' }] : []);
      assert.ok(log.names().includes('job-cancelled'));
      assert.equal((await db.rows(`SELECT 1 FROM "${db.schema}".job_cancel_requests WHERE job_id = $1`, [jobId])).length, 0);
    });

    it(`${mode} mode: a worker that does not listen learns of the cancellation from the database`, async () => {
      const queue = newQueue();
      const started = deferred();
      const release = deferred();
      const { worker: w } = worker(
        queue,
        mode,
        async () => {
          started.resolve();
          await release.promise;
          throw new Error('fails after the cancellation');
        },
        { listen: false },
      );
      const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      await whileRunning(w, async () => {
        await started.promise;
        assert.equal(await cancelJob(db.pool, jobId, db.tables), 'cancelling');
        const stats = (await queueStats(db.pool, db.tables)).find((s) => s.queue === queue);
        assert.equal(stats?.cancelling, 1);
        release.resolve();
        assert.equal((await untilArchived(jobId)).status, 'cancelled', 'not a retry: the request was found');
      });
    });

    it(`${mode} mode: a DiscardJobError ends the job for good; its writes follow the mode; onFailedJob runs`, async () => {
      const queue = newQueue();
      const hooked: string[] = [];
      const { worker: w, log } = worker(
        queue,
        mode,
        async (_payload, ctx) => {
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'before discard')`, [ctx.jobId]);
          throw new DiscardJobError('the account is gone');
        },
        { onFailedJob: (job, error) => void hooked.push(`${job.jobId}:${error.name}`) },
      );
      const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      const row = await whileRunning(w, () => untilArchived(jobId));
      assert.equal(row.status, 'discarded');
      assert.equal(row.attempts, 1, 'no retry, though three were allowed');
      assert.deepEqual(row.last_error && { name: row.last_error.name, message: row.last_error.message }, {
        name: 'DiscardJobError',
        message: 'the account is gone',
      });
      assert.deepEqual(await effects(jobId), mode === 'lease' ? [{ note: 'before discard' }] : []);
      assert.deepEqual(hooked, [`${jobId}:DiscardJobError`]);
      assert.ok(log.names().includes('job-discarded'));
    });

    it(`${mode} mode: a SnoozeJobError puts the job back for later without counting an attempt`, async () => {
      const queue = newQueue();
      const runs: { attempt: number; at: number }[] = [];
      const { worker: w } = worker(queue, mode, async (_payload, ctx) => {
        runs.push({ attempt: ctx.attempt, at: Date.now() });
        if (runs.length === 1) {
          await ctx.db.query(`INSERT INTO "${db.schema}".effects VALUES ($1, 'snoozed')`, [ctx.jobId]);
          throw new SnoozeJobError(300);
        }
      });
      const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      const row = await whileRunning(w, () => untilArchived(jobId));
      assert.equal(row.status, 'success');
      assert.deepEqual(
        runs.map((run) => run.attempt),
        [1, 1],
        'the snoozed run was no attempt',
      );
      assert.equal(row.attempts, 1);
      assert.ok(runs[1]!.at - runs[0]!.at >= 280, `ran again after ${runs[1]!.at - runs[0]!.at} ms`);
      assert.deepEqual(await effects(jobId), mode === 'lease' ? [{ note: 'snoozed' }] : [], "the snoozed run's writes");
    });

    it(`${mode} mode: a failed job retried from the archive runs again, its attempts counting on`, async () => {
      const queue = newQueue();
      const attempts: number[] = [];
      let fail = true;
      const { worker: w } = worker(
        queue,
        mode,
        (_payload, ctx) => {
          attempts.push(ctx.attempt);
          if (fail) throw new Error('broken until fixed');
        },
        { retryStrategy: { retries: 0 } },
      );
      const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      await whileRunning(w, async () => {
        assert.equal((await untilArchived(jobId)).status, 'failure');
        fail = false;
        assert.equal(await retryJob(db.pool, jobId, db.tables), true);
        await waitFor(async () => (await archived(jobId))?.status === 'success', { what: 'the retried job' });
      });
      assert.deepEqual(attempts, [1, 2]);
      const row = await archived(jobId);
      assert.equal(row?.attempts, 2);
      assert.equal(row?.last_error?.message, 'broken until fixed', 'its history stays readable');
    });
  }

  it('lease mode: without listening, the heartbeat hears of the cancellation and aborts the signal', async () => {
    const queue = newQueue();
    const { handler, started, reason } = waitsForCancel('returns');
    const { worker: w } = worker(queue, 'lease', handler, { listen: false });
    const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
    await whileRunning(w, async () => {
      await started.promise;
      assert.equal(await cancelJob(db.pool, jobId, db.tables), 'cancelling');
      assert.ok((await reason.promise) instanceof JobCancelledError, 'within a third of the lease');
      assert.equal((await untilArchived(jobId)).status, 'cancelled');
    });
  });

  it('transaction mode: a job cancelled while an earlier job of its batch runs never starts', async () => {
    const queue = newQueue();
    const ran: string[] = [];
    const firstStarted = deferred();
    const release = deferred();
    const w = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: recordingLogger(),
      pollInterval: 20,
      handlers: {
        // Quick jobs first, so the claim grows to take the last two together.
        warm: () => {},
        first: async (_payload, ctx) => {
          ran.push(ctx.jobType);
          firstStarted.resolve();
          await release.promise;
        },
        second: (_payload, ctx) => void ran.push(ctx.jobType),
      },
    });
    for (let i = 0; i < 6; i++) await enqueue(db.pool, 'warm', {}, { ...db.tables, queue });
    const first = await enqueue(db.pool, 'first', {}, { ...db.tables, queue });
    const second = await enqueue(db.pool, 'second', {}, { ...db.tables, queue });
    await whileRunning(w, async () => {
      await firstStarted.promise;
      const result = await cancelJob(db.pool, second, db.tables);
      release.resolve();
      await untilArchived(first);
      const row = await untilArchived(second);
      if (result === 'cancelling') {
        assert.deepEqual(ran, ['first'], 'the second job of the batch did not start');
      } else {
        assert.equal(result, 'cancelled', 'claimed by a later batch: still waiting');
      }
      assert.equal(row.status, 'cancelled');
    });
    assert.equal((await archived(first))?.status, 'success');
  });
});
