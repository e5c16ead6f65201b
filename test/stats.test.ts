import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createWorker, enqueueMany, queueStats, silentLogger } from 'proletarian';
import { createTestDatabase, waitFor, type TestDatabase } from './helpers/database.js';

describe('queueStats', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.close());

  it('counts due, scheduled and retrying jobs per queue and job type', async () => {
    assert.deepEqual(await queueStats(db.pool, db.tables), []);
    const before = Date.now();
    await enqueueMany(
      db.pool,
      [
        { jobType: 'email', payload: 1 },
        { jobType: 'email', payload: 2 },
        { jobType: 'email', payload: 3, processIn: 60_000 },
        { jobType: 'export', payload: 4, queue: 'slow' },
        { jobType: 'flaky', payload: 5, queue: 'slow' },
      ],
      db.tables,
    );
    // Fail the flaky job once so it waits for a retry.
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue: 'slow',
      log: silentLogger,
      pollInterval: 10,
      retryStrategy: { retries: 1, delays: [60_000] },
      handlers: {
        flaky: () => {
          throw new Error('not yet');
        },
      },
    });
    await worker.start();
    try {
      await waitFor(async () => (await queueStats(db.pool, db.tables)).some((s) => s.retrying === 1), {
        what: 'the failed attempt',
      });
    } finally {
      await worker.stop();
    }

    const stats = await queueStats(db.pool, db.tables);
    assert.deepEqual(
      stats.map(({ oldestDueAt, ...counts }) => counts),
      [
        { queue: 'default', jobType: 'email', due: 2, scheduled: 1, leased: 0, retrying: 0, cancelling: 0, paused: false },
        { queue: 'slow', jobType: 'export', due: 1, scheduled: 0, leased: 0, retrying: 0, cancelling: 0, paused: false },
        { queue: 'slow', jobType: 'flaky', due: 0, scheduled: 1, leased: 0, retrying: 1, cancelling: 0, paused: false },
      ],
    );
    const oldest = stats[0]!.oldestDueAt!;
    assert.ok(oldest.getTime() >= before - 1_000 && oldest.getTime() <= Date.now() + 1_000);
    assert.equal(stats[2]!.oldestDueAt, null);
  });
});
