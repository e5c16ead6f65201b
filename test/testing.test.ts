import assert from 'node:assert/strict';
import { AssertionError } from 'node:assert';
import { describe, it } from 'node:test';
import { enqueue, silentLogger, type JobHandlers } from 'proletarian';
import { assertJobEnqueued, assertNoJobEnqueued, listJobs, runHandler, runJobs } from 'proletarian/testing';
import { useWorkerTestDatabase } from './helpers/database.js';

// proletarian/testing, used as an app's tests use it: inside a transaction
// the test rolls back, and on a pool.

describe('proletarian/testing', () => {
  const { db, newQueue } = useWorkerTestDatabase();
  const count = async (table: string, queue: string) =>
    Number((await db.rows<{ n: string }>(`SELECT count(*) AS n FROM "${db.schema}".${table} WHERE queue = $1`, [queue]))[0]!.n);

  it("runs a transaction's uncommitted jobs on its client, follow-up jobs included; a rollback leaves nothing", async () => {
    const queue = newQueue();
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      // The code under test enqueues in its transaction.
      await client.query(`CREATE TABLE "${db.schema}".sent (email text)`);
      await enqueue(client, 'signup', { email: 'ada@example.com' }, { ...db.tables, queue });
      const handlers: JobHandlers = {
        signup: async (payload, ctx) => {
          const { email } = payload as { email: string };
          await enqueue(ctx.db, 'welcome-email', { email }, { ...db.tables, queue });
        },
        'welcome-email': async (payload, ctx) => {
          await ctx.db.query(`INSERT INTO "${db.schema}".sent VALUES ($1)`, [(payload as { email: string }).email]);
        },
      };
      const runs = await runJobs(client, { ...db.tables, queue, handlers, log: silentLogger });
      assert.deepEqual(
        runs.map((run) => [run.jobType, run.outcome, run.attempt]),
        [
          ['signup', 'succeeded', 1],
          ['welcome-email', 'succeeded', 1],
        ],
      );
      const sent = await client.query(`SELECT email FROM "${db.schema}".sent`);
      assert.deepEqual(sent.rows, [{ email: 'ada@example.com' }]);
      const archived = await client.query(`SELECT count(*)::int AS n FROM "${db.schema}".archived_job WHERE queue = $1`, [queue]);
      assert.equal(archived.rows[0].n, 2, 'archived, as a worker does');
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    assert.equal(await count('job', queue), 0);
    assert.equal(await count('archived_job', queue), 0);
  });

  it('says how each run ended: retries due at once run again, failures come with their errors', async () => {
    const queue = newQueue();
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await enqueue(client, 'flaky', {}, { ...db.tables, queue });
      await enqueue(client, 'broken', {}, { ...db.tables, queue });
      await enqueue(client, 'later', {}, { ...db.tables, queue });
      let flaky = 0;
      const runs = await runJobs(client, {
        ...db.tables,
        queue,
        log: silentLogger,
        handlers: {
          flaky: {
            retryStrategy: { retries: 1, delays: [0] },
            handler: () => {
              if (++flaky === 1) throw new Error('once');
            },
          },
          broken: {
            retryStrategy: { retries: 0 },
            handler: () => {
              throw new TypeError('always');
            },
          },
          // The default strategy: a retry a second later, not due in this call.
          later: () => {
            throw new Error('not yet');
          },
        },
      });
      assert.deepEqual(
        runs.map((run) => [run.jobType, run.outcome, run.attempt, run.error?.message]),
        [
          ['flaky', 'retry-scheduled', 1, 'once'],
          ['broken', 'failed', 1, 'always'],
          ['later', 'retry-scheduled', 1, 'not yet'],
          ['flaky', 'succeeded', 2, undefined],
        ],
      );
      assert.ok(runs[2]!.retryInMs! > 500);
      await assertJobEnqueued(client, 'later', {}, { ...db.tables, queue });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  it('on a pool, each round commits; a failed handler has its writes undone', async () => {
    const queue = newQueue();
    await db.pool.query(`CREATE TABLE IF NOT EXISTS "${db.schema}".notes (note text)`);
    await enqueue(db.pool, 'note', { note: 'kept' }, { ...db.tables, queue });
    await enqueue(db.pool, 'note', { note: 'undone' }, { ...db.tables, queue });
    const runs = await runJobs(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      retryStrategy: { retries: 0 },
      handlers: {
        note: async (payload, ctx) => {
          const { note } = payload as { note: string };
          await ctx.db.query(`INSERT INTO "${db.schema}".notes VALUES ($1)`, [note]);
          if (note === 'undone') throw new Error('rolled back');
        },
      },
    });
    assert.deepEqual(runs.map((run) => run.outcome), ['succeeded', 'failed']);
    assert.deepEqual(await db.rows(`SELECT note FROM "${db.schema}".notes`), [{ note: 'kept' }]);
    assert.equal(await count('archived_job', queue), 2);
  });

  it('stops a job that keeps enqueueing itself after maxRuns', async () => {
    const queue = newQueue();
    await enqueue(db.pool, 'again', {}, { ...db.tables, queue });
    await assert.rejects(
      runJobs(db.pool, {
        ...db.tables,
        queue,
        maxRuns: 5,
        handlers: { again: (_, ctx) => enqueue(ctx.db, 'again', {}, { ...db.tables, queue }).then(() => {}) },
      }),
      /after 5 runs/,
    );
  });

  it('lists and asserts jobs by type and partial payload, on the uncommitted state of the test client', async () => {
    const queue = newQueue();
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await enqueue(client, 'invoice', { customer: { id: 7, name: 'Ada' }, lines: [1, 2] }, { ...db.tables, queue });
      await enqueue(client, 'invoice', { customer: { id: 8, name: 'Bob' }, lines: [] }, { ...db.tables, queue });
      assert.equal((await listJobs(db.pool, { ...db.tables, queue })).length, 0, 'uncommitted: not seen elsewhere');
      const listed = await listJobs(client, { ...db.tables, queue, jobType: 'invoice' });
      assert.equal(listed.length, 2);
      assert.deepEqual(
        (await listJobs(client, { ...db.tables, queue, payload: { customer: { id: 8 } } })).map((job) => job.payload),
        [{ customer: { id: 8, name: 'Bob' }, lines: [] }],
      );

      const found = await assertJobEnqueued(client, 'invoice', { customer: { name: 'Ada' } }, { ...db.tables, queue });
      assert.equal(found.attempts, 0);
      await assertNoJobEnqueued(client, 'refund', undefined, db.tables);

      const failure = await assertJobEnqueued(client, 'invoice', { customer: { id: 9 }, lines: [1] }, { ...db.tables, queue }).then(
        () => assert.fail('expected an AssertionError'),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof AssertionError);
      assert.match(failure.message, /expected a job of type "invoice" on queue "q-\w+" with a payload matching/);
      assert.match(failure.message, /found 2 of that type, none matching:/);
      assert.match(failure.message, /payload\.customer\.id: expected 9, got 7/);
      assert.match(failure.message, /payload\.lines: expected \[ 1 \], got \[\]/);

      const none = await assertJobEnqueued(client, 'shipment', undefined, { ...db.tables, queue }).catch((error: Error) => error);
      assert.match(String(none), /found none of that type; enqueued: invoice \{/);
      await assert.rejects(assertNoJobEnqueued(client, 'invoice', { customer: { id: 8 } }, db.tables), /expected no job of type "invoice"/);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  it("runHandler: the handler's writes are visible to inspect, then rolled back; its error is thrown", async () => {
    await db.pool.query(`CREATE TABLE IF NOT EXISTS "${db.schema}".audit (what text, attempt int)`);
    const handler = async (payload: unknown, ctx: { db: { query: (text: string, values: unknown[]) => Promise<unknown> }; attempt: number }) => {
      await ctx.db.query(`INSERT INTO "${db.schema}".audit VALUES ($1, $2)`, [(payload as { what: string }).what, ctx.attempt]);
    };
    let seen: unknown[] = [];
    await runHandler(db.pool, handler, { what: 'charge' }, {
      ctx: { attempt: 3 },
      inspect: async (tx) => {
        seen = (await tx.query(`SELECT what, attempt FROM "${db.schema}".audit`)).rows;
      },
    });
    assert.deepEqual(seen, [{ what: 'charge', attempt: 3 }]);
    assert.deepEqual(await db.rows(`SELECT * FROM "${db.schema}".audit`), [], 'rolled back');

    await assert.rejects(
      runHandler(db.pool, () => {
        throw new RangeError('bad input');
      }, {}),
      RangeError,
    );
    // Inside a test's transaction: undone to a savepoint, the transaction goes on.
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${db.schema}".audit VALUES ('mine', 0)`);
      await runHandler(client, handler, { what: 'theirs' });
      assert.deepEqual((await client.query(`SELECT what FROM "${db.schema}".audit`)).rows, [{ what: 'mine' }]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });
});
