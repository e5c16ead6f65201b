import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import {
  createWorker,
  enqueue,
  InvalidOptionError,
  prune,
  SchemaNotReadyError,
  silentLogger,
  type PruneOptions,
} from 'proletarian';
import { createTestDatabase, databaseUrl, installSchemaVersion, recordingLogger, type TestDatabase, waitFor, whileRunning } from './helpers/database.js';

const DAY = 24 * 3600_000;

interface Recorded {
  text: string;
  values: unknown[] | undefined;
}

/** A connected client whose queries are recorded; `afterQuery` runs once each has completed. */
async function spyingClient(afterQuery: (query: Recorded) => void = () => {}): Promise<pg.Client & { queries: Recorded[] }> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  const queries: Recorded[] = [];
  const query = client.query.bind(client) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>;
  const spy = async (text: string, values?: unknown[]) => {
    const result = await query(text, values);
    const recorded = { text, values };
    queries.push(recorded);
    afterQuery(recorded);
    return result;
  };
  return Object.assign(client, { query: spy as unknown as pg.Client['query'], queries });
}

const isDeleteBatch = (query: Recorded) => /\bDELETE FROM\b/.test(query.text);

describe('prune', () => {
  let db: TestDatabase;
  let archive: string;
  before(async () => {
    db = await createTestDatabase();
    archive = `"${db.schema}".archived_job`;
  });
  after(() => db.close());
  beforeEach(async () => {
    await db.pool.query(`TRUNCATE ${archive}, "${db.schema}".job`);
  });

  /**
   * Inserts `count` archived jobs that finished `age` ago (a PostgreSQL
   * interval), each a second older than the one before; returns their ids.
   */
  async function archived(count: number, age: string, status: 'success' | 'failure' = 'success'): Promise<string[]> {
    const rows = await db.rows<{ job_id: string }>(
      `INSERT INTO ${archive} (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at)
       SELECT gen_random_uuid(), 'default', 'made-by-sql', jsonb_build_object('i', i), 1,
              now() - $2::interval - interval '1 hour', now() - $2::interval - interval '1 hour', $3,
              now() - $2::interval - i * interval '1 second'
       FROM generate_series(1, $1::int) AS i
       RETURNING job_id`,
      [count, age, status],
    );
    return rows.map((r) => r.job_id);
  }

  const archivedIds = async (where = 'true') =>
    (await db.rows<{ job_id: string }>(`SELECT job_id FROM ${archive} WHERE ${where} ORDER BY job_id`)).map(
      (r) => r.job_id,
    );
  const sorted = (ids: string[]) => [...ids].sort();
  const pruneHere = (options: PruneOptions) => prune(db.pool, { ...db.tables, ...options });

  it('deletes exactly the archived jobs that finished before the cutoff, in batches of batchSize', async () => {
    await archived(25, '40 days');
    await archived(10, '31 days', 'failure');
    const kept = [
      ...(await archived(3, '29 days 23 hours')),
      ...(await archived(4, '1 day', 'failure')),
      ...(await archived(2, '0 seconds')),
    ];
    const live = await enqueue(db.pool, 'still-queued', {}, { ...db.tables, processAt: new Date(Date.now() - 60 * DAY) });

    const result = await pruneHere({ olderThan: 30 * DAY, batchSize: 10 });
    assert.deepEqual({ ...result, cutoff: undefined }, { deleted: 35, batches: 4, done: true, cutoff: undefined });
    assert.ok(Math.abs(result.cutoff.getTime() - (Date.now() - 30 * DAY)) < 60_000, `cutoff ${result.cutoff.toISOString()}`);
    assert.deepEqual(await archivedIds(), sorted(kept));
    assert.deepEqual(
      (await db.rows<{ job_id: string }>(`SELECT job_id FROM "${db.schema}".job`)).map((r) => r.job_id),
      [live],
      'the job table is left alone, however old its jobs',
    );
  });

  it('counts only batches that deleted something: an exact multiple of batchSize takes no extra batch', async () => {
    await archived(20, '40 days');
    assert.deepEqual(
      { ...(await pruneHere({ olderThan: 30 * DAY, batchSize: 10 })), cutoff: undefined },
      { deleted: 20, batches: 2, done: true, cutoff: undefined },
    );
    assert.deepEqual(await archivedIds(), []);
  });

  it('deletes only jobs of the status asked for', async () => {
    const successes = await archived(12, '40 days', 'success');
    await archived(7, '40 days', 'failure');
    const recentFailure = await archived(1, '1 hour', 'failure');

    const failures = await pruneHere({ olderThan: 30 * DAY, status: 'failure', batchSize: 5 });
    assert.deepEqual([failures.deleted, failures.batches, failures.done], [7, 2, true]);
    assert.deepEqual(await archivedIds(), sorted([...successes, ...recentFailure]));

    const rest = await pruneHere({ olderThan: 30 * DAY, status: 'success', batchSize: 5 });
    assert.deepEqual([rest.deleted, rest.batches, rest.done], [12, 3, true]);
    assert.deepEqual(await archivedIds(), recentFailure);
  });

  it('is a no-op on an empty archive, and when nothing is old enough', async () => {
    const empty = await pruneHere({ olderThan: 0 });
    assert.deepEqual([empty.deleted, empty.batches, empty.done], [0, 0, true]);

    const recent = await archived(5, '1 hour');
    const none = await pruneHere({ olderThan: DAY });
    assert.deepEqual([none.deleted, none.batches, none.done], [0, 0, true]);
    assert.deepEqual(await archivedIds(), sorted(recent));
  });

  it('takes a Date as the cutoff, and returns it', async () => {
    await archived(3, '10 days');
    const recent = await archived(2, '1 day');
    const cutoff = new Date(Date.now() - 5 * DAY);
    const result = await pruneHere({ olderThan: cutoff });
    assert.equal(result.deleted, 3);
    assert.equal(result.cutoff.getTime(), cutoff.getTime());
    assert.deepEqual(await archivedIds(), sorted(recent));

    // A cutoff in the future takes everything; one before any job, nothing.
    assert.equal((await pruneHere({ olderThan: new Date('1900-01-01T00:00:00Z') })).deleted, 0);
    assert.equal((await pruneHere({ olderThan: new Date(-8.64e15) })).deleted, 0, 'the earliest Date there is');
    assert.equal((await pruneHere({ olderThan: new Date(Date.now() + DAY) })).deleted, 2);
  });

  it('maxBatches bounds a call, and done tells whether older jobs are left', async () => {
    await archived(25, '40 days');
    const first = await pruneHere({ olderThan: 30 * DAY, batchSize: 10, maxBatches: 2 });
    assert.deepEqual([first.deleted, first.batches, first.done], [20, 2, false]);
    assert.equal((await archivedIds()).length, 5);
    const second = await pruneHere({ olderThan: 30 * DAY, batchSize: 10, maxBatches: 2 });
    assert.deepEqual([second.deleted, second.batches, second.done], [5, 1, true]);

    // Running out exactly at the limit is still done.
    await archived(20, '40 days');
    const exact = await pruneHere({ olderThan: 30 * DAY, batchSize: 10, maxBatches: 2 });
    assert.deepEqual([exact.deleted, exact.batches, exact.done], [20, 2, true]);

    // Newer jobs of another status do not count as left.
    await archived(10, '40 days', 'success');
    await archived(3, '40 days', 'failure');
    const failures = await pruneHere({ olderThan: 30 * DAY, status: 'failure', batchSize: 3, maxBatches: 1 });
    assert.deepEqual([failures.deleted, failures.batches, failures.done], [3, 1, true]);
  });

  it('deletes the oldest jobs first', async () => {
    await archived(5, '50 days');
    const newer = await archived(5, '40 days');
    await pruneHere({ olderThan: 30 * DAY, batchSize: 5, maxBatches: 1 });
    assert.deepEqual(await archivedIds(), sorted(newer));
  });

  it('stops between batches once its signal is aborted', async () => {
    await archived(25, '40 days');
    const aborted = await pruneHere({ olderThan: 30 * DAY, batchSize: 10, signal: AbortSignal.abort() });
    assert.deepEqual([aborted.deleted, aborted.batches, aborted.done], [0, 0, false]);
    assert.equal((await archivedIds()).length, 25);

    // Aborted while the first batch runs: that batch completes, no other starts.
    const controller = new AbortController();
    const client = await spyingClient((query) => {
      if (isDeleteBatch(query)) controller.abort();
    });
    try {
      const result = await prune(client, { ...db.tables, olderThan: 30 * DAY, batchSize: 10, signal: controller.signal });
      assert.deepEqual([result.deleted, result.batches, result.done], [10, 1, false]);
      assert.equal(client.queries.filter(isDeleteBatch).length, 1);
    } finally {
      await client.end();
    }
    assert.equal((await archivedIds()).length, 15);
  });

  it('prunes jobs that a worker archived, by status, and leaves queued jobs alone', async () => {
    const queue = `q_${randomBytes(4).toString('hex')}`;
    const options = { ...db.tables, queue };
    const succeeded = await Promise.all([1, 2, 3, 4].map((n) => enqueue(db.pool, 'ok', { n }, options)));
    const failed = await Promise.all([1, 2].map((n) => enqueue(db.pool, 'bad', { n }, options)));
    const unhandled = await enqueue(db.pool, 'nobody-handles-this', {}, options);
    const worker = createWorker(db.pool, {
      ...options,
      log: silentLogger,
      pollInterval: 10,
      retryStrategy: { retries: 0 },
      handlers: {
        ok: () => {},
        bad: () => {
          throw new Error('fails for good');
        },
      },
    });
    await whileRunning(worker, () => waitFor(async () => (await archivedIds()).length === 6, { what: 'six archived jobs' }));

    assert.equal((await pruneHere({ olderThan: DAY })).deleted, 0, 'all of them finished just now');
    const failures = await pruneHere({ olderThan: 0, status: 'failure' });
    assert.deepEqual([failures.deleted, failures.done], [2, true]);
    assert.deepEqual(await archivedIds(), sorted(succeeded));
    assert.deepEqual(await archivedIds(`job_id = ANY('{${failed.join(',')}}')`), []);

    // Two of the successes finished three days ago.
    await db.pool.query(`UPDATE ${archive} SET finished_at = finished_at - interval '3 days' WHERE job_id = ANY($1)`, [
      succeeded.slice(0, 2),
    ]);
    assert.equal((await pruneHere({ olderThan: 2 * DAY, batchSize: 1 })).batches, 2);
    assert.deepEqual(await archivedIds(), sorted(succeeded.slice(2)));
    assert.deepEqual(
      (await db.rows<{ job_id: string }>(`SELECT job_id FROM "${db.schema}".job`)).map((r) => r.job_id),
      [unhandled],
    );
  });

  it('two prunes at once share the work without deleting anything twice', async () => {
    await archived(3000, '40 days');
    const [a, b] = await Promise.all([
      pruneHere({ olderThan: 30 * DAY, batchSize: 100 }),
      pruneHere({ olderThan: 30 * DAY, batchSize: 100 }),
    ]);
    assert.equal(a.deleted + b.deleted, 3000);
    assert.ok(a.done && b.done);
    assert.deepEqual(await archivedIds(), []);
  });

  it('works on a pg.Client too', async () => {
    await archived(3, '40 days');
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      assert.equal((await prune(client, { ...db.tables, olderThan: 30 * DAY })).deleted, 3);
    } finally {
      await client.end();
    }
  });

  it('finds old jobs through the finished_at index, and deletes them without scanning the table', async () => {
    // 20 000 jobs, one every 10 minutes back to about 139 days ago; a fifth
    // of them failures.
    await db.pool.query(
      `INSERT INTO ${archive} (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at)
       SELECT gen_random_uuid(), 'default', 'bulk', '{}', 1, now(), now(),
              CASE WHEN i % 5 = 0 THEN 'failure' ELSE 'success' END, now() - i * interval '10 minutes'
       FROM generate_series(1, 20000) AS i`,
    );
    await db.pool.query(`ANALYZE ${archive}`);

    for (const options of [{}, { status: 'failure' as const }]) {
      const client = await spyingClient();
      try {
        await prune(client, { ...db.tables, ...options, olderThan: 30 * DAY, batchSize: 1000, maxBatches: 2 });
        const batches = client.queries.filter(isDeleteBatch);
        assert.equal(batches.length, 2);
        for (const batch of batches) {
          const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${batch.text}`, batch.values)).rows
            .map((row) => row['QUERY PLAN'])
            .join('\n');
          assert.match(plan, /Index (Only )?Scan using archived_job_(finished|unsuccessful)_idx/, plan);
          assert.doesNotMatch(plan, /Seq Scan/, plan);
        }
      } finally {
        await client.end();
      }
    }
  });

  it("a worker's retention option prunes the archive while it runs, and stops with it", async () => {
    const old = await archived(30, '10 days');
    const recent = await archived(5, '1 hour');
    const log = recordingLogger();
    const worker = createWorker(db.pool, {
      ...db.tables,
      log,
      handlers: { job: () => {} },
      retention: { olderThan: DAY, every: 100 },
    });
    await whileRunning(worker, () => waitFor(async () => (await archivedIds()).length === recent.length, { what: 'the old jobs to be pruned' }));
    assert.deepEqual(await archivedIds(), sorted(recent));
    const pruned = log.events.find((e) => e.event === 'archive-pruned');
    assert.equal(pruned?.data['deleted'], old.length);
    // Stopped: older rows arriving now stay.
    const later = await archived(3, '10 days');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(await archivedIds(), sorted([...recent, ...later]));
  });

  it('rejects invalid retention options of a worker by name', () => {
    for (const [retention, fragment] of [
      [{ olderThan: -1 }, /retention\.olderThan/],
      [{ olderThan: DAY, every: 0 }, /retention\.every/],
      [{ olderThan: DAY, status: 'done' }, /retention\.status/],
      [{ olderThan: DAY, evry: 5 }, /unknown option "evry"/],
    ] as const) {
      assert.throws(
        () =>
          createWorker(db.pool, {
            handlers: { job: () => {} },
            retention: retention as unknown as { olderThan: number },
          }),
        { name: 'InvalidOptionError', message: fragment },
      );
    }
  });

  it('rejects invalid options with InvalidOptionError naming the option, before touching the database', async () => {
    const ids = await archived(3, '40 days');
    const cases: [unknown, RegExp][] = [
      [undefined, /prune needs options/],
      [{}, /olderThan must be a Date or a number of milliseconds.*got nothing/],
      [{ olderThan: -1 }, /olderThan must be .*got -1/],
      [{ olderThan: Number.NaN }, /olderThan must be .*got NaN/],
      [{ olderThan: Infinity }, /olderThan must be .*got Infinity/],
      [{ olderThan: 2000 * 365 * DAY }, /olderThan must be .*1000 years/],
      [{ olderThan: '30d' }, /olderThan must be .*got 30d/],
      [{ olderThan: new Date('not a date') }, /olderThan must be a valid Date/],
      [{ olderThan: DAY, status: 'done' }, /status must be 'success', 'failure', 'cancelled' or 'discarded' \(or left out for all\); got done/],
      [{ olderThan: DAY, batchSize: 0 }, /batchSize must be a whole number ≥ 1; got 0/],
      [{ olderThan: DAY, batchSize: 2.5 }, /batchSize must be a whole number ≥ 1; got 2.5/],
      [{ olderThan: DAY, batchSize: '10' }, /batchSize must be/],
      [{ olderThan: DAY, maxBatches: 0 }, /maxBatches must be a whole number ≥ 1.*got 0/],
      [{ olderThan: DAY, maxBatches: -Infinity }, /maxBatches must be/],
      [{ olderThan: DAY, signal: { aborted: false } }, /signal must be an AbortSignal/],
      [{ olderThan: DAY, olderthan: DAY }, /unknown prune option "olderthan"/],
      [{ olderThan: DAY, schema: 'Bad-Name' }, /schema must be a lower-case SQL identifier/],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(
        prune(db.pool, (options === undefined ? undefined : { ...db.tables, ...(options as object) }) as PruneOptions),
        (error: Error) => {
          assert.ok(error instanceof InvalidOptionError, `${JSON.stringify(options)}: ${String(error)}`);
          assert.match(error.message, message);
          return true;
        },
      );
    }
    await assert.rejects(prune(null as never, { olderThan: DAY }), InvalidOptionError);
    assert.deepEqual(await archivedIds(), sorted(ids), 'nothing was deleted');
  });

  it('refuses, with SchemaNotReadyError, a schema that is missing or older than the library', async () => {
    const schema = `test_ret_${randomBytes(6).toString('hex')}`;
    await assert.rejects(prune(db.pool, { schema, olderThan: DAY }), SchemaNotReadyError);
    try {
      await installSchemaVersion(db.pool, { schema }, 1);
      await assert.rejects(prune(db.pool, { schema, olderThan: DAY }), (error: Error) => {
        assert.ok(error instanceof SchemaNotReadyError);
        assert.match(error.message, /version 1 .*migrate/);
        return true;
      });
    } finally {
      await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });
});
