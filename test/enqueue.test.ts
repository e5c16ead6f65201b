import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { enqueue, enqueueMany, InvalidNameError, type Queryable } from 'proletarian';
import { createTestDatabase, databaseUrl, type TestDatabase } from './helpers/database.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface JobRowTimes {
  job_id: string;
  queue: string;
  job_type: string;
  payload: unknown;
  attempts: number;
  enqueued_at: Date;
  process_at: Date;
  /** clock_timestamp() - enqueued_at, in ms, measured by the database. */
  age_ms: number;
  /** process_at - enqueued_at, in ms (microsecond precision). */
  delay_ms: number;
}

describe('enqueue', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db.close());

  const jobTable = () => `"${db.schema}".job`;
  const job = async (jobId: string): Promise<JobRowTimes | undefined> =>
    (
      await db.rows<JobRowTimes>(
        `SELECT *,
           extract(epoch FROM clock_timestamp() - enqueued_at)::float8 * 1000 AS age_ms,
           extract(epoch FROM process_at - enqueued_at)::float8 * 1000 AS delay_ms
         FROM ${jobTable()} WHERE job_id = $1`,
        [jobId],
      )
    )[0];
  const count = async (where = 'true', values: unknown[] = []) =>
    Number((await db.rows<{ n: string }>(`SELECT count(*) AS n FROM ${jobTable()} WHERE ${where}`, values))[0]!.n);

  it('returns a UUID and inserts exactly one row with the defaults', async () => {
    const before = await count();
    const jobId = await enqueue(db.pool, 'send-email', { email: 'ada@example.com', n: 1 }, db.tables);

    assert.match(jobId, UUID_V7);
    assert.equal(await count(), before + 1);
    const row = await job(jobId);
    assert.ok(row, 'the row exists');
    assert.equal(row.job_id, jobId);
    assert.equal(row.queue, 'default');
    assert.equal(row.job_type, 'send-email');
    assert.deepEqual(row.payload, { email: 'ada@example.com', n: 1 });
    assert.equal(row.attempts, 0);
    assert.ok(row.age_ms >= 0 && row.age_ms < 2_000, `enqueued_at is about now (age ${row.age_ms} ms)`);
    assert.equal(row.delay_ms, 0, 'process_at = enqueued_at: due at once');
  });

  it('stores the payload as jsonb that SQL can query', async () => {
    const queue = 'jsonb-query';
    const jobId = await enqueue(db.pool, 'send-email', { email: 'grace@example.com', tags: ['a', 'b'] }, {
      ...db.tables,
      queue,
    });
    await enqueue(db.pool, 'send-email', { email: 'someone-else@example.com' }, { ...db.tables, queue });

    const rows = await db.rows<{ job_id: string; tag: string; type: string }>(
      `SELECT job_id, payload->'tags'->>1 AS tag, pg_typeof(payload)::text AS type
       FROM ${jobTable()} WHERE queue = $1 AND payload->>'email' = $2`,
      [queue, 'grace@example.com'],
    );
    assert.deepEqual(rows, [{ job_id: jobId, tag: 'b', type: 'jsonb' }]);
    assert.equal(await count(`queue = $1 AND payload @> '{"tags":["a"]}'`, [queue]), 1);
  });

  it('puts the job on the named queue', async () => {
    const jobId = await enqueue(db.pool, 'report', null, { ...db.tables, queue: 'reports' });
    const row = await job(jobId);
    assert.equal(row?.queue, 'reports');
    assert.equal(row?.payload, null);
  });

  describe('scheduling', () => {
    it('processIn delays the job by that many milliseconds', async () => {
      const jobId = await enqueue(db.pool, 'later', {}, { ...db.tables, processIn: 90_000 });
      const row = await job(jobId);
      assert.ok(row);
      assert.ok(Math.abs(row.delay_ms - 90_000) < 1, `process_at = enqueued_at + 90 s (got ${row.delay_ms} ms)`);
      assert.ok(row.age_ms >= 0 && row.age_ms < 2_000);
    });

    it('processIn accepts fractions of a millisecond and large delays', async () => {
      const day = 24 * 3600_000;
      const a = await job(await enqueue(db.pool, 'later', {}, { ...db.tables, processIn: 1.5 }));
      const b = await job(await enqueue(db.pool, 'later', {}, { ...db.tables, processIn: 365 * day }));
      assert.ok(a && Math.abs(a.delay_ms - 1.5) < 0.01, `got ${a?.delay_ms}`);
      assert.ok(b && Math.abs(b.delay_ms - 365 * day) < 1, `got ${b?.delay_ms}`);
    });

    it('processAt in the future is stored exactly', async () => {
      const at = new Date(Date.now() + 3_600_000);
      const jobId = await enqueue(db.pool, 'later', {}, { ...db.tables, processAt: at });
      const row = await job(jobId);
      assert.equal(row?.process_at.getTime(), at.getTime());
    });

    it('processAt in the past means now, never a time in the past', async () => {
      const jobId = await enqueue(db.pool, 'late', {}, { ...db.tables, processAt: new Date('2001-01-01T00:00:00Z') });
      const row = await job(jobId);
      assert.equal(row?.delay_ms, 0, `process_at = enqueued_at (got delay ${row?.delay_ms} ms)`);
    });

    it('a negative processIn means now', async () => {
      const jobId = await enqueue(db.pool, 'late', {}, { ...db.tables, processIn: -60_000 });
      const row = await job(jobId);
      assert.equal(row?.delay_ms, 0);
    });

    it('processIn 0 means now', async () => {
      const row = await job(await enqueue(db.pool, 'now', {}, { ...db.tables, processIn: 0 }));
      assert.equal(row?.delay_ms, 0);
    });

    it('processAt wins over processIn', async () => {
      const at = new Date(Date.now() + 7_200_000);
      const row = await job(await enqueue(db.pool, 'later', {}, { ...db.tables, processAt: at, processIn: 10_000 }));
      assert.equal(row?.process_at.getTime(), at.getTime());

      // even when processAt is in the past: it still wins, and the past means now
      const past = await job(
        await enqueue(db.pool, 'later', {}, { ...db.tables, processAt: new Date(Date.now() - 60_000), processIn: 10_000 }),
      );
      assert.equal(past?.delay_ms, 0);
    });
  });

  describe('connections', () => {
    it('works with a pg.Client', async () => {
      const client = new pg.Client({ connectionString: databaseUrl() });
      await client.connect();
      try {
        const jobId = await enqueue(client, 'via-client', { ok: true }, db.tables);
        assert.deepEqual((await job(jobId))?.payload, { ok: true });
      } finally {
        await client.end();
      }
    });

    it('works with a pg.PoolClient, outside any transaction (autocommit)', async () => {
      const client = await db.pool.connect();
      try {
        const jobId = await enqueue(client, 'via-pool-client', { ok: 1 }, db.tables);
        assert.deepEqual((await job(jobId))?.payload, { ok: 1 }, 'visible to another connection at once');
      } finally {
        client.release();
      }
    });

    it('works with a pg.Pool', async () => {
      const jobId = await enqueue(db.pool, 'via-pool', [1, 2], db.tables);
      assert.deepEqual((await job(jobId))?.payload, [1, 2]);
    });
  });

  describe('the outbox promise: enqueue runs inside the caller\'s transaction', () => {
    it('BEGIN … enqueue … ROLLBACK leaves no job behind', async () => {
      const client = await db.pool.connect();
      let jobId: string;
      try {
        await client.query('BEGIN');
        jobId = await enqueue(client, 'outbox', { n: 1 }, db.tables);
        const inside = await client.query(`SELECT 1 FROM ${jobTable()} WHERE job_id = $1`, [jobId]);
        assert.equal(inside.rowCount, 1, 'the transaction itself sees the job');
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
      assert.equal(await job(jobId), undefined);
    });

    it('BEGIN … enqueue … COMMIT: invisible to others until COMMIT, then there', async () => {
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        const jobId = await enqueue(client, 'outbox', { n: 2 }, db.tables);
        assert.equal(await job(jobId), undefined, 'another connection does not see the job before COMMIT');
        await client.query('COMMIT');
        assert.equal((await job(jobId))?.job_type, 'outbox');
      } finally {
        client.release();
      }
    });

    it('enqueue never commits: after it, the caller\'s transaction is still open and ROLLBACK removes everything', async () => {
      const client = await db.pool.connect();
      const queue = 'never-commits';
      try {
        await client.query('BEGIN');
        const txBefore = (await client.query<{ tx: string }>('SELECT txid_current()::text AS tx')).rows[0]!.tx;
        const one = await enqueue(client, 'outbox', {}, { ...db.tables, queue });
        const [two, three] = await enqueueMany(
          client,
          [
            { jobType: 'outbox', payload: {}, queue },
            { jobType: 'outbox', payload: {}, queue },
          ],
          db.tables,
        );
        const txAfter = (await client.query<{ tx: string }>('SELECT txid_current()::text AS tx')).rows[0]!.tx;
        assert.equal(txAfter, txBefore, 'still the same transaction');
        await client.query('ROLLBACK');
        for (const id of [one, two, three]) assert.equal(await job(id!), undefined);
        assert.equal(await count('queue = $1', [queue]), 0);
      } finally {
        client.release();
      }
    });

    it('a job enqueued in a transaction that fails later is rolled back with it', async () => {
      const client = await db.pool.connect();
      const queue = 'failed-tx';
      try {
        await client.query('BEGIN');
        await enqueue(client, 'outbox', {}, { ...db.tables, queue });
        await assert.rejects(client.query('SELECT 1/0'), { code: '22012' });
        await client.query('ROLLBACK');
      } finally {
        client.release();
      }
      assert.equal(await count('queue = $1', [queue]), 0);
    });
  });

  describe('enqueueMany', () => {
    it('returns the ids in the order given and inserts every job with its own options', async () => {
      const queue = 'many';
      const at = new Date(Date.now() + 3_600_000);
      const ids = await enqueueMany(
        db.pool,
        [
          { jobType: 'a', payload: { i: 0 }, queue },
          { jobType: 'b', payload: { i: 1 }, queue: 'many-other' },
          { jobType: 'c', payload: { i: 2 }, queue, processIn: 30_000 },
          { jobType: 'd', payload: { i: 3 }, queue, processAt: at },
          { jobType: 'e', payload: { i: 4 }, queue, processAt: new Date(0) },
          { jobType: 'f', payload: { i: 5 }, queue, processAt: at, processIn: 5 },
        ],
        db.tables,
      );
      assert.equal(ids.length, 6);
      for (const id of ids) assert.match(id, UUID_V7);
      assert.equal(new Set(ids).size, 6);

      const rows = await Promise.all(ids.map((id) => job(id)));
      assert.deepEqual(
        rows.map((r) => [r?.job_type, r?.queue, r?.payload, r?.attempts]),
        [
          ['a', queue, { i: 0 }, 0],
          ['b', 'many-other', { i: 1 }, 0],
          ['c', queue, { i: 2 }, 0],
          ['d', queue, { i: 3 }, 0],
          ['e', queue, { i: 4 }, 0],
          ['f', queue, { i: 5 }, 0],
        ],
      );
      assert.equal(rows[0]?.delay_ms, 0);
      assert.ok(Math.abs((rows[2]?.delay_ms ?? 0) - 30_000) < 1, `processIn (got ${rows[2]?.delay_ms})`);
      assert.equal(rows[3]?.process_at.getTime(), at.getTime(), 'processAt');
      assert.equal(rows[4]?.delay_ms, 0, 'processAt in the past means now');
      assert.equal(rows[5]?.process_at.getTime(), at.getTime(), 'processAt wins over processIn');
      assert.ok(rows.every((r) => r && r.age_ms >= 0 && r.age_ms < 2_000));
      assert.equal(new Set(rows.map((r) => r?.enqueued_at.getTime())).size, 1, 'one statement: one enqueued_at');
    });

    it('sends exactly one statement, whatever the number of jobs', async () => {
      const statements: string[] = [];
      const spy: Queryable = {
        query: (query: string | pg.QueryConfig, values?: unknown[]) => {
          statements.push(typeof query === 'string' ? query : query.text);
          return typeof query === 'string' ? db.pool.query(query, values) : db.pool.query(query);
        },
      } as Queryable;
      const jobs = Array.from({ length: 250 }, (_, i) => ({ jobType: 'bulk', payload: { i }, queue: 'bulk' }));
      const ids = await enqueueMany(spy, jobs, db.tables);
      assert.equal(statements.length, 1);
      assert.match(statements[0]!, /INSERT INTO/);
      assert.equal(ids.length, 250);
      const rows = await db.rows<{ job_id: string; i: number }>(
        `SELECT job_id, (payload->>'i')::int AS i FROM ${jobTable()} WHERE queue = 'bulk'`,
      );
      const byId = new Map(rows.map((r) => [r.job_id, r.i]));
      assert.deepEqual(
        ids.map((id) => byId.get(id)),
        jobs.map((_, i) => i),
      );
    });

    it('inserts nothing when one job is invalid, and does not touch the database', async () => {
      const queue = 'many-invalid';
      const statements: string[] = [];
      const spy: Queryable = {
        query: (query: string | pg.QueryConfig, values?: unknown[]) => {
          statements.push(typeof query === 'string' ? query : query.text);
          return typeof query === 'string' ? db.pool.query(query, values) : db.pool.query(query);
        },
      } as Queryable;
      await assert.rejects(
        enqueueMany(
          spy,
          [
            { jobType: 'ok', payload: {}, queue },
            { jobType: 'ok', payload: {}, queue },
            { jobType: '', payload: {}, queue },
            { jobType: 'ok', payload: {}, queue },
          ],
          db.tables,
        ),
        (error: Error) => {
          assert.ok(error instanceof InvalidNameError);
          assert.match(error.message, /^jobs\[2\]: job type must not be empty/);
          return true;
        },
      );
      assert.equal(statements.length, 0);
      assert.equal(await count('queue = $1', [queue]), 0);
    });

    it('is all or nothing in the database: a row the database refuses takes the others with it', async () => {
      const queue = 'many-db-refuses';
      // A constraint of the app's own that the third job breaks.
      await db.pool.query(
        `ALTER TABLE ${jobTable()} ADD CONSTRAINT no_poison CHECK (job_type <> 'poison') NOT VALID`,
      );
      try {
        await assert.rejects(
          enqueueMany(
            db.pool,
            [
              { jobType: 'fine', payload: {}, queue },
              { jobType: 'fine', payload: {}, queue },
              { jobType: 'poison', payload: {}, queue },
              { jobType: 'fine', payload: {}, queue },
            ],
            db.tables,
          ),
          { code: '23514' },
        );
        assert.equal(await count('queue = $1', [queue]), 0);
      } finally {
        await db.pool.query(`ALTER TABLE ${jobTable()} DROP CONSTRAINT no_poison`);
      }
    });

    it('an empty array returns [] and runs no statement', async () => {
      let calls = 0;
      const spy: Queryable = {
        query: (text: string, values?: unknown[]) => {
          calls++;
          return db.pool.query(text, values);
        },
      } as Queryable;
      const before = await count();
      assert.deepEqual(await enqueueMany(spy, [], db.tables), []);
      assert.equal(calls, 0);
      assert.equal(await count(), before);
    });
  });

  describe('job ids (UUIDv7)', () => {
    it('are version 7, RFC 9562 variant, and carry the current time', async () => {
      const t0 = Date.now();
      const id = await enqueue(db.pool, 'id-check', {}, db.tables);
      const t1 = Date.now();
      assert.match(id, UUID_V7);
      const ms = parseInt(id.replaceAll('-', '').slice(0, 12), 16);
      assert.ok(ms >= t0 - 1 && ms <= t1 + 5, `timestamp ${ms} within [${t0}, ${t1}]`);
    });

    it('sort in enqueue order, as strings and as PostgreSQL uuids', async () => {
      const queue = 'id-order';
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push(await enqueue(db.pool, 'ordered', { i }, { ...db.tables, queue }));
      // Thousands in one call: many share a millisecond, so the counter decides.
      ids.push(
        ...(await enqueueMany(
          db.pool,
          Array.from({ length: 3000 }, (_, i) => ({ jobType: 'ordered', payload: { i: 30 + i }, queue })),
          db.tables,
        )),
      );
      for (let i = 0; i < 30; i++) ids.push(await enqueue(db.pool, 'ordered', { i: 3030 + i }, { ...db.tables, queue }));

      assert.equal(new Set(ids).size, ids.length, 'unique');
      const sorted = [...ids].sort();
      assert.deepEqual(sorted, ids, 'string order = enqueue order');
      const dbOrder = (
        await db.rows<{ job_id: string }>(`SELECT job_id FROM ${jobTable()} WHERE queue = $1 ORDER BY job_id`, [queue])
      ).map((r) => r.job_id);
      assert.deepEqual(dbOrder, ids, 'uuid order in PostgreSQL = enqueue order');
    });
  });

  describe('payload round trip', () => {
    const roundTrip = async (payload: unknown): Promise<unknown> => {
      const jobId = await enqueue(db.pool, 'round-trip', payload, { ...db.tables, queue: 'round-trip' });
      return (await job(jobId))?.payload;
    };

    it('keeps nested objects, arrays, unicode, quotes, backslashes, null, numbers and booleans', async () => {
      const payload = {
        nested: { deeper: { deepest: [1, [2, [3, { four: 4 }]]] } },
        empty: { object: {}, array: [], string: '' },
        unicode: 'Grüße, 日本語, עברית, emoji 👩🏽‍💻🎉, combining é, \u2028 line sep',
        'clé unicode 🔑': 'keys too',
        quotes: `single ' double " back \` and both '"'`,
        backslashes: 'C:\\temp\\new\\x \\u0000 \\n literally',
        controls: 'tab\tnewline\nreturn\r bell\u0007 escape\u001b',
        sql: "'); DROP TABLE job; --",
        nothing: null,
        numbers: [0, -1, 42, 3.14159, -2.5e-7, 1e21, 1.7976931348623157e308, 5e-324, Number.MAX_SAFE_INTEGER],
        booleans: [true, false],
        'key with "quotes"': 1,
        '': 'empty key',
      };
      assert.deepStrictEqual(await roundTrip(payload), payload);
    });

    it('stores Dates as ISO strings', async () => {
      const when = new Date('2024-02-29T12:34:56.789Z');
      assert.deepStrictEqual(await roundTrip({ when, list: [when] }), {
        when: '2024-02-29T12:34:56.789Z',
        list: ['2024-02-29T12:34:56.789Z'],
      });
    });

    it('keeps top-level scalars and arrays', async () => {
      for (const payload of [null, 0, 17.5, 'just a string', true, false, [], [null, 'a', { b: 1 }]]) {
        assert.deepStrictEqual(await roundTrip(payload), payload, `payload ${JSON.stringify(payload)}`);
      }
    });

    it('keeps a large payload intact', async () => {
      const payload = { blob: 'x'.repeat(1_000_000), items: Array.from({ length: 5_000 }, (_, i) => ({ i })) };
      assert.deepStrictEqual(await roundTrip(payload), payload);
    });
  });
});
