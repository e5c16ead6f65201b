import type pg from 'pg';
import { countFinished } from '../sql/stats.js';
import { queueStats, type JobTypeStats } from '../stats.js';
import { resolveTables, type TableOptions } from '../tables.js';
import { JSON_OPTION, flag, tablesOf, type CommandSpec, type Values } from './command-line.js';
import { readable } from './jobs.js';
import { formatTable, printJson } from './output.js';

export const STATS: CommandSpec = {
  name: 'stats',
  summary: 'Jobs per queue and type: queued, and finished lately',
  synopsis: '[options]',
  description:
    'Show the jobs per queue and job type: queued (due, scheduled, leased, retrying, cancelling, the oldest due ' +
    'one, whether the queue is paused) and archived (succeeded and failed in the last hour and the last day).',
  options: {
    watch: { type: 'boolean', short: 'w', help: 'Refresh every 2 seconds until Ctrl-C' },
    json: { ...JSON_OPTION['json']!, help: 'Print JSON (one document; with --watch, one line per refresh)' },
  },
  connects: true,
};

export const WATCH_INTERVAL_MS = 2000;

/** One line of `stats`: what is queued and what finished lately, of one job type on one queue. */
export interface StatsLine extends JobTypeStats {
  succeededLastHour: number;
  failedLastHour: number;
  succeededLastDay: number;
  failedLastDay: number;
}

export interface StatsPlan {
  readonly tables: TableOptions;
  readonly watch: boolean;
  readonly json: boolean;
}

export function planStats(values: Values): StatsPlan {
  resolveTables(tablesOf(values));
  return { tables: tablesOf(values), watch: flag(values, 'watch'), json: flag(values, 'json') };
}

export async function readStats(client: pg.Client, options: TableOptions): Promise<StatsLine[]> {
  const tables = resolveTables(options);
  const queued = await queueStats(client, options);
  const finished = await readable(tables, () => countFinished(client, tables));
  const lines = new Map<string, StatsLine>();
  const key = (queue: string, jobType: string) => JSON.stringify([queue, jobType]);
  for (const s of queued) {
    lines.set(key(s.queue, s.jobType), { ...s, succeededLastHour: 0, failedLastHour: 0, succeededLastDay: 0, failedLastDay: 0 });
  }
  for (const f of finished) {
    let line = lines.get(key(f.queue, f.job_type));
    if (!line) {
      line = {
        queue: f.queue,
        jobType: f.job_type,
        due: 0,
        scheduled: 0,
        leased: 0,
        retrying: 0,
        cancelling: 0,
        oldestDueAt: null,
        paused: false,
        succeededLastHour: 0,
        failedLastHour: 0,
        succeededLastDay: 0,
        failedLastDay: 0,
      };
      lines.set(key(f.queue, f.job_type), line);
    }
    line.succeededLastHour = f.succeeded_hour;
    line.failedLastHour = f.failed_hour;
    line.succeededLastDay = f.succeeded_day;
    line.failedLastDay = f.failed_day;
  }
  // A queue's pause applies to all its lines, also those with only archived jobs.
  const paused = new Set(queued.filter((s) => s.paused).map((s) => s.queue));
  for (const line of lines.values()) line.paused ||= paused.has(line.queue);
  return [...lines.values()].sort((a, b) => a.queue.localeCompare(b.queue) || a.jobType.localeCompare(b.jobType));
}

export function formatStats(lines: readonly StatsLine[]): string {
  if (lines.length === 0) return 'no queued jobs, and none finished in the last day\n';
  const header = [
    'queue', 'job type', 'due', 'scheduled', 'leased', 'retrying', 'cancelling', 'oldest due', 'paused',
    'succeeded 1h', 'failed 1h', 'succeeded 1d', 'failed 1d',
  ];
  return formatTable(
    header,
    lines.map((s) => [
      s.queue,
      s.jobType,
      String(s.due),
      String(s.scheduled),
      String(s.leased),
      String(s.retrying),
      String(s.cancelling),
      s.oldestDueAt ? s.oldestDueAt.toISOString() : '-',
      s.paused ? 'yes' : 'no',
      String(s.succeededLastHour),
      String(s.failedLastHour),
      String(s.succeededLastDay),
      String(s.failedLastDay),
    ]),
  );
}

export async function runStats(client: pg.Client, plan: StatsPlan): Promise<number> {
  if (!plan.watch) {
    const lines = await readStats(client, plan.tables);
    if (plan.json) printJson(lines);
    else process.stdout.write(formatStats(lines));
    return 0;
  }
  // --watch: until Ctrl-C or SIGTERM, which end it with exit code 0.
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const tty = process.stdout.isTTY === true;
  try {
    while (!controller.signal.aborted) {
      const lines = await readStats(client, plan.tables);
      if (controller.signal.aborted) break;
      if (plan.json) {
        process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), stats: lines })}\n`);
      } else {
        const heading = `proletarian stats, every ${WATCH_INTERVAL_MS / 1000} s (Ctrl-C to stop): ${new Date().toISOString()}\n`;
        // On a terminal the screen is redrawn in place; in a log each refresh follows the last.
        process.stdout.write(`${tty ? '\x1b[H\x1b[2J' : ''}${heading}${formatStats(lines)}${tty ? '' : '\n'}`);
      }
      await sleep(WATCH_INTERVAL_MS, controller.signal);
    }
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
