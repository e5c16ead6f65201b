import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createWorker, enqueue, enqueueMany, InvalidPayloadError, silentLogger } from 'proletarian';
import { createTestDatabase, tablesIn, type TestDatabase, waitFor, whileRunning } from './helpers/database.js';

describe('security', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.close());

  const jobCount = async () =>
    Number((await db.rows<{ n: string }>(`SELECT count(*) AS n FROM "${db.schema}".job`))[0]!.n);

  /** Runs one job through a worker and returns the payload its handler saw. */
  async function payloadSeenByHandler(insertJob: (queue: string) => Promise<void>): Promise<unknown> {
    const queue = `q-${Math.random().toString(36).slice(2)}`;
    await insertJob(queue);
    let seen: unknown;
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      handlers: { job: (payload) => void (seen = payload) },
    });
    await whileRunning(worker, () => waitFor(() => seen !== undefined, { what: 'the handler' }));
    return seen;
  }

  it('stores hostile job types, queue names and payload keys as plain data', async () => {
    const hostile = `'); DROP TABLE "${db.schema}".job; --`;
    const payload = { [hostile]: hostile, "'; DELETE FROM x; --": ['$1', '$$', '\\', '"'] };
    const seen = await payloadSeenByHandler(async (queue) => {
      const jobId = await enqueue(db.pool, 'job', payload, { ...db.tables, queue });
      await enqueue(db.pool, hostile, payload, { ...db.tables, queue: hostile });
      const rows = await db.rows(`SELECT job_type, queue FROM "${db.schema}".job WHERE job_type = $1`, [hostile]);
      assert.deepEqual(rows, [{ job_type: hostile, queue: hostile }]);
      assert.ok(jobId);
    });
    assert.deepEqual(seen, payload);
    assert.deepEqual(await tablesIn(db.pool, db.schema), ['archived_job', 'job', 'job_cancel_requests', 'job_lost_transactions', 'job_migrations', 'job_queue_states', 'job_schedules', 'job_workers']);
  });

  it('refuses payloads with prototype-polluting keys at enqueue', async () => {
    const before = await jobCount();
    for (const payload of [
      JSON.parse('{"__proto__": {"polluted": true}}'),
      { nested: JSON.parse('{"__proto__": {"polluted": true}}') },
      { constructor: { prototype: { polluted: true } } },
    ]) {
      await assert.rejects(enqueue(db.pool, 'job', payload, db.tables), (error: Error) => {
        assert.ok(error instanceof InvalidPayloadError);
        assert.match(error.message, /__proto__/);
        return true;
      });
    }
    // An ordinary key named "constructor" is fine.
    await enqueue(db.pool, 'job', { constructor: 'Bob' }, { ...db.tables, queue: 'ordinary' });
    assert.equal(await jobCount(), before + 1);
  });

  it('drops polluting keys from payloads written by other means, before a handler sees them', async () => {
    const seen = await payloadSeenByHandler(async (queue) => {
      await db.pool.query(
        `INSERT INTO "${db.schema}".job (job_id, queue, job_type, payload)
         VALUES (gen_random_uuid(), $1, 'job', $2::jsonb)`,
        [queue, '{"ok": 1, "__proto__": {"polluted": true}, "deep": {"constructor": {"prototype": {"polluted": true}}}}'],
      );
    });
    assert.deepEqual(seen, { ok: 1, deep: {} });
    const merged = Object.assign({}, seen, (seen as { deep: object }).deep);
    assert.equal((merged as { polluted?: boolean }).polluted, undefined);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined, 'Object.prototype is untouched');
  });

  it('refuses a payload over maxPayloadBytes with a clear error, writing nothing', async () => {
    const before = await jobCount();
    const big = { text: 'é'.repeat(600) }; // 1,200 bytes of UTF-8 in 600 characters
    await assert.rejects(enqueue(db.pool, 'job', big, { ...db.tables, maxPayloadBytes: 1_000 }), {
      name: 'InvalidPayloadError',
      message: /more than maxPayloadBytes \(1000\)/,
    });
    await assert.rejects(
      enqueueMany(db.pool, [{ jobType: 'job', payload: 1 }, { jobType: 'job', payload: big }], {
        ...db.tables,
        maxPayloadBytes: 1_000,
      }),
      { name: 'InvalidPayloadError', message: /jobs\[1\]/ },
    );
    await assert.rejects(enqueue(db.pool, 'job', 1, { ...db.tables, maxPayloadBytes: 0 }), {
      name: 'InvalidOptionError',
      message: /maxPayloadBytes/,
    });
    assert.equal(await jobCount(), before);
    await enqueue(db.pool, 'job', { text: 'small' }, { ...db.tables, queue: 'small', maxPayloadBytes: 1_000 });
    assert.equal(await jobCount(), before + 1);
  });
});
