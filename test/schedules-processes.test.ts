import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useWorkerTestDatabase, waitFor } from './helpers/database.js';
import { startChildWorker } from './helpers/processes.js';

describe('a schedule run by several worker processes', () => {
  const { db, newQueue } = useWorkerTestDatabase();

  it('three processes, an every-second schedule, about ten seconds: exactly one job per slot', async () => {
    const queue = newQueue();
    const children = Array.from({ length: 3 }, () =>
      startChildWorker({ SCHEMA: db.schema, QUEUE: queue, JOB_MS: 0, SCHEDULE: '* * * * * *' }),
    );
    /**
     * Jobs per slot, queued or done. A slot's job is due at the slot, or —
     * when a loaded machine made the round that enqueued it late — a little
     * after it: the slot is its due time's whole second.
     */
    const perSlot = () =>
      db.rows<{ at: number; jobs: number }>(
        `SELECT (floor(extract(epoch FROM process_at)) * 1000)::float8 AS at, count(*)::int AS jobs FROM (
           SELECT process_at FROM "${db.schema}".job WHERE queue = $1
           UNION ALL SELECT process_at FROM "${db.schema}".archived_job WHERE queue = $1
         ) AS jobs GROUP BY 1 ORDER BY 1`,
        [queue],
      );
    try {
      await Promise.all(children.map((child) => child.waitForLine(/^ready$/)));
      await waitFor(async () => (await perSlot()).length >= 10, { what: 'ten slots', timeoutMs: 20_000, intervalMs: 200 });
      // The slots' jobs ran too, each once.
      await waitFor(async () => children.reduce((n, c) => n + c.lines.filter((l) => l.startsWith('finished ')).length, 0) >= 8, {
        what: 'jobs run',
      });
    } finally {
      for (const child of children) child.child.kill('SIGTERM');
      await Promise.all(children.map((child) => child.exited));
    }
    const slots = await perSlot();
    assert.ok(slots.length >= 10, `${slots.length} slots`);
    for (const [i, slot] of slots.entries()) {
      assert.equal(slot.jobs, 1, `one job for the slot ${new Date(slot.at).toISOString()}`);
      if (i > 0) assert.equal(slot.at - slots[i - 1]!.at, 1000, `no slot missing before ${new Date(slot.at).toISOString()}`);
    }
    const ran = children.flatMap((c) => c.lines.filter((l) => l.startsWith('finished ')));
    assert.equal(new Set(ran).size, ran.length, 'no job ran twice');
    const effects = await db.rows<{ n: number }>(`SELECT count(*)::int AS n FROM "${db.schema}".effects`);
    assert.equal(effects[0]!.n, ran.length);
  });
});
