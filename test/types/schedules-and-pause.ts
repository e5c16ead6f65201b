// Compiled, never run: the README's examples of recurring jobs and pausing a
// queue, as written there, and the compiler's checks of schedules once
// JobPayloads is declared. Each @ts-expect-error must fail to compile.
import type pg from 'pg';
import {
  createWorker,
  listSchedules,
  pauseQueue,
  resumeQueue,
  type ScheduleInfo,
  type Schedules,
} from 'proletarian';

declare const pool: pg.Pool;
declare const client: pg.PoolClient;

// README: Recurring jobs.
declare module 'proletarian' {
  interface JobPayloads {
    report: { period: 'day' | 'week' };
    'expire-sessions': null;
  }
}

export const worker = createWorker(pool, {
  handlers: {
    report: async ({ period }, ctx) => {
      await ctx.db.query('INSERT INTO reports (period, due_at) VALUES ($1, $2)', [period, ctx.processAt]);
    },
    'expire-sessions': async (_payload, ctx) => {
      await ctx.db.query('DELETE FROM sessions WHERE expires_at < now()');
    },
  },
  schedules: {
    // 03:00 in Oslo, summer and winter alike.
    'nightly-report': { cron: '0 3 * * *', timezone: 'Europe/Oslo', jobType: 'report', payload: { period: 'day' } },
    // Mondays at 06:00; if no worker ran then, still enqueued when one starts within two days.
    'weekly-report': {
      cron: '0 6 * * MON',
      timezone: 'Europe/Oslo',
      jobType: 'report',
      payload: { period: 'week' },
      backfill: 2 * 24 * 3600_000,
    },
    // Every 30 seconds: a sixth field, for seconds, comes first.
    'expire-sessions': { cron: '*/30 * * * * *', jobType: 'expire-sessions', payload: null },
  },
});

export async function pausing(): Promise<void> {
  // README: Pausing a queue.
  await pauseQueue(pool, 'emails');
  // ... the mail provider is back:
  await resumeQueue(pool, 'emails');

  // In the caller's transaction, with table options.
  const changed: boolean = await pauseQueue(client, 'emails', { schema: 'jobs' });
  void changed;
  // @ts-expect-error the queue is a name
  await pauseQueue(pool, 1);
}

export async function listing(): Promise<void> {
  const schedules: ScheduleInfo[] = await listSchedules(pool, { nextRuns: 5 });
  const next: Date | undefined = schedules[0]?.nextRuns[0];
  const last: Date | null | undefined = schedules[0]?.lastSlot;
  void next;
  void last;
}

export const checked: Schedules = {
  // @ts-expect-error the payload of another job type
  wrongPayload: { cron: '* * * * *', jobType: 'report', payload: null },
  // @ts-expect-error an undeclared job type
  unknownType: { cron: '* * * * *', jobType: 'no-such-job', payload: {} },
  // @ts-expect-error cron is required
  noCron: { jobType: 'expire-sessions', payload: null },
  priority: { cron: '* * * * *', jobType: 'expire-sessions', payload: null, priority: -10 },
};
