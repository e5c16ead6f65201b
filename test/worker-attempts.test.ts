import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWorker, enqueue, queueStats, silentLogger } from 'proletarian';
import { useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';

// `attempts` means the same in both modes: the runs that ended in a recorded
// failure. A handler's attempt is attempts + 1; the archive counts the last run too.
describe('worker: attempts, in both modes', () => {
  const { db, newQueue } = useWorkerTestDatabase();

  for (const mode of ['transaction', 'lease'] as const) {
    it(`${mode} mode: counts a failed run, not a started one`, async () => {
      const queue = newQueue();
      const jobId = await enqueue(db.pool, 'job', {}, { ...db.tables, queue });
      const seen: { attempt: number; attempts: number | undefined; retrying: number | undefined }[] = [];
      const worker = createWorker(db.pool, {
        ...db.tables,
        queue,
        log: silentLogger,
        pollInterval: 20,
        retryStrategy: { retries: 1, delays: [0] },
        handlers: {
          job: {
            mode,
            leaseDuration: 1_000,
            handler: async (_payload, ctx) => {
              // From the pool: what anyone else sees of the job while it runs.
              const [row] = await db.rows<{ attempts: number }>(
                `SELECT attempts FROM "${db.schema}".job WHERE job_id = $1`,
                [ctx.jobId],
              );
              const stats = (await queueStats(db.pool, db.tables)).find((s) => s.queue === queue);
              seen.push({ attempt: ctx.attempt, attempts: row?.attempts, retrying: stats?.retrying });
              if (ctx.attempt === 1) throw new Error('the first run fails');
            },
          },
        },
      });
      const archived = async () =>
        (
          await db.rows<{ status: string; attempts: number; last_error: { attempt: number; message: string } }>(
            `SELECT status, attempts, last_error FROM "${db.schema}".archived_job WHERE job_id = $1`,
            [jobId],
          )
        )[0];
      await whileRunning(worker, () => waitFor(archived, { what: 'the job to be archived' }));
      assert.deepEqual(seen, [
        { attempt: 1, attempts: 0, retrying: 0 },
        { attempt: 2, attempts: 1, retrying: 1 },
      ]);
      const row = await archived();
      assert.deepEqual(
        { status: row?.status, attempts: row?.attempts, lastError: row?.last_error.message, ofAttempt: row?.last_error.attempt },
        { status: 'success', attempts: 2, lastError: 'the first run fails', ofAttempt: 1 },
        'the archive counts both runs',
      );
    });
  }
});
