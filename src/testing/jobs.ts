import { AssertionError } from 'node:assert';
import { inspect } from 'node:util';
import { validateName } from '../payload.js';
import { listQueuedJobs } from '../sql/testing.js';
import { resolveTables, type TableOptions } from '../tables.js';
import type { JobType, PayloadOf } from '../types.js';
import { requireTestDb, withClient, type TestDb } from './connection.js';

/** A job waiting in the job table (due, scheduled or retrying), as {@link listJobs} finds it. */
export interface EnqueuedJob<T extends string = string> {
  readonly jobId: string;
  readonly jobType: T;
  readonly queue: string;
  readonly payload: PayloadOf<T>;
  /** Failed attempts so far. */
  readonly attempts: number;
  readonly priority: number;
  readonly uniqueKey: string | null;
  readonly enqueuedAt: Date;
  readonly processAt: Date;
}

/** A partial payload: what a job's payload must contain (nested objects partially too). */
export type PayloadMatch<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: PayloadMatch<T[K]> } : T;

/** Options of {@link listJobs}. */
export interface ListJobsOptions<T extends JobType = JobType> extends TableOptions {
  jobType?: T;
  /** Only jobs of this queue; all queues by default. */
  queue?: string;
  /** Only jobs whose payload contains this (see {@link assertJobEnqueued}). */
  payload?: PayloadMatch<PayloadOf<T>>;
}

/**
 * The jobs in the job table, in claim order per queue, on `db`: with the
 * client of the test's transaction, jobs it enqueued and has not committed
 * are there too. Finished (archived) jobs are not listed.
 */
export async function listJobs<T extends JobType = JobType>(db: TestDb, options: ListJobsOptions<T> = {}): Promise<EnqueuedJob<T>[]> {
  requireTestDb(db, 'listJobs');
  const { jobType, queue, payload, ...tableOptions } = options;
  const tables = resolveTables(tableOptions);
  const rows = await withClient(db, (client) =>
    listQueuedJobs(
      client,
      tables,
      jobType === undefined ? null : validateName('job type', jobType),
      queue === undefined ? null : validateName('queue', queue),
    ),
  );
  const jobs = rows.map(
    (row): EnqueuedJob<T> => ({
      jobId: row.job_id,
      jobType: row.job_type as T,
      queue: row.queue,
      payload: row.payload as PayloadOf<T>,
      attempts: row.attempts,
      priority: row.priority,
      uniqueKey: row.unique_key,
      enqueuedAt: row.enqueued_at,
      processAt: row.process_at,
    }),
  );
  return payload === undefined ? jobs : jobs.filter((job) => mismatches(job.payload, payload).length === 0);
}

/** Options of {@link assertJobEnqueued}. */
export interface AssertJobOptions extends TableOptions {
  /** The job must be on this queue. */
  queue?: string;
}

/**
 * Resolves with the first job of `jobType` whose payload contains
 * `payload` — every property given, nested objects partially, arrays and
 * other values exactly; throws an `AssertionError` saying what differs in
 * each job of that type otherwise.
 */
export async function assertJobEnqueued<T extends JobType>(
  db: TestDb,
  jobType: T,
  payload?: PayloadMatch<PayloadOf<T>>,
  options: AssertJobOptions = {},
): Promise<EnqueuedJob<T>> {
  const candidates = await listJobs<T>(db, { ...options, jobType });
  const expected = payload === undefined ? undefined : (payload as unknown);
  const differences = candidates.map((job) => (expected === undefined ? [] : mismatches(job.payload, expected)));
  const found = candidates.find((_, i) => differences[i]!.length === 0);
  if (found) return found;
  const where = options.queue === undefined ? '' : ` on queue ${JSON.stringify(options.queue)}`;
  const wanted = expected === undefined ? '' : ` with a payload matching ${show(expected)}`;
  const lines = [`expected a job of type ${JSON.stringify(jobType)}${where}${wanted}; `];
  if (candidates.length === 0) {
    const others = await listJobs(db, { ...tableOptionsOf(options), ...(options.queue === undefined ? {} : { queue: options.queue }) });
    lines[0] += `found none of that type${others.length > 0 ? `; enqueued: ${summary(others)}` : ' (no job is enqueued)'}`;
  } else {
    lines[0] += `found ${candidates.length} of that type, none matching:`;
    candidates.forEach((job, i) => {
      lines.push(`  job ${job.jobId} (queue ${JSON.stringify(job.queue)}):`);
      for (const difference of differences[i]!) lines.push(`    ${difference}`);
    });
  }
  throw new AssertionError({ message: lines.join('\n'), actual: candidates.map((job) => job.payload), expected, operator: 'assertJobEnqueued' });
}

/** Throws an `AssertionError` if a job of `jobType` (with a payload containing `payload`, when given) is enqueued. */
export async function assertNoJobEnqueued<T extends JobType>(
  db: TestDb,
  jobType: T,
  payload?: PayloadMatch<PayloadOf<T>>,
  options: AssertJobOptions = {},
): Promise<void> {
  const found = await listJobs<T>(db, { ...options, jobType, ...(payload === undefined ? {} : { payload }) });
  if (found.length === 0) return;
  throw new AssertionError({
    message: `expected no job of type ${JSON.stringify(jobType)}${payload === undefined ? '' : ` with a payload matching ${show(payload)}`}; found ${summary(found)}`,
    actual: found.map((job) => job.payload),
    expected: [],
    operator: 'assertNoJobEnqueued',
  });
}

function tableOptionsOf(options: TableOptions): TableOptions {
  const { schema, jobTable, archivedJobTable } = options;
  return {
    ...(schema === undefined ? {} : { schema }),
    ...(jobTable === undefined ? {} : { jobTable }),
    ...(archivedJobTable === undefined ? {} : { archivedJobTable }),
  };
}

function summary(jobs: readonly EnqueuedJob[]): string {
  const shown = jobs.slice(0, 10).map((job) => `${job.jobType} ${show(job.payload)}`);
  return shown.join(', ') + (jobs.length > shown.length ? `, and ${jobs.length - shown.length} more` : '');
}

function show(value: unknown): string {
  return inspect(value, { depth: 6, breakLength: Infinity, compact: true });
}

/**
 * Where `actual` differs from `expected`, as `payload.path: expected …, got …`
 * lines: objects partially (only the properties `expected` names), anything
 * else — arrays included — exactly, as JSON compares it.
 */
function mismatches(actual: unknown, expected: unknown, path = 'payload'): string[] {
  if (isPlainObject(expected)) {
    if (!isPlainObject(actual)) return [`${path}: expected an object matching ${show(expected)}, got ${show(actual)}`];
    return Object.entries(expected).flatMap(([key, value]) =>
      value === undefined
        ? []
        : key in actual
          ? mismatches(actual[key], value, `${path}.${key}`)
          : [`${path}.${key}: expected ${show(value)}, missing`],
    );
  }
  // A Date in the expectation matches the ISO string the payload stored.
  const wanted = JSON.stringify(expected);
  return JSON.stringify(actual) === wanted ? [] : [`${path}: expected ${show(expected)}, got ${show(actual)}`];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
