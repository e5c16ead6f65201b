import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createWorker,
  InvalidOptionError,
  listSchedules,
  SchemaNotReadyError,
  silentLogger,
  type Schedules,
  type WorkerOptions,
} from 'proletarian';
import { recordingLogger, useWorkerTestDatabase, waitFor, whileRunning } from './helpers/database.js';

describe('schedules', () => {
  const { db, newQueue } = useWorkerTestDatabase();

  /** A worker with schedules; it handles only 'other', so scheduled jobs stay queued for inspection unless `handlers` says otherwise. */
  function worker(queue: string, schedules: Schedules, options: Partial<WorkerOptions> = {}) {
    return createWorker(db.pool, {
      log: silentLogger,
      pollInterval: 20,
      handlers: { other: () => {} },
      ...options,
      ...db.tables,
      queue,
      schedules,
    });
  }

  /** The due times of the jobs of `jobType`, queued or archived, as epoch ms, sorted. */
  const slotsOf = async (jobType: string) =>
    (
      await db.rows<{ at: number }>(
        `SELECT (extract(epoch FROM process_at) * 1000)::float8 AS at FROM (
           SELECT process_at FROM "${db.schema}".job WHERE job_type = $1
           UNION ALL SELECT process_at FROM "${db.schema}".archived_job WHERE job_type = $1
         ) AS jobs ORDER BY at`,
        [jobType],
      )
    ).map((row) => row.at);
  const dbNow = async () => (await db.rows<{ now: Date }>('SELECT statement_timestamp() AS now'))[0]!.now.getTime();
  /** The slots `log` says were enqueued for `schedule`, as epoch ms. */
  const enqueuedSlots = (log: ReturnType<typeof recordingLogger>, schedule: string) =>
    log.events
      .filter((e) => e.event === 'schedule-enqueued' && e.data['schedule'] === schedule)
      .map((e) => new Date(e.data['slot'] as string).getTime());
  const enqueuedCount = (log: ReturnType<typeof recordingLogger>, schedule: string) => enqueuedSlots(log, schedule).length;

  /**
   * The slots the logs say were enqueued for `schedule`, sorted, after checking
   * there is one job of `jobType` per slot. A job's due time is its slot only
   * when enqueued ahead of it: a round a loaded machine makes late enqueues a
   * passed slot as due now, so the log, not `process_at`, tells the slot.
   */
  async function slotsLogged(logs: ReturnType<typeof recordingLogger>[], schedule: string, jobType: string) {
    const slots = logs.flatMap((log) => enqueuedSlots(log, schedule)).sort((x, y) => x - y);
    assert.equal((await slotsOf(jobType)).length, slots.length, 'one job per slot logged');
    return slots;
  }

  /** Asserts one job per second, every second, over the slots given. */
  function assertEverySecond(slots: number[], what: string) {
    for (const slot of slots) assert.equal(slot % 1000, 0, `${what}: slots fall on whole seconds`);
    for (let i = 1; i < slots.length; i++) {
      assert.equal(slots[i]! - slots[i - 1]!, 1000, `${what}: one job per slot, none missing, at ${new Date(slots[i]!).toISOString()}`);
    }
  }

  it('refuses invalid schedules at createWorker, naming the schedule and the field', () => {
    const cases: [unknown, RegExp][] = [
      ['nightly', /schedules must be an object mapping schedule names/],
      [{ '': { cron: '* * * * *', jobType: 'x', payload: {} } }, /schedules\[""\]: schedule name must not be empty/],
      [{ ' padded': { cron: '* * * * *', jobType: 'x', payload: {} } }, /schedule name must not start or end with whitespace/],
      [{ s: 'every minute' }, /schedules\["s"\] must be an object \{ cron, timezone\?, jobType, payload/],
      [{ s: { cron: '* * * *', jobType: 'x', payload: {} } }, /schedules\["s"\]\.cron "\* \* \* \*" is invalid/],
      [{ s: { cron: '99 * * * *', jobType: 'x', payload: {} } }, /schedules\["s"\]\.cron .* is invalid: Invalid value for minute: 99/],
      [{ s: { jobType: 'x', payload: {} } }, /schedules\["s"\]\.cron must be a cron expression .*; got nothing/],
      [{ s: { cron: '0 0 31 2 *', jobType: 'x', payload: {} } }, /never matches/],
      [{ s: { cron: '* * * * *', timezone: 'Europe/Olso', jobType: 'x', payload: {} } }, /schedules\["s"\]\.timezone must be an IANA time zone .*"Europe\/Olso"/],
      [{ s: { cron: '* * * * *', jobType: '', payload: {} } }, /schedules\["s"\]\.jobType: job type must not be empty/],
      [{ s: { cron: '* * * * *', payload: {} } }, /schedules\["s"\]\.jobType: job type must be a string; got undefined/],
      [{ s: { cron: '* * * * *', jobType: 'x' } }, /schedules\["s"\]\.payload is required/],
      [{ s: { cron: '* * * * *', jobType: 'x', payload: { n: NaN } } }, /schedules\["s"\]\.payload: payload contains NaN at \$\.n/],
      [{ s: { cron: '* * * * *', jobType: 'x', payload: () => {} } }, /schedules\["s"\]\.payload: payload contains a function/],
      [{ s: { cron: '* * * * *', jobType: 'x', payload: {}, queue: ' q' } }, /schedules\["s"\]\.queue: queue must not start or end with whitespace/],
      [{ s: { cron: '* * * * *', jobType: 'x', payload: {}, priority: 1.5 } }, /schedules\["s"\]\.priority must be a whole number from -32768 to 32767; got 1\.5/],
      [{ s: { cron: '* * * * *', jobType: 'x', payload: {}, priority: 40_000 } }, /priority must be a whole number from -32768 to 32767; got 40000/],
      [{ s: { cron: '* * * * *', jobType: 'x', payload: {}, backfill: -1 } }, /schedules\["s"\]\.backfill must be a number of milliseconds ≥ 0; got -1/],
      [{ s: { cron: '* * * * *', jobType: 'x', payload: {}, backfill: '1h' } }, /backfill must be a number of milliseconds/],
      [{ s: { cron: '* * * * *', jobType: 'x', payload: {}, timeZone: 'UTC' } }, /schedules\["s"\]: unknown option "timeZone"; known options: cron, timezone, jobType/],
    ];
    for (const [schedules, message] of cases) {
      assert.throws(
        () => createWorker(db.pool, { handlers: { x: () => {} }, schedules: schedules as Schedules }),
        (error: Error) => error instanceof InvalidOptionError && message.test(error.message),
        `${JSON.stringify(schedules)} should fail with ${message}`,
      );
    }
    // Valid ones pass, 5 and 6 fields, nicknames, zones.
    createWorker(db.pool, {
      handlers: { x: () => {} },
      schedules: {
        a: { cron: '0 3 * * *', timezone: 'Europe/Oslo', jobType: 'x', payload: { kind: 'daily' } },
        b: { cron: '*/15 * * * * *', jobType: 'x', payload: null, queue: 'other', backfill: 60_000 },
        c: { cron: '@hourly', jobType: 'x', payload: [1, 2] },
      },
    });
  });

  it('enqueues each slot once, ahead of time and due at the slot, and the jobs run', async () => {
    const queue = newQueue();
    const log = recordingLogger();
    const ran: { slot: number; ranAt: number; payload: unknown }[] = [];
    const w = worker(
      queue,
      { tick: { cron: '* * * * * *', jobType: 'tick', payload: { kind: 'every second' } } },
      {
        log,
        handlers: {
          tick: (payload, ctx) => void ran.push({ slot: ctx.processAt.getTime(), ranAt: Date.now(), payload }),
        },
      },
    );
    const startedAt = await dbNow();
    await whileRunning(w, () => waitFor(() => ran.length >= 3, { what: 'three slots run', timeoutMs: 10_000 }));
    const slots = await slotsLogged([log], 'tick', 'tick');
    assertEverySecond(slots, 'one worker');
    assert.ok(slots[0]! > startedAt, 'a schedule seen for the first time starts at its next slot, not before');
    for (const job of ran) {
      assert.deepEqual(job.payload, { kind: 'every second' });
      assert.ok(job.ranAt >= job.slot - 50, `a slot's job waits for its time (ran ${job.ranAt - job.slot} ms after it)`);
    }
    const enqueued = log.events.filter((e) => e.event === 'schedule-enqueued');
    assert.ok(enqueued.length >= 3);
    assert.equal(enqueued[0]!.data['schedule'], 'tick');
    assert.equal(enqueued[0]!.data['queue'], queue, 'logged with the worker context');
    assert.equal(new Date(enqueued[0]!.data['slot'] as string).getTime(), slots[0]);

    const [listed, ...others] = await listSchedules(db.pool, { ...db.tables, nextRuns: 2 });
    assert.deepEqual(others, []);
    assert.equal(listed!.name, 'tick');
    assert.equal(listed!.cron, '* * * * * *');
    assert.equal(listed!.timezone, 'UTC');
    assert.equal(listed!.jobType, 'tick');
    assert.equal(listed!.queue, queue);
    assert.equal(listed!.lastSlot!.getTime(), slots.at(-1));
    assert.equal(listed!.nextRuns.length, 2);
    assert.equal(listed!.nextRuns[1]!.getTime() - listed!.nextRuns[0]!.getTime(), 1000);
    assert.ok(Math.abs(listed!.nextRuns[0]!.getTime() - Date.now()) < 2_000);
    await db.pool.query(`DELETE FROM "${db.schema}".job_schedules`);
  });

  it('sends the jobs to the schedule\'s queue when it names one', async () => {
    const queue = newQueue();
    const elsewhere = newQueue();
    const log = recordingLogger();
    const w = worker(queue, { away: { cron: '* * * * * *', jobType: 'away', payload: 1, queue: elsewhere } }, { log });
    await whileRunning(w, () => waitFor(() => enqueuedCount(log, 'away') >= 1, { what: 'a slot enqueued' }));
    const queues = await db.rows(`SELECT DISTINCT queue FROM "${db.schema}".job WHERE job_type = 'away'`);
    assert.deepEqual(queues, [{ queue: elsewhere }]);
  });

  it('two workers with the same schedule enqueue each slot once', async () => {
    const logA = recordingLogger();
    const logB = recordingLogger();
    const schedules: Schedules = { pair: { cron: '* * * * * *', jobType: 'pair', payload: {} } };
    const a = worker(newQueue(), schedules, { log: logA });
    const b = worker(newQueue(), schedules, { log: logB });
    await b.start();
    try {
      await whileRunning(a, () => waitFor(async () => (await slotsOf('pair')).length >= 4, { what: 'four slots' }));
    } finally {
      await b.stop();
    }
    const slots = await slotsLogged([logA, logB], 'pair', 'pair');
    assertEverySecond(slots, 'two workers');
  });

  it('without backfill, skips the slots missed while no worker ran', async () => {
    const queue = newQueue();
    const log = recordingLogger();
    const schedules: Schedules = { gap: { cron: '* * * * * *', jobType: 'gap', payload: {} } };
    await whileRunning(worker(queue, schedules, { log }), () =>
      waitFor(() => enqueuedCount(log, 'gap') >= 1, { what: 'a first slot' }),
    );
    // Downtime: the row says nothing was enqueued for the last minute.
    await db.pool.query(
      `UPDATE "${db.schema}".job_schedules SET enqueued_until = date_trunc('second', now()) - interval '60 seconds'
       WHERE name = 'gap'`,
    );
    await db.pool.query(`DELETE FROM "${db.schema}".job WHERE job_type = 'gap'`);
    const restartedAt = await dbNow();
    const again = recordingLogger();
    await whileRunning(worker(queue, schedules, { log: again }), () =>
      waitFor(() => enqueuedCount(again, 'gap') >= 2, { what: 'slots after the restart' }),
    );
    const slots = await slotsLogged([again], 'gap', 'gap');
    assert.ok(slots[0]! > restartedAt, `no missed slot is enqueued: first ${new Date(slots[0]!).toISOString()}`);
    assertEverySecond(slots, 'after downtime');
  });

  it('with backfill, enqueues the slots missed within the window once, then goes on', async () => {
    const queue = newQueue();
    const log = recordingLogger();
    const schedules: Schedules = { catchUp: { cron: '* * * * * *', jobType: 'catch-up', payload: {}, backfill: 5_000 } };
    await whileRunning(worker(queue, schedules, { log }), () =>
      waitFor(() => enqueuedCount(log, 'catchUp') >= 1, { what: 'a first slot' }),
    );
    await db.pool.query(
      `UPDATE "${db.schema}".job_schedules SET enqueued_until = date_trunc('second', now()) - interval '60 seconds'
       WHERE name = 'catchUp'`,
    );
    await db.pool.query(`DELETE FROM "${db.schema}".job WHERE job_type = 'catch-up'`);
    const restartedAt = await dbNow();
    const again = recordingLogger();
    await whileRunning(worker(queue, schedules, { log: again }), async () => {
      await waitFor(() => enqueuedCount(again, 'catchUp') >= 1, { what: 'the backfill' });
      const afterBackfill = (await slotsOf('catch-up')).length;
      // Then the schedule goes on, slot by slot.
      await waitFor(async () => (await slotsOf('catch-up')).length >= afterBackfill + 2, { what: 'slots after the backfill' });
    });
    const slots = await slotsLogged([again], 'catchUp', 'catch-up');
    assertEverySecond(slots, 'backfill');
    // The first round, a second or so after the start, backfills the 5 s before it: slots before the restart, none older.
    assert.ok(
      slots[0]! >= restartedAt - 5_000 && slots[0]! < restartedAt,
      `backfilled from 5 s before the first round: first slot ${slots[0]! - restartedAt} ms from the restart`,
    );
  });

  it('a changed expression takes over from the stored one, from its next slot on', async () => {
    const queue = newQueue();
    const first = recordingLogger();
    await whileRunning(
      worker(queue, { report: { cron: '0 3 * * *', jobType: 'report', payload: {} } }, { log: first }),
      () => waitFor(async () => (await listSchedules(db.pool, db.tables)).some((s) => s.name === 'report'), {
        what: 'the schedule stored',
      }),
    );
    const changed = recordingLogger();
    await whileRunning(
      worker(queue, { report: { cron: '*/2 * * * * *', timezone: 'Europe/Oslo', jobType: 'report', payload: {} } }, { log: changed }),
      () => waitFor(() => enqueuedCount(changed, 'report') >= 2, { what: 'slots of the new expression' }),
    );
    const reset = changed.events.find((e) => e.event === 'schedule-reset');
    assert.ok(reset, 'schedule-reset logged');
    assert.deepEqual(
      { cron: reset.data['cron'], timezone: reset.data['timezone'], previousCron: reset.data['previousCron'] },
      { cron: '*/2 * * * * *', timezone: 'Europe/Oslo', previousCron: '0 3 * * *' },
    );
    const slots = await slotsLogged([first, changed], 'report', 'report');
    for (let i = 1; i < slots.length; i++) assert.equal(slots[i]! - slots[i - 1]!, 2_000);
    const listed = (await listSchedules(db.pool, db.tables)).find((s) => s.name === 'report')!;
    assert.equal(listed.cron, '*/2 * * * * *');
    assert.equal(listed.timezone, 'Europe/Oslo');
  });

  it('a schedule removed from the code stops, while the others go on', async () => {
    const queue = newQueue();
    const log = recordingLogger();
    const both: Schedules = {
      kept: { cron: '* * * * * *', jobType: 'kept', payload: {} },
      removed: { cron: '* * * * * *', jobType: 'removed', payload: {} },
    };
    await whileRunning(worker(queue, both, { log }), () =>
      waitFor(() => enqueuedCount(log, 'removed') >= 1 && enqueuedCount(log, 'kept') >= 1, { what: 'both schedules' }),
    );
    const removedSlots = await slotsOf('removed');
    const later = recordingLogger();
    const { removed: _removed, ...withoutRemoved } = both;
    await whileRunning(worker(queue, withoutRemoved, { log: later }), () =>
      waitFor(() => enqueuedCount(later, 'kept') >= 3, { what: 'three more slots of the kept schedule' }),
    );
    assert.deepEqual(await slotsOf('removed'), removedSlots, 'nothing more of the removed schedule');
    const listed = await listSchedules(db.pool, db.tables);
    const removed = listed.find((s) => s.name === 'removed')!;
    const kept = listed.find((s) => s.name === 'kept')!;
    assert.equal(removed.lastSlot!.getTime(), removedSlots.at(-1), 'still listed, its last run falling behind');
    assert.ok(kept.lastSlot!.getTime() > removed.lastSlot!.getTime());
  });

  it('listSchedules checks its options and says when the schema is missing', async () => {
    await assert.rejects(listSchedules(db.pool, { ...db.tables, nextRuns: -1 }), /nextRuns must be a whole number ≥ 0/);
    await assert.rejects(
      listSchedules(db.pool, { ...db.tables, next: 3 } as never),
      /unknown listSchedules option "next"/,
    );
    await assert.rejects(listSchedules(db.pool, { schema: 'test_nothing_here' }), SchemaNotReadyError);
    assert.ok(Array.isArray(await listSchedules(db.pool, { ...db.tables, nextRuns: 0 })));
  });
});
