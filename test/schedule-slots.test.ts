import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidOptionError } from 'proletarian';

// When a schedule's slots fall, and what a round does with a schedule's row.
// Pure, so tested without a database. Internal, so loaded from the build.
type CronModule = typeof import('../dist/cron.js');
type PlanModule = typeof import('../dist/worker/schedule-plan.js');
type SchedulesModule = typeof import('../dist/schedules.js');
type ScheduleRow = import('../dist/worker/schedule-plan.js').ScheduleRow;

const { cronSlots } = (await import(new URL('../../dist/cron.js', import.meta.url).href)) as CronModule;
const { planSchedule, LOOKAHEAD_MS, MAX_SLOTS_PER_ROUND, ABANDONED_AFTER_MS } = (await import(
  new URL('../../dist/worker/schedule-plan.js', import.meta.url).href
)) as PlanModule;
const { resolveSchedules } = (await import(new URL('../../dist/schedules.js', import.meta.url).href)) as SchedulesModule;

const iso = (dates: readonly Date[]) => dates.map((d) => d.toISOString());
const at = (text: string) => new Date(text);

describe('cron slots', () => {
  it('reads 5 fields (minutes) and 6 (seconds first), in UTC by default', () => {
    const hourly = cronSlots('s', '0 * * * *');
    assert.equal(hourly.timezone, 'UTC');
    assert.deepEqual(iso(hourly.between(at('2025-01-01T00:00:00Z'), at('2025-01-01T03:00:00Z'), 10)), [
      '2025-01-01T01:00:00.000Z',
      '2025-01-01T02:00:00.000Z',
      '2025-01-01T03:00:00.000Z',
    ]);
    const everyTenSeconds = cronSlots('s', '*/10 * * * * *');
    assert.deepEqual(iso(everyTenSeconds.between(at('2025-01-01T00:00:05Z'), at('2025-01-01T00:00:30Z'), 10)), [
      '2025-01-01T00:00:10.000Z',
      '2025-01-01T00:00:20.000Z',
      '2025-01-01T00:00:30.000Z',
    ]);
  });

  it('counts slots strictly after the start, and at most the limit', () => {
    const everySecond = cronSlots('s', '* * * * * *');
    assert.equal(everySecond.next(at('2025-01-01T00:00:00.000Z'))!.toISOString(), '2025-01-01T00:00:01.000Z');
    assert.equal(everySecond.next(at('2025-01-01T00:00:00.500Z'))!.toISOString(), '2025-01-01T00:00:01.000Z');
    assert.equal(everySecond.between(at('2025-01-01T00:00:00Z'), at('2025-01-01T01:00:00Z'), 7).length, 7);
    assert.deepEqual(everySecond.between(at('2025-01-01T00:00:00Z'), at('2025-01-01T00:00:00.999Z'), 7), []);
  });

  it('reads the expression in its time zone', () => {
    const oslo = cronSlots('s', '0 3 * * *', 'Europe/Oslo');
    // 03:00 in Oslo is 02:00 UTC in winter, 01:00 UTC in summer.
    assert.equal(oslo.next(at('2025-01-15T12:00:00Z'))!.toISOString(), '2025-01-16T02:00:00.000Z');
    assert.equal(oslo.next(at('2025-07-15T12:00:00Z'))!.toISOString(), '2025-07-16T01:00:00.000Z');
  });

  describe('across DST in Europe/Oslo (spring forward 2025-03-30 02:00→03:00, fall back 2025-10-26 03:00→02:00)', () => {
    it('a fixed-time slot in the skipped hour runs once, right after the gap', () => {
      const slots = cronSlots('s', '30 2 * * *', 'Europe/Oslo');
      assert.deepEqual(iso(slots.between(at('2025-03-29T00:00:00Z'), at('2025-04-01T00:00:00Z'), 10)), [
        '2025-03-29T01:30:00.000Z', // 02:30 CET
        '2025-03-30T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST
        '2025-03-31T00:30:00.000Z', // 02:30 CEST
      ]);
    });

    it('a fixed-time slot in the repeated hour runs once, at its first occurrence', () => {
      const slots = cronSlots('s', '30 2 * * *', 'Europe/Oslo');
      assert.deepEqual(iso(slots.between(at('2025-10-25T00:00:00Z'), at('2025-10-28T00:00:00Z'), 10)), [
        '2025-10-25T00:30:00.000Z', // 02:30 CEST
        '2025-10-26T00:30:00.000Z', // the first 02:30 (CEST), not the second (01:30 UTC)
        '2025-10-27T01:30:00.000Z', // 02:30 CET
      ]);
    });

    it('an interval schedule keeps its pace in real time through both transitions', () => {
      const halfHourly = cronSlots('s', '*/30 * * * *', 'Europe/Oslo');
      // Spring: 02:00 and 02:30 local do not exist; real time goes 00:30 → 01:00 UTC (01:30 CET → 03:00 CEST).
      assert.deepEqual(iso(halfHourly.between(at('2025-03-30T00:00:00Z'), at('2025-03-30T02:00:00Z'), 10)), [
        '2025-03-30T00:30:00.000Z',
        '2025-03-30T01:00:00.000Z',
        '2025-03-30T01:30:00.000Z',
        '2025-03-30T02:00:00.000Z',
      ]);
      // Fall: the hour from 02:00 local runs twice, so every half hour of real time has its slot.
      const fall = halfHourly.between(at('2025-10-26T00:00:00Z'), at('2025-10-26T03:00:00Z'), 10);
      assert.deepEqual(iso(fall), [
        '2025-10-26T00:30:00.000Z', // 02:30 CEST
        '2025-10-26T01:00:00.000Z', // 02:00 CET, the hour again
        '2025-10-26T01:30:00.000Z', // 02:30 CET
        '2025-10-26T02:00:00.000Z',
        '2025-10-26T02:30:00.000Z',
        '2025-10-26T03:00:00.000Z',
      ]);
    });

    it('a daily slot outside the transition keeps its local time on both sides', () => {
      const slots = cronSlots('s', '0 12 * * *', 'Europe/Oslo');
      assert.deepEqual(iso(slots.between(at('2025-03-29T00:00:00Z'), at('2025-03-31T00:00:00Z'), 10)), [
        '2025-03-29T11:00:00.000Z',
        '2025-03-30T10:00:00.000Z',
      ]);
    });
  });

  it('refuses invalid expressions and zones, naming the option', () => {
    for (const [cron, timezone, message] of [
      ['* * * *', undefined, /s\.cron "\* \* \* \*" is invalid: .*five, six, or seven/],
      ['* * * * * * *', undefined, /s\.cron .* is invalid: .*5 or 6 parts/],
      ['61 * * * *', undefined, /s\.cron "61 \* \* \* \*" is invalid: Invalid value for minute: 61/],
      ['0 0 30 2 *', undefined, /s\.cron "0 0 30 2 \*" never matches a time from now on/],
      ['', undefined, /s\.cron must be a cron expression/],
      [42, undefined, /s\.cron must be a cron expression .*; got 42/],
      ['@reboot', undefined, /s\.cron "@reboot" is invalid/],
      ['* * * * *', 'Mars/Olympus', /s\.timezone must be an IANA time zone .*; got "Mars\/Olympus"/],
      ['* * * * *', '', /s\.timezone must be an IANA time zone/],
      ['* * * * *', 1, /s\.timezone must be an IANA time zone .*; got 1/],
    ] as const) {
      assert.throws(
        () => cronSlots('s', cron, timezone),
        (error: Error) => error instanceof InvalidOptionError && message.test(error.message),
        `${String(cron)} / ${String(timezone)}`,
      );
    }
  });
});

describe('a round\'s plan for a schedule', () => {
  const schedule = (cron: string, options: { backfill?: number; timezone?: string } = {}) =>
    resolveSchedules(
      { s: { cron, jobType: 'work', payload: {}, ...options } },
      'default',
    )[0]!;
  const now = at('2025-06-01T12:00:00.400Z');
  const longAgo = at('2025-01-01T00:00:00Z');
  const row = (cron: string, enqueuedUntil: string, extra: Partial<ScheduleRow> = {}): ScheduleRow => ({
    cron,
    timezone: 'UTC',
    enqueuedUntil: at(enqueuedUntil),
    definedAt: longAgo,
    ...extra,
  });

  it('a schedule seen for the first time starts at its next slot, creating its row', () => {
    const plan = planSchedule(schedule('* * * * * *'), null, now, now);
    assert.equal(plan.kind, 'advance');
    if (plan.kind !== 'advance') return;
    assert.equal(plan.expected, null);
    assert.equal(plan.reset, 'new');
    // The slots up to the lookahead, none before now.
    assert.deepEqual(iso(plan.slots), ['2025-06-01T12:00:01.000Z', '2025-06-01T12:00:02.000Z']);
    assert.equal(LOOKAHEAD_MS, 2_000);
    assert.equal(plan.enqueuedUntil.toISOString(), '2025-06-01T12:00:02.000Z');
  });

  it('a new schedule without a slot soon still gets its row, at now', () => {
    const plan = planSchedule(schedule('0 3 * * *'), null, now, now);
    assert.deepEqual(plan, { kind: 'advance', expected: null, enqueuedUntil: now, slots: [], reset: 'new' });
  });

  it('a new schedule with backfill enqueues the slots of that window', () => {
    const plan = planSchedule(schedule('*/30 * * * *', { backfill: 3_600_000 }), null, now, now);
    assert.equal(plan.kind, 'advance');
    if (plan.kind !== 'advance') return;
    assert.deepEqual(iso(plan.slots), ['2025-06-01T11:30:00.000Z', '2025-06-01T12:00:00.000Z']);
  });

  it('goes on from its row: each slot once, ahead of time', () => {
    const plan = planSchedule(schedule('* * * * * *'), row('* * * * * *', '2025-06-01T12:00:01Z'), now, longAgo);
    assert.deepEqual(plan.kind === 'advance' && iso(plan.slots), ['2025-06-01T12:00:02.000Z']);
    assert.deepEqual(plan.kind === 'advance' && plan.expected, at('2025-06-01T12:00:01Z'));
    assert.equal(plan.kind === 'advance' && plan.reset, null);
  });

  it('with nothing due before the next round, waits for its next slot and writes nothing', () => {
    const plan = planSchedule(schedule('0 3 * * *'), row('0 3 * * *', '2025-06-01T03:00:00Z'), now, longAgo);
    assert.deepEqual(plan, { kind: 'wait', nextSlot: at('2025-06-02T03:00:00Z') });
  });

  it('after downtime, without backfill, skips the missed slots', () => {
    const plan = planSchedule(schedule('*/5 * * * *'), row('*/5 * * * *', '2025-06-01T09:00:00Z'), now, longAgo);
    // 12:00:00 itself is before now; the next slot, 12:05, is beyond the lookahead.
    assert.deepEqual(plan, { kind: 'wait', nextSlot: at('2025-06-01T12:05:00Z') });
  });

  it('after downtime, with backfill, enqueues the missed slots within the window, once', () => {
    const s = schedule('*/5 * * * *', { backfill: 16 * 60_000 });
    const plan = planSchedule(s, row('*/5 * * * *', '2025-06-01T09:00:00Z'), now, longAgo);
    assert.equal(plan.kind, 'advance');
    if (plan.kind !== 'advance') return;
    assert.deepEqual(iso(plan.slots), [
      '2025-06-01T11:45:00.000Z',
      '2025-06-01T11:50:00.000Z',
      '2025-06-01T11:55:00.000Z',
      '2025-06-01T12:00:00.000Z',
    ]);
    assert.equal(plan.enqueuedUntil.toISOString(), '2025-06-01T12:00:00.000Z');
    // Once that commits, the next round has nothing to enqueue.
    const next = planSchedule(s, row('*/5 * * * *', '2025-06-01T12:00:00Z'), now, longAgo);
    assert.equal(next.kind, 'wait');
  });

  it('a long backfill is enqueued a bounded number of slots per round', () => {
    const s = schedule('* * * * * *', { backfill: 24 * 3_600_000 });
    const plan = planSchedule(s, row('* * * * * *', '2025-05-01T00:00:00Z'), now, longAgo);
    assert.equal(plan.kind === 'advance' && plan.slots.length, MAX_SLOTS_PER_ROUND);
    assert.equal(plan.kind === 'advance' && plan.enqueuedUntil.toISOString(), '2025-05-31T12:01:40.000Z');
  });

  it('a changed expression restarts at its next slot, without backfill, and rewrites the row', () => {
    const s = schedule('*/10 * * * * *', { backfill: 3_600_000 });
    const plan = planSchedule(s, row('0 3 * * *', '2025-06-01T03:00:00Z'), now, now);
    assert.equal(plan.kind, 'advance');
    if (plan.kind !== 'advance') return;
    assert.equal(plan.reset, 'changed');
    assert.deepEqual(plan.slots, []);
    assert.equal(plan.enqueuedUntil.getTime(), now.getTime());
    assert.deepEqual(plan.expected, at('2025-06-01T03:00:00Z'));
    // A changed time zone is a changed definition too.
    const moved = planSchedule(schedule('0 3 * * *', { timezone: 'Europe/Oslo' }), row('0 3 * * *', '2025-06-01T03:00:00Z'), now, now);
    assert.equal(moved.kind === 'advance' && moved.reset, 'changed');
  });

  it('a changed expression does not repeat slots already enqueued ahead', () => {
    const plan = planSchedule(schedule('*/2 * * * * *'), row('* * * * * *', '2025-06-01T12:00:02Z'), now, now);
    assert.deepEqual(plan.kind === 'advance' && iso(plan.slots), []);
    assert.equal(plan.kind === 'advance' && plan.enqueuedUntil.toISOString(), '2025-06-01T12:00:02.000Z');
  });

  it('leaves a definition written after this worker started to the newer deploy, unless nobody serves it', () => {
    const startedAt = at('2025-06-01T11:00:00Z');
    const newer = row('0 3 * * *', '2025-06-01T03:00:00Z', { definedAt: at('2025-06-01T11:30:00Z') });
    assert.deepEqual(planSchedule(schedule('0 4 * * *'), newer, now, startedAt), { kind: 'defer' });
    const unserved = row('*/10 * * * *', '2025-06-01T11:30:00Z', { definedAt: at('2025-06-01T11:30:00Z') });
    const overdue = new Date(at('2025-06-01T11:40:00Z').getTime() + ABANDONED_AFTER_MS + 1);
    const plan = planSchedule(schedule('0 4 * * *'), unserved, overdue, startedAt);
    assert.equal(plan.kind === 'advance' && plan.reset, 'changed');
  });
});
