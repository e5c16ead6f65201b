import type pg from 'pg';
import { ALL_STATES as ALL_STATES_IN_ORDER, DashboardData, isJobId } from '../dashboard/api.js';
import type { JobDetail, StoredError } from '../dashboard/api-types.js';
import { SchemaNotReadyError, InvalidOptionError } from '../errors.js';
import { listedJobFields, listJobs, STATUS_OF_ARCHIVED_STATE, type JobListRow } from '../sql/dashboard.js';
import { isUndefinedTableOrSchema } from '../sql/migrations.js';
import { resolveTables, type Tables } from '../tables.js';
import { optionalWholeNumber } from './args.js';
import { JSON_OPTION, flag, stringValue, tablesOf, type CommandSpec, type Values } from './command-line.js';
import { databaseTimeAgo } from './connect.js';
import { parseDuration } from './duration.js';
import { printJson, printTable } from './output.js';

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 1000;

export const JOBS_LIST: CommandSpec = {
  name: 'jobs list',
  summary: 'List jobs by state, queue, type and time',
  synopsis: '[options]',
  description:
    'List the jobs in one state, a page at a time: waiting, scheduled, running and retrying jobs by due time, ' +
    'oldest first; succeeded, failed, cancelled and discarded ones (the archive) by finish time, newest first. ' +
    'When there are more, the last line gives the --after to pass for the next page.',
  options: {
    state: {
      type: 'string',
      value: '<state>',
      help: `${ALL_STATES_IN_ORDER.join(', ')} (default: waiting)`,
    },
    queue: { type: 'string', value: '<name>', help: 'Only jobs of this queue' },
    type: { type: 'string', value: '<job type>', help: 'Only jobs of this job type' },
    since: {
      type: 'string',
      value: '<duration>',
      help: 'Only jobs due (archived: finished) within this long ago: 30d, 12h, 90m, 45s',
    },
    until: { type: 'string', value: '<duration>', help: 'Only jobs due (archived: finished) longer than this ago' },
    limit: { type: 'string', value: '<n>', help: `Jobs per page (default: ${DEFAULT_LIMIT}, at most ${MAX_LIMIT})` },
    after: { type: 'string', value: '<cursor>', help: 'Start after this cursor, as the previous page printed it' },
    ...JSON_OPTION,
  },
  connects: true,
};

export const JOBS_SHOW: CommandSpec = {
  name: 'jobs show',
  summary: 'Show one job: payload, attempts, last error',
  synopsis: '<id> [options]',
  description:
    'Show one job, queued or archived: its state, queue, type, priority, attempts, unique key, times, ' +
    'its whole payload and its last error with the stack.',
  options: { ...JSON_OPTION },
  connects: true,
};

/** What `jobs list` will read, checked before connecting. */
export interface ListPlan {
  readonly tables: Tables;
  readonly state: string;
  readonly queue: string | undefined;
  readonly jobType: string | undefined;
  readonly sinceMs: number | undefined;
  readonly untilMs: number | undefined;
  readonly limit: number;
  readonly after: { micros: string; jobId: string } | undefined;
  readonly json: boolean;
}

export function planList(values: Values): ListPlan {
  const state = stringValue(values, 'state') ?? 'waiting';
  if (!ALL_STATES_IN_ORDER.includes(state)) {
    throw new InvalidOptionError(`--state must be one of ${ALL_STATES_IN_ORDER.join(', ')}; got ${JSON.stringify(state)}`);
  }
  const limit = optionalWholeNumber('--limit', stringValue(values, 'limit')) ?? DEFAULT_LIMIT;
  if (limit > MAX_LIMIT) throw new InvalidOptionError(`--limit must be at most ${MAX_LIMIT}; got ${limit}`);
  const since = stringValue(values, 'since');
  const until = stringValue(values, 'until');
  const sinceMs = since === undefined ? undefined : parseDuration('--since', since);
  const untilMs = until === undefined ? undefined : parseDuration('--until', until);
  if (sinceMs !== undefined && untilMs !== undefined && untilMs >= sinceMs) {
    throw new InvalidOptionError(`--until must be shorter than --since (it is the later end); got --since ${since} --until ${until}`);
  }
  const cursor = stringValue(values, 'after');
  let after: ListPlan['after'];
  if (cursor !== undefined) {
    const match = /^(-?\d{1,19})_([0-9a-f-]{36})$/i.exec(cursor);
    if (!match || !isJobId(match[2]!)) {
      throw new InvalidOptionError(`--after must be a cursor as a previous page printed it; got ${JSON.stringify(cursor)}`);
    }
    after = { micros: match[1]!, jobId: match[2]! };
  }
  return {
    tables: resolveTables(tablesOf(values)),
    state,
    queue: stringValue(values, 'queue'),
    jobType: stringValue(values, 'type'),
    sinceMs,
    untilMs,
    limit,
    after,
    json: flag(values, 'json'),
  };
}

/** One job of a page, as `--json` prints it. */
export interface ListedJob {
  id: string;
  queue: string;
  jobType: string;
  state: string;
  priority: number;
  attempts: number;
  enqueuedAt: string;
  processAt: string;
  finishedAt: string | null;
  uniqueKey: string | null;
  payload: unknown;
  lastError: StoredError | null;
}

export async function runList(client: pg.Client, plan: ListPlan): Promise<number> {
  const from = plan.sinceMs === undefined ? undefined : await databaseTimeAgo(client, plan.sinceMs);
  const to = plan.untilMs === undefined ? undefined : await databaseTimeAgo(client, plan.untilMs);
  const archived = STATUS_OF_ARCHIVED_STATE[plan.state] !== undefined;
  const rows = await readable(plan.tables, () =>
    listJobs(client, plan.tables, {
      state: plan.state,
      queue: plan.queue,
      jobType: plan.jobType,
      from,
      to,
      order: archived ? 'desc' : 'asc',
      after: plan.after,
      limit: plan.limit + 1,
      full: true,
    }),
  );
  const page = rows.slice(0, plan.limit);
  const last = page[page.length - 1];
  const next = rows.length > plan.limit && last ? `${last.sort_micros}_${last.job_id}` : null;
  const jobs = page.map((row) => listed(row, plan.state));
  if (plan.json) {
    printJson({ state: plan.state, jobs, next });
    return 0;
  }
  if (jobs.length === 0) {
    process.stdout.write(`no ${plan.state} jobs${plan.after ? ' after that cursor' : ''}\n`);
    return 0;
  }
  const header = ['id', 'queue', 'job type', 'priority', 'attempts', archived ? 'finished' : 'due', 'payload', 'last error'];
  printTable(
    header,
    jobs.map((job) => [
      job.id,
      job.queue,
      job.jobType,
      String(job.priority),
      String(job.attempts),
      (archived ? job.finishedAt : job.processAt) ?? '-',
      cut(JSON.stringify(job.payload) ?? '', 40),
      job.lastError ? cut(`${job.lastError.name ?? 'Error'}: ${job.lastError.message ?? ''}`, 60) : '-',
    ]),
  );
  if (next !== null) process.stdout.write(`more: add --after ${next}\n`);
  return 0;
}

export function planShow(positionals: readonly string[], values: Values): { tables: Tables; jobId: string; json: boolean } {
  if (positionals.length !== 1) {
    throw new InvalidOptionError(`jobs show takes one job id, e.g. proletarian jobs show 0190b6c2-…; got ${positionals.length}`);
  }
  const jobId = positionals[0]!;
  if (!isJobId(jobId)) throw new InvalidOptionError(`jobs show: ${JSON.stringify(jobId)} is not a job id (a UUID)`);
  return { tables: resolveTables(tablesOf(values)), jobId, json: flag(values, 'json') };
}

export async function runShow(client: pg.Client, plan: { tables: Tables; jobId: string; json: boolean }): Promise<number> {
  const job = await readable(plan.tables, () => new DashboardData(client, plan.tables, null).job(plan.jobId));
  if (job === null) throw new InvalidOptionError(`no job ${plan.jobId}`);
  if (plan.json) {
    printJson(job);
    return 0;
  }
  process.stdout.write(describeJob(job));
  return 0;
}

function describeJob(job: JobDetail): string {
  const fields: [string, string][] = [
    ['id', job.id],
    ['state', job.state],
    ['queue', job.queue],
    ['job type', job.jobType],
    ['priority', String(job.priority)],
    ['attempts', String(job.attempts)],
    ['abandoned runs', job.abandonedRuns === null ? '-' : String(job.abandonedRuns)],
    ['unique key', job.uniqueKey ?? '-'],
    ['enqueued at', job.enqueuedAt],
    [job.finishedAt ? 'last due at' : 'due at', job.processAt],
    ['finished at', job.finishedAt ?? '-'],
    ['locked by', job.lockedBy ?? '-'],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  const lines = fields.map(([name, value]) => `${name.padEnd(width)}  ${value}`);
  lines.push('payload:', indent(JSON.stringify(job.payload, null, 2) ?? 'null'));
  const error = job.lastError;
  if (error === null) {
    lines.push('last error: none');
  } else {
    const attempt = error.attempt === undefined ? '' : ` (attempt ${error.attempt})`;
    lines.push(`last error${attempt}:`);
    lines.push(indent(error.stack ?? `${error.name ?? 'Error'}: ${error.message ?? ''}`));
  }
  const earlier = job.errors.slice(0, -1);
  if (earlier.length > 0) {
    lines.push('earlier failed attempts:');
    for (const failed of earlier) {
      const when = failed.failedAt === undefined ? '' : ` at ${failed.failedAt}`;
      lines.push(indent(`attempt ${failed.attempt ?? '?'}${when}: ${failed.name ?? 'Error'}: ${failed.message ?? ''}`));
    }
  }
  return `${lines.join('\n')}\n`;
}

function listed(row: JobListRow, state: string): ListedJob {
  return {
    ...listedJobFields(row, state),
    payload: JSON.parse(row.payload_text) as unknown,
    lastError: (row.last_error as StoredError | null) ?? null,
  };
}

function cut(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** A read that turns "no such table" into the advice to migrate. */
export async function readable<T>(tables: Tables, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (isUndefinedTableOrSchema(error)) {
      throw new SchemaNotReadyError(
        `cannot read jobs: the table ${tables.job} or ${tables.archivedJob} does not exist; run \`npx proletarian migrate\` first`,
        { cause: error },
      );
    }
    throw error;
  }
}
