import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createWorker,
  enqueue,
  enqueueMany,
  migrate,
  prune,
  queueStats,
  silentLogger,
  type DbClient,
  type JobContext,
} from 'proletarian';
import { createTestDatabase, databaseUrl, waitFor, type TestDatabase } from '../helpers/database.js';

/** One library, as the shared tests drive it. */
export interface Library {
  /** The library's instance on the test database, with `schema` first on its search_path. */
  open(url: string, schema: string): Promise<LibraryInstance>;
}

export interface LibraryInstance {
  /** The instance itself: a pool of connections. */
  db: DbClient;
  /** Runs `work` in a transaction of the library's; commits when it resolves, rolls back when it throws. */
  transaction(work: (tx: DbClient) => Promise<void>): Promise<void>;
  /** The README's recipe: the library on the job's transaction, inserting a row into the test schema's `note (text)`. */
  insertNoteInJob(ctx: JobContext, text: string): Promise<void>;
  close(): Promise<void>;
}

class Rollback extends Error {}

/** Payloads of every JSON type, by the `jsonb_typeof` each must be stored as. */
const PAYLOADS: readonly [string, unknown][] = [
  ['object', { email: 'ada@example.com', n: 1, nested: { list: [1, 'two', null, true] } }],
  ['array', [1, { a: 'b' }, 'three']],
  ['string', 'just a string'],
  ['number', 42.5],
  ['boolean', false],
  ['null', null],
];

/** The tests every supported library passes: outbox semantics, payload types, enqueueMany, the other functions, the handler recipe. */
export function libraryContract(name: string, library: Library): void {
  describe(`${name}: enqueue on the library's own objects`, () => {
    let database: TestDatabase;
    let lib: LibraryInstance;
    const tables = () => database.tables;
    const jobCount = async (where = 'true', values: unknown[] = []) =>
      Number((await database.rows<{ n: string }>(`SELECT count(*) AS n FROM "${database.schema}".job WHERE ${where}`, values))[0]!.n);

    before(async () => {
      database = await createTestDatabase();
      await database.pool.query(`CREATE TABLE "${database.schema}".note (id serial PRIMARY KEY, text text NOT NULL)`);
      lib = await library.open(databaseUrl(), database.schema);
    });
    after(async () => {
      await lib?.close();
      await database?.close();
    });

    it('a rolled-back transaction leaves no job', async () => {
      let jobId = '';
      await assert.rejects(
        lib.transaction(async (tx) => {
          jobId = await enqueue(tx, 'rolled-back', { n: 1 }, tables());
          throw new Rollback();
        }),
        Rollback,
      );
      assert.notEqual(jobId, '');
      assert.equal(await jobCount('job_id = $1', [jobId]), 0);
    });

    it('a committed transaction leaves exactly the job, enqueued on its own connection', async () => {
      let jobId = '';
      await lib.transaction(async (tx) => {
        jobId = await enqueue(tx, 'committed', { n: 2 }, tables());
        // Another connection does not see it yet: it was inserted inside the transaction.
        assert.equal(await jobCount('job_id = $1', [jobId]), 0);
      });
      const rows = await database.rows<{ job_type: string; payload: unknown }>(
        `SELECT job_type, payload FROM "${database.schema}".job WHERE job_id = $1`,
        [jobId],
      );
      assert.deepEqual(rows, [{ job_type: 'committed', payload: { n: 2 } }]);
    });

    it('payloads keep their JSON types (jsonb_typeof), through enqueue and enqueueMany', async () => {
      const ids: string[] = [];
      await lib.transaction(async (tx) => {
        for (const [, payload] of PAYLOADS) ids.push(await enqueue(tx, 'typed', payload, tables()));
        ids.push(...(await enqueueMany(tx, PAYLOADS.map(([, payload]) => ({ jobType: 'typed', payload })), tables())));
      });
      const rows = await database.rows<{ job_id: string; type: string; payload: unknown }>(
        `SELECT job_id, jsonb_typeof(payload) AS type, payload FROM "${database.schema}".job WHERE job_id = ANY($1)`,
        [ids],
      );
      const byId = new Map(rows.map((row) => [row.job_id, row]));
      ids.forEach((id, i) => {
        const [type, payload] = PAYLOADS[i % PAYLOADS.length]!;
        assert.equal(byId.get(id)?.type, type, `payload ${JSON.stringify(payload)}`);
        assert.deepEqual(byId.get(id)?.payload, payload);
      });
    });

    it('enqueueMany inserts all jobs, with their options, in the order given, or none', async () => {
      const processAt = new Date(Date.now() + 3_600_000);
      let ids: string[] = [];
      await lib.transaction(async (tx) => {
        ids = await enqueueMany(
          tx,
          [
            { jobType: 'many', payload: { i: 0 } },
            { jobType: 'many', payload: { i: 1 }, queue: 'other', processAt },
            { jobType: 'many', payload: { i: 2 }, processIn: 60_000 },
          ],
          tables(),
        );
      });
      const rows = await database.rows<{ job_id: string; queue: string; payload: { i: number }; later: boolean }>(
        `SELECT job_id, queue, payload, process_at > now() + interval '30 seconds' AS later
         FROM "${database.schema}".job WHERE job_id = ANY($1)`,
        [ids],
      );
      const byId = new Map(rows.map((row) => [row.job_id, row]));
      assert.deepEqual(
        ids.map((id) => byId.get(id)),
        [
          { job_id: ids[0], queue: 'default', payload: { i: 0 }, later: false },
          { job_id: ids[1], queue: 'other', payload: { i: 1 }, later: true },
          { job_id: ids[2], queue: 'default', payload: { i: 2 }, later: true },
        ],
      );

      await assert.rejects(
        lib.transaction(async (tx) => {
          ids = await enqueueMany(tx, [{ jobType: 'many-rolled-back', payload: 1 }, { jobType: 'many-rolled-back', payload: 2 }], tables());
          throw new Rollback();
        }),
        Rollback,
      );
      assert.equal(await jobCount(`job_type = 'many-rolled-back'`), 0);
    });

    it('the instance itself enqueues at once, and serves queueStats, prune and migrate', async () => {
      const jobId = await enqueue(lib.db, 'on-instance', { n: 3 }, tables());
      assert.equal(await jobCount('job_id = $1', [jobId]), 1);
      const stats = await queueStats(lib.db, tables());
      const mine = stats.find((s) => s.jobType === 'on-instance');
      assert.equal(mine?.due, 1);
      assert.ok(mine.oldestDueAt instanceof Date && Math.abs(mine.oldestDueAt.getTime() - Date.now()) < 60_000);
      const pruned = await prune(lib.db, { ...tables(), olderThan: 1 });
      assert.equal(pruned.done, true);
      assert.deepEqual((await migrate(lib.db, tables())).applied, []);
    });

    it('migrate installs the tables, from the instance or inside a transaction', async () => {
      const fresh = `${database.schema}_m`;
      try {
        const first = await migrate(lib.db, { schema: fresh });
        assert.equal(first.fromVersion, 0);
        assert.ok(first.applied.length > 0);
        await database.pool.query(`DROP SCHEMA "${fresh}" CASCADE`);
        await assert.rejects(
          lib.transaction(async (tx) => {
            assert.ok((await migrate(tx, { schema: fresh })).applied.length > 0);
            throw new Rollback();
          }),
          Rollback,
        );
        assert.equal((await database.rows(`SELECT FROM pg_namespace WHERE nspname = $1`, [fresh])).length, 0);
        await lib.transaction(async (tx) => {
          await migrate(tx, { schema: fresh });
        });
        assert.deepEqual((await migrate(database.pool, { schema: fresh })).applied, []);
      } finally {
        await database.pool.query(`DROP SCHEMA IF EXISTS "${fresh}" CASCADE`);
      }
    });

    it("the README's recipe: the library's writes in a handler commit with the job, or roll back with it", async () => {
      const queue = `q-${name.replace(/\W/g, '')}`;
      const worker = createWorker(database.pool, {
        ...tables(),
        queue,
        log: silentLogger,
        retryStrategy: { retries: 0 },
        handlers: {
          'write-note': async (payload, ctx) => {
            const { text, fail } = payload as { text: string; fail: boolean };
            await lib.insertNoteInJob(ctx, text);
            if (fail) throw new Error('the handler failed after writing');
          },
        },
      });
      const kept = await enqueue(database.pool, 'write-note', { text: 'kept', fail: false }, { ...tables(), queue });
      const undone = await enqueue(database.pool, 'write-note', { text: 'undone', fail: true }, { ...tables(), queue });
      await worker.start();
      try {
        await waitFor(
          async () =>
            (await database.rows(`SELECT FROM "${database.schema}".archived_job WHERE job_id = ANY($1)`, [[kept, undone]]))
              .length === 2,
          { what: 'both jobs archived' },
        );
      } finally {
        await worker.stop();
      }
      const archived = await database.rows<{ job_id: string; status: string; error: string | null }>(
        `SELECT job_id, status, last_error->>'message' AS error FROM "${database.schema}".archived_job WHERE job_id = ANY($1) ORDER BY status DESC`,
        [[kept, undone]],
      );
      assert.deepEqual(archived, [
        { job_id: kept, status: 'success', error: null },
        { job_id: undone, status: 'failure', error: 'the handler failed after writing' },
      ]);
      const notes = await database.rows<{ text: string }>(`SELECT text FROM "${database.schema}".note ORDER BY id`);
      assert.deepEqual(notes, [{ text: 'kept' }]);
    });
  });
}

