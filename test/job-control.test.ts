import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  cancelJob,
  cancelJobs,
  deleteJob,
  deleteJobs,
  enqueue,
  InvalidNameError,
  InvalidOptionError,
  notifyChannel,
  retryJob,
  retryJobs,
  runJobNow,
  SchemaNotReadyError,
  type ArchiveStatus,
} from 'proletarian';
import { createTestDatabase, databaseUrl, type TestDatabase } from './helpers/database.js';

// cancelJob(s), deleteJob(s), retryJob, retryJobs and runJobNow on their
// own, against the tables; how workers answer a cancel request is in
// worker-cancel.test.ts.

interface ArchivedRow {
  status: ArchiveStatus;
  attempts: number;
  last_error: { message: string } | null;
  queue: string;
}

describe('cancelJob(s), deleteJob(s), retryJob(s) and runJobNow', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.close());

  const newQueue = () => `q-${Math.random().toString(36).slice(2)}`;
  const archived = async (jobId: string) =>
    (
      await db.rows<ArchivedRow>(
        `SELECT status, attempts, last_error, queue FROM "${db.schema}".archived_job WHERE job_id = $1`,
        [jobId],
      )
    )[0];
  const queued = async (jobId: string) =>
    (
      await db.rows<{ attempts: number; last_error: { message: string } | null; process_at: Date }>(
        `SELECT attempts, last_error, process_at FROM "${db.schema}".job WHERE job_id = $1`,
        [jobId],
      )
    )[0];
  const requests = async (jobId: string) =>
    (await db.rows<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".job_cancel_requests WHERE job_id = $1`, [jobId]))[0]!.n;

  /** Puts a job straight into the archive, as a worker would have left it. */
  async function archivedJob(status: ArchiveStatus, options: { queue?: string; jobType?: string; finishedAgo?: string } = {}) {
    const jobId = await enqueue(db.pool, options.jobType ?? 'archived', { n: 1 }, { ...db.tables, queue: options.queue ?? newQueue() });
    await db.pool.query(
      `WITH moved AS (DELETE FROM "${db.schema}".job WHERE job_id = $1 RETURNING *)
       INSERT INTO "${db.schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at, last_error)
       SELECT job_id, queue, job_type, payload, 3, enqueued_at, process_at, $2, now() - $3::interval, '{"message":"it broke","attempt":3}'
       FROM moved`,
      [jobId, status, options.finishedAgo ?? '0 s'],
    );
    return jobId;
  }

  /** Runs `body` while `jobId`'s row is locked by another transaction, as a running batch holds it. */
  async function whileLocked<T>(jobId: string, body: () => Promise<T>): Promise<T> {
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT 1 FROM "${db.schema}".job WHERE job_id = $1 FOR UPDATE`, [jobId]);
      return await body();
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  }

  it('cancels a waiting job: archived as cancelled, its history kept', async () => {
    const jobId = await enqueue(db.pool, 'later', {}, { ...db.tables, queue: newQueue(), processIn: 60_000 });
    await db.pool.query(
      `UPDATE "${db.schema}".job SET attempts = 2, last_error = '{"message":"earlier failure"}' WHERE job_id = $1`,
      [jobId],
    );
    assert.equal(await cancelJob(db.pool, jobId, db.tables), 'cancelled');
    assert.equal(await queued(jobId), undefined);
    const row = await archived(jobId);
    assert.equal(row?.status, 'cancelled');
    assert.equal(row?.attempts, 2, 'no run ended it: its attempts are as they were');
    assert.equal(row?.last_error?.message, 'earlier failure');
    assert.equal(await cancelJob(db.pool, jobId, db.tables), 'finished', 'a second call finds it archived');
  });

  it('says finished for an archived job, not-found for an unknown id, and refuses what is not a job id', async () => {
    const done = await archivedJob('success');
    assert.equal(await cancelJob(db.pool, done, db.tables), 'finished');
    assert.equal((await archived(done))?.status, 'success', 'left as it was');
    assert.equal(await cancelJob(db.pool, '01890000-0000-7000-8000-000000000000', db.tables), 'not-found');
    for (const bad of ['', 'job-1', '01890000-0000-7000-8000-00000000000', 42, null, undefined]) {
      await assert.rejects(cancelJob(db.pool, bad as string, db.tables), {
        name: 'InvalidOptionError',
        message: /cancelJob: jobId must be a job id as enqueue returned it \(a UUID\); got /,
      });
      await assert.rejects(retryJob(db.pool, bad as string, db.tables), /retryJob: jobId must be a job id/);
    }
    await assert.rejects(cancelJob(db.pool, done, { ...db.tables, jobTabel: 'x' } as never), /unknown cancelJob option "jobTabel"/);
  });

  it('returns at once while the job is locked by a running batch, and records a request announced at commit', async () => {
    const queue = newQueue();
    const jobId = await enqueue(db.pool, 'running', {}, { ...db.tables, queue });
    const listener = new pg.Client({ connectionString: databaseUrl() });
    await listener.connect();
    const heard: { channel: string; payload: string | undefined }[] = [];
    listener.on('notification', (message) => heard.push({ channel: message.channel, payload: message.payload }));
    const cancelChannel = `${notifyChannel(db.tables)}_cancel`;
    await listener.query(`LISTEN ${cancelChannel}`);
    try {
      const { result, ms } = await whileLocked(jobId, async () => {
        const started = performance.now();
        const result = await cancelJob(db.pool, jobId, db.tables);
        return { result, ms: performance.now() - started };
      });
      assert.equal(result, 'cancelling');
      assert.ok(ms < 1_000, `returned after ${Math.round(ms)} ms`);
      assert.ok(await queued(jobId), 'the job is left to its worker');
      assert.equal(await requests(jobId), 1);
      // Heard once the cancelling statement committed (it was autocommitted).
      await listener.query('SELECT 1');
      assert.deepEqual(heard, [{ channel: cancelChannel, payload: jobId }]);
    } finally {
      await listener.end();
    }
    // No longer locked: a second call cancels it outright.
    assert.equal(await cancelJob(db.pool, jobId, db.tables), 'cancelled');
    assert.equal(await requests(jobId), 0, 'the request is answered with it');
  });

  it('does nothing inside a caller transaction that rolls back, and commits with one that commits', async () => {
    const waiting = await enqueue(db.pool, 'waiting', {}, { ...db.tables, queue: newQueue() });
    const running = await enqueue(db.pool, 'running', {}, { ...db.tables, queue: newQueue() });
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      assert.equal(await cancelJob(client, waiting, db.tables), 'cancelled');
      assert.equal(await whileLocked(running, () => cancelJob(client, running, db.tables)), 'cancelling');
      assert.ok(await queued(waiting), 'others still see it waiting');
      await client.query('ROLLBACK');
      assert.ok(await queued(waiting));
      assert.equal(await archived(waiting), undefined);
      assert.equal(await requests(running), 0);

      await client.query('BEGIN');
      assert.equal(await cancelJob(client, waiting, db.tables), 'cancelled');
      await client.query('COMMIT');
      assert.equal((await archived(waiting))?.status, 'cancelled');
    } finally {
      client.release();
    }
  });

  it('asks the holder of a live lease, and cancels a job whose lease ran out', async () => {
    const live = await enqueue(db.pool, 'leased', {}, { ...db.tables, queue: newQueue() });
    const expired = await enqueue(db.pool, 'leased', {}, { ...db.tables, queue: newQueue() });
    await db.pool.query(
      `UPDATE "${db.schema}".job SET locked_by = 'w:1',
         process_at = CASE WHEN job_id = $1 THEN now() + interval '1 minute' ELSE now() - interval '1 second' END
       WHERE job_id IN ($1, $2)`,
      [live, expired],
    );
    assert.equal(await cancelJob(db.pool, live, db.tables), 'cancelling');
    assert.equal(await requests(live), 1);
    assert.equal(await cancelJob(db.pool, expired, db.tables), 'cancelled', 'its holder is gone');
    assert.equal((await archived(expired))?.status, 'cancelled');
  });

  it('cancelJobs answers for each id in the order given, in one statement', async () => {
    const queue = newQueue();
    const waiting = await enqueue(db.pool, 'waiting', {}, { ...db.tables, queue });
    const scheduled = await enqueue(db.pool, 'later', {}, { ...db.tables, queue, processIn: 60_000 });
    const running = await enqueue(db.pool, 'running', {}, { ...db.tables, queue });
    const done = await archivedJob('success');
    const unknown = '01890000-0000-7000-8000-000000000001';
    const ids = [running, waiting, done, unknown, scheduled, waiting];
    const results = await whileLocked(running, () => cancelJobs(db.pool, ids, db.tables));
    assert.deepEqual(results, ['cancelling', 'cancelled', 'finished', 'not-found', 'cancelled', 'cancelled']);
    assert.equal((await archived(waiting))?.status, 'cancelled');
    assert.equal((await archived(scheduled))?.status, 'cancelled');
    assert.equal(await requests(running), 1, 'the running job got one request');
    assert.deepEqual(await cancelJobs(db.pool, [], db.tables), []);
    await assert.rejects(cancelJobs(db.pool, [waiting, 'job-2'], db.tables), {
      name: 'InvalidOptionError',
      message: /cancelJobs: jobIds\[1\] must be a job id as enqueue returned it \(a UUID\); got "job-2"/,
    });
    await assert.rejects(cancelJobs(db.pool, waiting as never, db.tables), /cancelJobs: jobIds must be an array of job ids/);
  });

  it('deleteJob deletes waiting and archived jobs, leaves running ones, and tells a missing id', async () => {
    const waiting = await enqueue(db.pool, 'x', {}, { ...db.tables, queue: newQueue() });
    assert.equal(await deleteJob(db.pool, waiting, db.tables), 'deleted');
    assert.equal(await deleteJob(db.pool, waiting, db.tables), 'not-found');
    const done = await archivedJob('failure');
    assert.equal(await deleteJob(db.pool, done, db.tables), 'deleted');
    assert.equal(await archived(done), undefined);

    const held = await enqueue(db.pool, 'hold', {}, { ...db.tables, queue: newQueue() });
    assert.equal(await whileLocked(held, () => deleteJob(db.pool, held, db.tables)), 'running');
    assert.ok(await queued(held), 'a job its batch holds is left alone');
    const leased = await enqueue(db.pool, 'leased', {}, { ...db.tables, queue: newQueue() });
    await db.pool.query(
      `UPDATE "${db.schema}".job SET locked_by = 'w:1', process_at = now() + interval '1 minute' WHERE job_id = $1`,
      [leased],
    );
    assert.equal(await deleteJob(db.pool, leased, db.tables), 'running', 'so is one under a live lease');
    assert.equal(await deleteJob(db.pool, held, db.tables), 'deleted');
    await assert.rejects(deleteJob(db.pool, 'nope', db.tables), /deleteJob: jobId must be a job id/);
  });

  it('deleteJobs answers for each id in the order given, and commits or rolls back with the caller', async () => {
    const queue = newQueue();
    const waiting = await enqueue(db.pool, 'w', {}, { ...db.tables, queue });
    const held = await enqueue(db.pool, 'h', {}, { ...db.tables, queue });
    const done = await archivedJob('cancelled');
    const unknown = '01890000-0000-7000-8000-000000000002';
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      assert.deepEqual(await deleteJobs(client, [done, waiting], db.tables), ['deleted', 'deleted']);
      await client.query('ROLLBACK');
      assert.ok(await queued(waiting), 'rolled back with the caller');
      assert.ok(await archived(done));
    } finally {
      client.release();
    }
    const results = await whileLocked(held, () => deleteJobs(db.pool, [unknown, held, done, waiting], db.tables));
    assert.deepEqual(results, ['not-found', 'running', 'deleted', 'deleted']);
    assert.equal(await queued(waiting), undefined);
    assert.equal(await archived(done), undefined);
    assert.ok(await queued(held));
    await assert.rejects(deleteJobs(db.pool, [42] as never, db.tables), /deleteJobs: jobIds\[0\] must be a job id/);
  });

  it('retryJob puts a failed, cancelled or discarded job back, due now, its history kept', async () => {
    for (const status of ['failure', 'cancelled', 'discarded'] as const) {
      const jobId = await archivedJob(status);
      const before = Date.now();
      assert.equal(await retryJob(db.pool, jobId, db.tables), true, status);
      assert.equal(await archived(jobId), undefined);
      const row = await queued(jobId);
      assert.equal(row?.attempts, 3, `${status}: attempts kept`);
      assert.equal(row?.last_error?.message, 'it broke');
      assert.ok(Math.abs(row!.process_at.getTime() - before) < 5_000, 'due now');
      assert.equal(await retryJob(db.pool, jobId, db.tables), false, 'already back');
    }
    const succeeded = await archivedJob('success');
    assert.equal(await retryJob(db.pool, succeeded, db.tables), false, 'a success is not retried');
    assert.equal((await archived(succeeded))?.status, 'success');
    assert.equal(await retryJob(db.pool, '01890000-0000-7000-8000-000000000000', db.tables), false);
  });

  it('retryJob forgets a cancel request left over from the run it cancelled', async () => {
    const jobId = await enqueue(db.pool, 'running', {}, { ...db.tables, queue: newQueue() });
    assert.equal(await whileLocked(jobId, () => cancelJob(db.pool, jobId, db.tables)), 'cancelling');
    await db.pool.query(`UPDATE "${db.schema}".job SET attempts = 1 WHERE job_id = $1`, [jobId]);
    // The worker completed it as it ended (too late to be cancelled); the request stayed.
    await db.pool.query(
      `WITH moved AS (DELETE FROM "${db.schema}".job WHERE job_id = $1 RETURNING *)
       INSERT INTO "${db.schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status)
       SELECT job_id, queue, job_type, payload, attempts, enqueued_at, process_at, 'failure' FROM moved`,
      [jobId],
    );
    assert.equal(await retryJob(db.pool, jobId, db.tables), true);
    assert.equal(await requests(jobId), 0);
  });

  it('retryJobs puts back the jobs that match, failures only unless told otherwise', async () => {
    const queue = newQueue();
    const other = newQueue();
    const failedA = await archivedJob('failure', { queue, jobType: 'a' });
    const failedB = await archivedJob('failure', { queue, jobType: 'b' });
    const failedOld = await archivedJob('failure', { queue, jobType: 'a', finishedAgo: '3 days' });
    const cancelled = await archivedJob('cancelled', { queue, jobType: 'a' });
    const discarded = await archivedJob('discarded', { queue, jobType: 'a' });
    const succeeded = await archivedJob('success', { queue, jobType: 'a' });
    const elsewhere = await archivedJob('failure', { queue: other, jobType: 'a' });
    const back = async (...ids: string[]) => {
      const rows = await db.rows<{ job_id: string }>(`SELECT job_id FROM "${db.schema}".job WHERE job_id = ANY($1)`, [ids]);
      return rows.map((r) => r.job_id).sort();
    };

    const dayAgo = new Date(Date.now() - 24 * 3600_000);
    assert.equal(await retryJobs(db.pool, { queue, jobType: 'a', finishedAfter: dayAgo }, db.tables), 1);
    assert.deepEqual(await back(failedA, failedOld), [failedA]);
    assert.equal(await retryJobs(db.pool, { queue, finishedBefore: dayAgo }, db.tables), 1);
    assert.deepEqual(await back(failedOld), [failedOld]);
    assert.equal(await retryJobs(db.pool, { queue, status: ['cancelled', 'discarded'] }, db.tables), 2);
    assert.deepEqual(await back(cancelled, discarded), [cancelled, discarded].sort());
    assert.equal(await retryJobs(db.pool, { queue }, db.tables), 1, 'failedB, of type b');
    assert.deepEqual(await back(failedB), [failedB]);
    assert.equal(await retryJobs(db.pool, { queue }, db.tables), 0, 'nothing left to retry');
    assert.equal((await archived(succeeded))?.status, 'success');
    assert.equal((await archived(elsewhere))?.status, 'failure', 'another queue');
  });

  it('retryJobs with jobIds puts back only those jobs, as the rest of the filter allows', async () => {
    const queue = newQueue();
    const failedA = await archivedJob('failure', { queue, jobType: 'a' });
    const failedB = await archivedJob('failure', { queue, jobType: 'b' });
    const failedC = await archivedJob('failure', { queue, jobType: 'a' });
    const cancelled = await archivedJob('cancelled', { queue, jobType: 'a' });
    const waiting = await enqueue(db.pool, 'a', {}, { ...db.tables, queue });
    assert.equal(await retryJobs(db.pool, { jobIds: [failedA, failedB, cancelled, waiting], jobType: 'a' }, db.tables), 1);
    assert.equal((await archived(failedA))?.status, undefined, 'back on its queue');
    assert.equal((await archived(failedB))?.status, 'failure', 'another type');
    assert.equal((await archived(failedC))?.status, 'failure', 'not among the ids');
    assert.equal((await archived(cancelled))?.status, 'cancelled', 'another status');
    assert.equal(await retryJobs(db.pool, { jobIds: [] }, db.tables), 0);
  });

  it('retryJobs refuses a bad filter by name', async () => {
    const cases: [unknown, RegExp | (new (...args: never[]) => Error)][] = [
      [null, /retryJobs needs a filter/],
      [{ queu: 'x' }, /unknown retryJobs filter "queu"; known options: queue, jobType, status, finishedAfter, finishedBefore, jobIds/],
      [{ jobIds: 'x' }, /retryJobs: jobIds must be an array of job ids/],
      [{ jobIds: ['not-an-id'] }, /retryJobs: jobIds\[0\] must be a job id/],
      [{ status: 'success' }, /status must be 'failure', 'cancelled' or 'discarded'; got success/],
      [{ status: [] }, /status must be a status or a non-empty list of them/],
      [{ status: ['failure', 'nope'] }, /status must be .*; got nope/],
      [{ queue: '' }, InvalidNameError],
      [{ jobType: 7 }, InvalidNameError],
      [{ finishedAfter: 'yesterday' }, /finishedAfter must be a valid Date; got yesterday/],
      [{ finishedAfter: new Date(2_000), finishedBefore: new Date(1_000) }, /finishedAfter must be earlier than finishedBefore/],
    ];
    for (const [filter, expected] of cases) {
      await assert.rejects(retryJobs(db.pool, filter as never, db.tables), expected as RegExp, JSON.stringify(filter));
    }
    await assert.rejects(retryJobs(db.pool, { status: 'nope' as never }, db.tables), InvalidOptionError);
  });

  it('rejects with SchemaNotReadyError before migrate', async () => {
    const tables = { schema: 'test_nowhere_to_be_found' };
    const id = '01890000-0000-7000-8000-000000000000';
    await assert.rejects(cancelJob(db.pool, id, tables), SchemaNotReadyError);
    await assert.rejects(retryJob(db.pool, id, tables), SchemaNotReadyError);
    await assert.rejects(retryJobs(db.pool, {}, tables), SchemaNotReadyError);
    await assert.rejects(runJobNow(db.pool, id, tables), SchemaNotReadyError);
  });

  it('runJobNow makes a scheduled job due at once, announced at commit, and leaves the others alone', async () => {
    const queue = newQueue();
    const later = await enqueue(db.pool, 'later', {}, { ...db.tables, queue, processIn: 3_600_000, priority: 4 });
    const listener = new pg.Client({ connectionString: databaseUrl() });
    await listener.connect();
    const heard: (string | undefined)[] = [];
    listener.on('notification', (message) => heard.push(message.payload));
    await listener.query(`LISTEN ${notifyChannel(db.tables)}`);
    try {
      assert.equal(await runJobNow(db.pool, later, db.tables), 'due-now');
      const row = await queued(later);
      assert.ok(row && row.process_at.getTime() <= Date.now() + 1_000, 'due now');
      await listener.query('SELECT 1');
      assert.ok(heard.includes(queue), 'workers of its queue are woken');
    } finally {
      await listener.end();
    }
    assert.equal(await runJobNow(db.pool, later, db.tables), 'already-due');
    assert.equal((await db.rows<{ priority: number }>(`SELECT priority FROM "${db.schema}".job WHERE job_id = $1`, [later]))[0]?.priority, 4);

    const held = await enqueue(db.pool, 'held', {}, { ...db.tables, queue, processIn: 3_600_000 });
    const whileHeld = await whileLocked(held, () => runJobNow(db.pool, held, db.tables));
    assert.equal(whileHeld, 'running');
    assert.ok((await queued(held))!.process_at.getTime() > Date.now() + 3_000_000, 'a running job keeps its time');

    assert.equal(await cancelJob(db.pool, held, db.tables), 'cancelled');
    assert.equal(await runJobNow(db.pool, held, db.tables), 'finished');
    assert.equal(await runJobNow(db.pool, '01890000-0000-7000-8000-000000000000', db.tables), 'not-found');
    await assert.rejects(runJobNow(db.pool, 'nope', db.tables), /runJobNow: jobId must be a job id/);
  });
});
