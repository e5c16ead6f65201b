import type pg from 'pg';
import type { RetryableStatus } from '../archive-status.js';
import { InvalidOptionError } from '../errors.js';
import { retryJob, retryJobs } from '../job-control.js';
import { archivedBatchBoundary } from '../sql/job-control.js';
import { resolveTables, type TableOptions } from '../tables.js';
import { optionalWholeNumber } from './args.js';
import { flag, stringValue, tablesOf, type CommandSpec, type Values } from './command-line.js';
import { databaseTimeAgo } from './connect.js';
import { parseDuration } from './duration.js';
import { readable } from './jobs.js';
import { Progress } from './output.js';

export const RETRY: CommandSpec = {
  name: 'retry',
  summary: 'Retry a failed, cancelled or discarded job, or all of them',
  synopsis: '<id> | --failed [--cancelled] [--discarded] [options]',
  description:
    'Put a job archived as failure, cancelled or discarded back on its queue, due at once. With --failed ' +
    '(--cancelled, --discarded) instead of an id, every such job, narrowed by --queue, --type and --since, ' +
    'in batches that each commit on their own, with a progress line.',
  options: {
    failed: { type: 'boolean', help: 'Retry every job archived as failure' },
    cancelled: { type: 'boolean', help: 'Retry every job archived as cancelled' },
    discarded: { type: 'boolean', help: 'Retry every job archived as discarded' },
    queue: { type: 'string', value: '<name>', help: 'Only jobs of this queue' },
    type: { type: 'string', value: '<job type>', help: 'Only jobs of this job type' },
    since: { type: 'string', value: '<duration>', help: 'Only jobs that finished within this long ago (30d, 12h, ...)' },
    'batch-size': { type: 'string', value: '<n>', help: 'Jobs retried per batch (default: 1000)' },
  },
  connects: true,
};

export const DEFAULT_RETRY_BATCH = 1000;

export async function runRetry(client: pg.Client, positionals: readonly string[], values: Values): Promise<number> {
  const tables = tablesOf(values);
  const statuses = (['failed', 'cancelled', 'discarded'] as const)
    .filter((name) => flag(values, name))
    .map((name): RetryableStatus => (name === 'failed' ? 'failure' : name));
  if (positionals.length > 0) {
    if (statuses.length > 0) throw new InvalidOptionError('retry takes a job id or --failed (--cancelled, --discarded), not both');
    if (positionals.length !== 1) {
      throw new InvalidOptionError(`retry takes one job id, e.g. proletarian retry 0190b6c2-…; got ${positionals.length}`);
    }
    const jobId = positionals[0]!;
    if (!(await retryJob(client, jobId, tables))) {
      throw new InvalidOptionError(`no job ${jobId} is archived as failure, cancelled or discarded`);
    }
    process.stdout.write(`retried job ${jobId}\n`);
    return 0;
  }
  return retryAll(client, statuses, values, tables);
}

/** Checks `retry`'s flags before connecting. */
export function checkRetry(positionals: readonly string[], values: Values): void {
  const bulk = ['failed', 'cancelled', 'discarded'].some((name) => flag(values, name));
  if (positionals.length === 0 && !bulk) {
    throw new InvalidOptionError('retry needs a job id, or --failed, --cancelled or --discarded to retry all such jobs');
  }
  const since = stringValue(values, 'since');
  if (since !== undefined) parseDuration('--since', since);
  optionalWholeNumber('--batch-size', stringValue(values, 'batch-size'));
  resolveTables(tablesOf(values));
}

async function retryAll(client: pg.Client, statuses: RetryableStatus[], values: Values, options: TableOptions): Promise<number> {
  const queue = stringValue(values, 'queue') ?? null;
  const jobType = stringValue(values, 'type') ?? null;
  const since = stringValue(values, 'since');
  const batchSize = optionalWholeNumber('--batch-size', stringValue(values, 'batch-size')) ?? DEFAULT_RETRY_BATCH;
  const tables = resolveTables(options);
  // "Since" by the database's clock, like every other time here; and nothing
  // that fails again while this runs is retried twice: only jobs finished before it began.
  const finishedAfter = since === undefined ? null : await databaseTimeAgo(client, parseDuration('--since', since));
  const startedAt = await databaseTimeAgo(client, 0);
  const filter = { statuses, queue, jobType, finishedAfter, finishedBefore: startedAt };
  const progress = new Progress();
  let total: number | null = null;
  let retried = 0;
  let lower = finishedAfter;
  for (;;) {
    const found = await readable(tables, () =>
      archivedBatchBoundary(client, tables, { ...filter, finishedAfter: lower }, batchSize, total === null),
    );
    total ??= found.total;
    if (total === 0) break;
    // Up to the batch's last job (a millisecond on, as a Date keeps no microseconds), or all the rest.
    const upper = found.boundary === null ? startedAt : new Date(Math.min(found.boundary.getTime() + 1, startedAt.getTime()));
    if (lower !== null && upper.getTime() <= lower.getTime()) break;
    retried += await retryJobs(
      client,
      {
        status: statuses,
        ...(queue === null ? {} : { queue }),
        ...(jobType === null ? {} : { jobType }),
        ...(lower === null ? {} : { finishedAfter: lower }),
        finishedBefore: upper,
      },
      options,
    );
    progress.update('retried', retried, total);
    if (found.boundary === null) break;
    lower = upper;
  }
  progress.end();
  const which = [
    `archived as ${statuses.join(' or ')}`,
    ...(queue === null ? [] : [`on queue ${JSON.stringify(queue)}`]),
    ...(jobType === null ? [] : [`of type ${JSON.stringify(jobType)}`]),
    ...(finishedAfter ? [`finished since ${finishedAfter.toISOString()}`] : []),
  ].join(', ');
  process.stdout.write(`retried ${retried} job${retried === 1 ? '' : 's'} ${which}\n`);
  return 0;
}
