import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  cancelJob,
  cancelJobs,
  createWorker,
  deleteJob,
  deleteJobs,
  enqueue,
  enqueueMany,
  listSchedules,
  migrate,
  notifyChannel,
  pauseQueue,
  prune,
  queueStats,
  resumeQueue,
  retryJob,
  retryJobs,
  runJobNow,
  silentLogger,
  type DbClient,
  type JobContext,
} from 'proletarian';
import { createTestDatabase, databaseUrl, waitFor, type TestDatabase } from '../helpers/database.js';

/** One library, as the shared tests drive it. */
export interface Library {
  /** The library's instance on the test database, with `schema` first on its search_path. */
  open(url: string, schema: string): Promise<LibraryInstance>;
  /**
   * Whether `migrate` given one of the library's transactions runs inside it.
   * Not pg's: given a client, migrate begins and commits a transaction of its
   * own, so the client must not be in one. @defaultValue true
   */
  migratesInsideTransaction?: boolean;
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

/** Never a job's id. */
const UNKNOWN_JOB = '01890000-0000-7000-8000-000000000000';

/**
 * The tests every supported library passes: outbox semantics, payload types,
 * enqueueMany, every other function that takes `db` (each checked by what it
 * did in the database, on the instance and inside a transaction), the
 * handler recipe.
 */
export function libraryContract(name: string, library: Library): void {
  describe(`${name}: every function that takes db, on the library's own objects`, () => {
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

    it('migrate installs the tables, from the instance or inside a transaction', { skip: library.migratesInsideTransaction === false ? 'migrate begins its own transaction on this library\'s clients' : false }, async () => {
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

    /** The job table's row of a job, or undefined when it is not there. */
    const queued = async (jobId: string) =>
      (
        await database.rows<{ due: boolean; attempts: number; error: string | null }>(
          `SELECT process_at <= now() AS due, attempts, last_error->>'message' AS error FROM "${database.schema}".job WHERE job_id = $1`,
          [jobId],
        )
      )[0];
    /** A job's status in the archive, or null when it is not archived. */
    const archivedAs = async (jobId: string) =>
      (await database.rows<{ status: string }>(`SELECT status FROM "${database.schema}".archived_job WHERE job_id = $1`, [jobId]))[0]
        ?.status ?? null;
    /** Adds an archived job with `status`, finished `age` (an interval) ago, after 3 attempts; its id. */
    const archive = async (status: string, queue: string, age = '1 minute') =>
      (
        await database.rows<{ job_id: string }>(
          `INSERT INTO "${database.schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at, last_error)
           VALUES (gen_random_uuid(), $1, 'archived', '{}', 3, now(), now(), $2, now() - $3::interval, '{"message":"boom"}')
           RETURNING job_id`,
          [queue, status, age],
        )
      )[0]!.job_id;
    /** Runs `body` while another connection holds the job's row lock, as a worker's batch does. */
    const whileLocked = async <T>(jobId: string, body: () => Promise<T>): Promise<T> => {
      const holder = await database.pool.connect();
      try {
        await holder.query('BEGIN');
        await holder.query(`SELECT 1 FROM "${database.schema}".job WHERE job_id = $1 FOR UPDATE`, [jobId]);
        return await body();
      } finally {
        await holder.query('ROLLBACK');
        holder.release();
      }
    };
    /** A connection listening on `channel`: the payloads it heard (notifications arrive at commit only). */
    const listen = async (channel: string) => {
      const client = new pg.Client({ connectionString: databaseUrl() });
      await client.connect();
      const heard: string[] = [];
      client.on('notification', (message) => {
        if (message.channel === channel) heard.push(message.payload ?? '');
      });
      await client.query(`LISTEN "${channel}"`);
      return { heard, close: () => client.end() };
    };

    it('cancelJob and cancelJobs archive waiting jobs as cancelled and ask the workers of running ones, at commit', async () => {
      const [first, second, running] = await enqueueMany(
        database.pool,
        [
          { jobType: 'to-cancel', payload: 1 },
          { jobType: 'to-cancel', payload: 2, processIn: 3_600_000 },
          { jobType: 'to-cancel', payload: 3 },
        ],
        tables(),
      );
      await assert.rejects(
        lib.transaction(async (tx) => {
          assert.equal(await cancelJob(tx, first!, tables()), 'cancelled');
          throw new Rollback();
        }),
        Rollback,
      );
      assert.ok(await queued(first!), 'rolled back: the job still waits');
      assert.equal(await archivedAs(first!), null);

      await lib.transaction(async (tx) => {
        assert.equal(await cancelJob(tx, first!, tables()), 'cancelled');
      });
      assert.equal(await queued(first!), undefined);
      assert.equal(await archivedAs(first!), 'cancelled');

      const listener = await listen(`${notifyChannel(tables())}_cancel`);
      try {
        const results = await whileLocked(running!, () => cancelJobs(lib.db, [second!, first!, running!, UNKNOWN_JOB], tables()));
        assert.deepEqual(results, ['cancelled', 'finished', 'cancelling', 'not-found']);
        assert.equal(await archivedAs(second!), 'cancelled');
        assert.ok(await queued(running!), 'the running job stays until its worker ends it');
        const requests = await database.rows(`SELECT FROM "${database.schema}".job_cancel_requests WHERE job_id = $1`, [running]);
        assert.equal(requests.length, 1);
        await waitFor(() => listener.heard.length > 0, { what: "the running job's worker told" });
        assert.deepEqual(listener.heard, [running]);
      } finally {
        await listener.close();
      }
      assert.deepEqual(await cancelJobs(lib.db, [], tables()), []);
    });

    it('deleteJob and deleteJobs delete waiting and archived jobs, never a running one', async () => {
      const [waiting, scheduled, running] = await enqueueMany(
        database.pool,
        [
          { jobType: 'to-delete', payload: 1 },
          { jobType: 'to-delete', payload: 2, processIn: 3_600_000 },
          { jobType: 'to-delete', payload: 3 },
        ],
        tables(),
      );
      const finished = await archive('success', 'deleted');
      await assert.rejects(
        lib.transaction(async (tx) => {
          assert.equal(await deleteJob(tx, waiting!, tables()), 'deleted');
          throw new Rollback();
        }),
        Rollback,
      );
      assert.ok(await queued(waiting!), 'rolled back: the job is still there');

      assert.equal(await deleteJob(lib.db, waiting!, tables()), 'deleted');
      assert.equal(await queued(waiting!), undefined);
      assert.equal(await archivedAs(waiting!), null);
      assert.equal(await deleteJob(lib.db, waiting!, tables()), 'not-found');

      await whileLocked(running!, () =>
        lib.transaction(async (tx) => {
          assert.deepEqual(await deleteJobs(tx, [scheduled!, finished, running!, UNKNOWN_JOB], tables()), [
            'deleted',
            'deleted',
            'running',
            'not-found',
          ]);
        }),
      );
      assert.equal(await queued(scheduled!), undefined);
      assert.equal(await archivedAs(finished), null);
      assert.ok(await queued(running!), 'the running job is left alone');
    });

    it('runJobNow makes a scheduled job due and wakes its queue at commit; says what it found otherwise', async () => {
      const queue = 'run-now';
      const [scheduled, due, running] = await enqueueMany(
        database.pool,
        [
          { jobType: 'later', payload: 1, queue, processIn: 3_600_000 },
          { jobType: 'later', payload: 2, queue },
          { jobType: 'later', payload: 3, queue, processIn: 3_600_000 },
        ],
        tables(),
      );
      const listener = await listen(notifyChannel(tables()));
      try {
        await assert.rejects(
          lib.transaction(async (tx) => {
            assert.equal(await runJobNow(tx, scheduled!, tables()), 'due-now');
            throw new Rollback();
          }),
          Rollback,
        );
        assert.equal((await queued(scheduled!))?.due, false, 'rolled back: still scheduled');

        assert.equal(await runJobNow(lib.db, scheduled!, tables()), 'due-now');
        assert.equal((await queued(scheduled!))?.due, true);
        await waitFor(() => listener.heard.length > 0, { what: 'the queue woken' });
        assert.deepEqual(listener.heard, [queue], 'woken once, by the committed call only');
      } finally {
        await listener.close();
      }
      await lib.transaction(async (tx) => {
        assert.equal(await runJobNow(tx, scheduled!, tables()), 'already-due');
        assert.equal(await runJobNow(tx, due!, tables()), 'already-due');
      });
      assert.equal(await whileLocked(running!, () => runJobNow(lib.db, running!, tables())), 'running');
      assert.equal((await queued(running!))?.due, false);
      assert.equal(await runJobNow(lib.db, await archive('success', queue), tables()), 'finished');
      assert.equal(await runJobNow(lib.db, UNKNOWN_JOB, tables()), 'not-found');
    });

    it('retryJob and retryJobs put archived jobs back on their queue, due, with their history, and wake it at commit', async () => {
      const queue = 'retried';
      const failed = await archive('failure', queue);
      const cancelled = await archive('cancelled', queue);
      const succeeded = await archive('success', queue);
      const elsewhere = await archive('failure', 'retried-elsewhere');
      const old = await archive('failure', queue, '2 days');
      const listener = await listen(notifyChannel(tables()));
      try {
        await assert.rejects(
          lib.transaction(async (tx) => {
            assert.equal(await retryJob(tx, failed, tables()), true);
            throw new Rollback();
          }),
          Rollback,
        );
        assert.equal(await archivedAs(failed), 'failure', 'rolled back: still archived');

        assert.equal(await retryJob(lib.db, failed, tables()), true);
        assert.equal(await archivedAs(failed), null);
        assert.deepEqual(await queued(failed), { due: true, attempts: 3, error: 'boom' });
        await waitFor(() => listener.heard.length > 0, { what: 'the queue woken' });
        assert.deepEqual(listener.heard, [queue], 'woken once, by the committed call only');
      } finally {
        await listener.close();
      }
      assert.equal(await retryJob(lib.db, failed, tables()), false, 'back on its queue already');
      assert.equal(await retryJob(lib.db, succeeded, tables()), false, 'succeeded: not retried');
      assert.equal(await retryJob(lib.db, UNKNOWN_JOB, tables()), false);

      let retried = 0;
      await lib.transaction(async (tx) => {
        retried = await retryJobs(
          tx,
          { queue, status: ['failure', 'cancelled'], finishedAfter: new Date(Date.now() - 86_400_000), finishedBefore: new Date(Date.now() + 60_000) },
          tables(),
        );
      });
      assert.equal(retried, 1);
      assert.equal((await queued(cancelled))?.due, true);
      assert.equal(await archivedAs(old), 'failure', 'finished before finishedAfter');
      assert.equal(await archivedAs(elsewhere), 'failure', 'on another queue');

      assert.equal(await retryJobs(lib.db, { jobIds: [old, succeeded, UNKNOWN_JOB] }, tables()), 1);
      assert.equal((await queued(old))?.due, true);
      assert.equal(await archivedAs(succeeded), 'success');
      assert.equal(await retryJobs(lib.db, { queue: 'retried-elsewhere' }, tables()), 1, 'status failure by default');
      assert.equal(await archivedAs(elsewhere), null);
    });

    it('pauseQueue and resumeQueue change the stored state, say whether it changed, and tell the workers at commit', async () => {
      const queue = 'paused';
      const paused = async () =>
        (
          await database.rows<{ paused: boolean }>(`SELECT paused FROM "${database.schema}".job_queue_states WHERE queue = $1`, [queue])
        )[0]?.paused ?? false;
      const listener = await listen(`${notifyChannel(tables())}_state`);
      try {
        await assert.rejects(
          lib.transaction(async (tx) => {
            assert.equal(await pauseQueue(tx, queue, tables()), true);
            throw new Rollback();
          }),
          Rollback,
        );
        assert.equal(await paused(), false, 'rolled back: still running');

        assert.equal(await pauseQueue(lib.db, queue, tables()), true);
        assert.equal(await paused(), true);
        await waitFor(() => listener.heard.length > 0, { what: 'the workers told of the pause' });
        assert.deepEqual(listener.heard, [queue], 'told once, by the committed call only');
        assert.equal(await pauseQueue(lib.db, queue, tables()), false, 'paused already');

        await lib.transaction(async (tx) => {
          assert.equal(await resumeQueue(tx, queue, tables()), true);
        });
        assert.equal(await paused(), false);
        await waitFor(() => listener.heard.length > 1, { what: 'the workers told of the resume' });
        assert.deepEqual(listener.heard, [queue, queue]);
        assert.equal(await resumeQueue(lib.db, queue, tables()), false, 'not paused');
      } finally {
        await listener.close();
      }
    });

    it('listSchedules reads the stored schedules, times as Dates, from the instance or inside a transaction', async () => {
      await database.pool.query(
        `INSERT INTO "${database.schema}".job_schedules (name, cron, timezone, job_type, queue, enqueued_until, last_slot, defined_at)
         VALUES ('nightly', '0 3 * * *', 'UTC', 'report', 'reports', '2026-01-01T03:00:00Z', '2026-01-01T03:00:00Z', '2025-12-01T00:00:00Z')`,
      );
      const before = Date.now();
      const listed = await listSchedules(lib.db, { ...tables(), nextRuns: 2 });
      const nextRuns = listed[0]?.nextRuns ?? [];
      assert.deepEqual(listed, [
        {
          name: 'nightly',
          cron: '0 3 * * *',
          timezone: 'UTC',
          jobType: 'report',
          queue: 'reports',
          lastSlot: new Date('2026-01-01T03:00:00Z'),
          nextRuns,
          definedAt: new Date('2025-12-01T00:00:00Z'),
        },
      ]);
      // The next two 03:00 UTC after the database's now.
      assert.equal(nextRuns.length, 2);
      for (const run of nextRuns) assert.ok(run instanceof Date && run.getUTCHours() === 3 && run.getUTCMinutes() === 0, String(run));
      assert.ok(nextRuns[0]!.getTime() > before - 60_000 && nextRuns[0]!.getTime() <= before + 86_400_000 + 60_000);
      assert.equal(nextRuns[1]!.getTime() - nextRuns[0]!.getTime(), 86_400_000);
      await lib.transaction(async (tx) => {
        assert.deepEqual(
          (await listSchedules(tx, tables())).map((schedule) => [schedule.name, schedule.lastSlot, schedule.nextRuns.length]),
          [['nightly', new Date('2026-01-01T03:00:00Z'), 3]],
        );
      });
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

