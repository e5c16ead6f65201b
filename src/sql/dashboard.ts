import { ARCHIVE_STATUSES } from '../archive-status.js';
import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';

// The dashboard's reads. Every list is paged by keyset — (time, job_id)
// after the last row shown — so a page costs the same on page 1 and page
// 10,000. Times travel as epoch microseconds in text: a JS Date keeps only
// milliseconds, and a cursor that lost the rest would skip or repeat rows.

/** A worker counts as online while its last heartbeat is younger than this. */
export const WORKER_ONLINE_SECONDS = 30;

/** States of jobs still in the job table; disjoint, in this order of precedence. */
export const LIVE_STATES = ['waiting', 'scheduled', 'running', 'retrying'] as const;
export type LiveState = (typeof LIVE_STATES)[number];

/** The archive's states, one per archive status (`success` reads as succeeded). */
export const ARCHIVE_STATE_OF_STATUS: Readonly<Record<string, string>> = { success: 'succeeded', failure: 'failed' };
export const ARCHIVED_STATES: readonly string[] = ARCHIVE_STATUSES.map((s) => ARCHIVE_STATE_OF_STATUS[s] ?? s);
export const STATUS_OF_ARCHIVED_STATE: Readonly<Record<string, string>> = Object.fromEntries(
  ARCHIVE_STATUSES.map((s) => [ARCHIVE_STATE_OF_STATUS[s] ?? s, s]),
);

const MICROS = (column: string) => `(extract(epoch FROM ${column}) * 1000000)::bigint::text`;
const FROM_MICROS = (param: string) => `(timestamptz 'epoch' + ${param}::bigint * interval '1 microsecond')`;

/**
 * Which jobs run now: those named by the heartbeats of online workers
 * (transaction mode marks nothing on the row; the worker knows), and leases
 * not yet run out.
 */
function runningIdsCte(t: Tables): string {
  return `running AS (
    SELECT DISTINCT unnest(running_jobs) AS job_id FROM ${t.workers}
    WHERE last_seen_at > now() - interval '${WORKER_ONLINE_SECONDS} seconds'
  )`;
}

/** The state of a row of the job table, as SQL over its columns and the running CTE. */
function liveStateSql(): string {
  return `CASE
    WHEN j.job_id IN (SELECT job_id FROM running) OR (j.locked_by IS NOT NULL AND j.process_at > now()) THEN 'running'
    WHEN j.attempts > 0 THEN 'retrying'
    WHEN j.process_at > now() THEN 'scheduled'
    ELSE 'waiting' END`;
}

export interface LiveCountRow {
  queue: string;
  state: LiveState;
  count: number;
  oldest_due_at: Date | null;
}

/** Jobs in the job table per queue and state, and each queue's oldest due job. One scan of the job table. */
export async function liveCounts(db: Queryable, t: Tables): Promise<LiveCountRow[]> {
  const { rows } = await db.query<LiveCountRow>(
    `WITH ${runningIdsCte(t)}
     SELECT queue, state, count(*)::int AS count,
            min(process_at) FILTER (WHERE state = 'waiting') AS oldest_due_at
     FROM (SELECT j.queue, j.process_at, ${liveStateSql()} AS state FROM ${t.job} j) s
     GROUP BY queue, state`,
  );
  return rows;
}

export interface FinishedBucketRow {
  queue: string;
  status: string;
  /** Bucket start, epoch milliseconds. */
  bucket_ms: string;
  count: number;
}

/**
 * Archived jobs per queue, status and time bucket over the last `windowSeconds`:
 * one range of the archive's finished-at index.
 */
export async function finishedBuckets(
  db: Queryable,
  t: Tables,
  windowSeconds: number,
  bucketSeconds: number,
): Promise<FinishedBucketRow[]> {
  const { rows } = await db.query<FinishedBucketRow>(
    `SELECT queue, status,
            (floor(extract(epoch FROM finished_at) / $2) * $2 * 1000)::bigint::text AS bucket_ms,
            count(*)::int AS count
     FROM ${t.archivedJob}
     WHERE finished_at > now() - $1 * interval '1 second'
     GROUP BY 1, 2, 3`,
    [windowSeconds, bucketSeconds],
  );
  return rows;
}

export interface JobListFilter {
  state: string;
  queue?: string | undefined;
  jobType?: string | undefined;
  /** Only jobs whose time (due time, or finish time for archived ones) is at or after / before these. */
  from?: Date | undefined;
  to?: Date | undefined;
  /** Text anywhere in the payload or the last error, case-insensitive. */
  text?: string | undefined;
}

/** A place in a list's order: a job's time (due time, or finish time for archived jobs) in epoch microseconds, and its id. */
export interface ListPosition {
  micros: string;
  jobId: string;
}

export interface JobListQuery extends JobListFilter {
  order: 'asc' | 'desc';
  /** The last row of the previous page: the list starts after it. */
  after?: ListPosition | undefined;
  /** The list ends at this row, itself included: the end of a stretch of the archive searched at a time. */
  through?: ListPosition | undefined;
  limit: number;
  /** Payload and error in full (for redaction) rather than their first characters. */
  full: boolean;
}

/** The columns every job the dashboard reads comes with, wherever it is. */
interface JobColumns {
  job_id: string;
  queue: string;
  job_type: string;
  priority: number;
  attempts: number;
  enqueued_at: Date;
  process_at: Date;
  finished_at: Date | null;
  unique_key: string | null;
  last_error: unknown;
}

/** A job of a list: its payload as (the start of its) text, and its place in the list's order. */
export interface JobListRow extends JobColumns {
  payload_text: string;
  sort_micros: string;
}

/** The fields of a listed job that every reader (the dashboard, the CLI) shows as they are, times as ISO text. */
export function listedJobFields(row: JobListRow, state: string) {
  return {
    id: row.job_id,
    queue: row.queue,
    jobType: row.job_type,
    state,
    priority: row.priority,
    attempts: row.attempts,
    enqueuedAt: row.enqueued_at.toISOString(),
    processAt: row.process_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    uniqueKey: row.unique_key,
  };
}

const PREVIEW_CHARS = 300;

/** Whether a filter asks more of the archive than a state and a time range: a queue, a job type or text. */
export function narrowsArchive(q: JobListFilter): boolean {
  return q.queue !== undefined || q.jobType !== undefined || q.text !== undefined;
}

interface FilterSql {
  /** The state and the time range: what the archive's indexes find jobs by, in order. */
  scope: string[];
  /** Queue, job type and text: checked on each job the scope yields. */
  match: string[];
  status: string | undefined;
  timeColumn: string;
}

/** The WHERE conditions of a filter, its parameters pushed on `values`; the archive's when `status` is set. */
function filterWhere(q: JobListFilter, values: unknown[]): FilterSql {
  const status = STATUS_OF_ARCHIVED_STATE[q.state];
  const param = (value: unknown) => `$${values.push(value)}`;
  const scope: string[] = [];
  const match: string[] = [];
  const timeColumn = status ? 'j.finished_at' : 'j.process_at';
  if (status) scope.push(`j.status = ${param(status)}`);
  else scope.push(`${liveStateSql()} = ${param(q.state)}`);
  if (q.from) scope.push(`${timeColumn} >= ${param(q.from)}`);
  if (q.to) scope.push(`${timeColumn} < ${param(q.to)}`);
  if (q.queue !== undefined) match.push(`j.queue = ${param(q.queue)}`);
  if (q.jobType !== undefined) match.push(`j.job_type = ${param(q.jobType)}`);
  if (q.text !== undefined) {
    const pattern = param(`%${q.text.replace(/[\\%_]/g, '\\$&')}%`);
    match.push(`(j.payload::text ILIKE ${pattern} OR j.last_error::text ILIKE ${pattern})`);
  }
  return { scope, match, status, timeColumn };
}

/** Conditions keeping the rows after `after` and up to `through` (included), in the order `order`. */
function rangeWhere(
  timeColumn: string,
  order: 'asc' | 'desc',
  after: ListPosition | undefined | null,
  through: ListPosition | undefined | null,
  values: unknown[],
): string[] {
  const param = (value: unknown) => `$${values.push(value)}`;
  const position = (p: ListPosition) => `(${FROM_MICROS(param(p.micros))}, ${param(p.jobId)}::uuid)`;
  const [beyond, upTo] = order === 'asc' ? ['>', '<='] : ['<', '>='];
  const where: string[] = [];
  if (after) where.push(`(${timeColumn}, j.job_id) ${beyond} ${position(after)}`);
  if (through) where.push(`(${timeColumn}, j.job_id) ${upTo} ${position(through)}`);
  return where;
}

/** One page of jobs in a state, in the order of its time column. */
export async function listJobs(db: Queryable, t: Tables, q: JobListQuery): Promise<JobListRow[]> {
  const values: unknown[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  const { scope, match, status, timeColumn } = filterWhere(q, values);
  const where = [...scope, ...match, ...rangeWhere(timeColumn, q.order, q.after, q.through, values)];
  const direction = q.order === 'asc' ? 'ASC' : 'DESC';
  const payload = q.full ? 'j.payload::text' : `left(j.payload::text, ${PREVIEW_CHARS})`;
  const error = q.full
    ? 'j.last_error'
    : `CASE WHEN j.last_error IS NULL THEN NULL ELSE jsonb_build_object('name', j.last_error->'name', 'message', left(j.last_error->>'message', ${PREVIEW_CHARS})) END`;
  const table = status ? t.archivedJob : t.job;
  // The page is chosen on the cheap columns first; payloads and errors are
  // turned into text for its rows only, not for every row the sort reads.
  const sql = `WITH ${runningIdsCte(t)}, page AS (
      SELECT j.job_id, ${timeColumn} AS sort_at
      FROM ${table} j
      WHERE ${where.join(' AND ')}
      ORDER BY ${timeColumn} ${direction}, j.job_id ${direction}
      LIMIT ${param(q.limit)}
    )
    SELECT j.job_id, j.queue, j.job_type, j.priority, j.attempts, j.enqueued_at, j.process_at,
           ${status ? 'j.finished_at' : 'NULL::timestamptz AS finished_at'}, j.unique_key,
           ${payload} AS payload_text, ${error} AS last_error, ${MICROS('page.sort_at')} AS sort_micros
    FROM page JOIN ${table} j ON j.job_id = page.job_id
    ORDER BY page.sort_at ${direction}, j.job_id ${direction}`;
  const { rows } = await db.query<JobListRow>(sql, values);
  return rows;
}

/**
 * The archived job `rows` jobs on from `after` (or from the start) in the
 * order `order`, among those of the filter's state and time range — its
 * queue, job type and text aside: where a stretch of the archive `rows` long
 * ends. Null when fewer jobs are left. Read on the archive's indexes alone.
 */
export async function archivePositionAfter(
  db: Queryable,
  t: Tables,
  q: JobListFilter,
  order: 'asc' | 'desc',
  after: ListPosition | undefined,
  rows: number,
): Promise<ListPosition | null> {
  const values: unknown[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  const { scope, timeColumn } = filterWhere({ state: q.state, from: q.from, to: q.to }, values);
  const where = [...scope, ...rangeWhere(timeColumn, order, after, null, values)];
  const direction = order === 'asc' ? 'ASC' : 'DESC';
  const { rows: found } = await db.query<{ micros: string; job_id: string }>(
    `SELECT ${MICROS(timeColumn)} AS micros, j.job_id
     FROM ${t.archivedJob} j
     WHERE ${where.join(' AND ')}
     ORDER BY ${timeColumn} ${direction}, j.job_id ${direction}
     OFFSET ${param(rows - 1)} LIMIT 1`,
    values,
  );
  const row = found[0];
  return row ? { micros: row.micros, jobId: row.job_id } : null;
}

/** How many jobs match a filter — between `after` and `through` (included) in the order `order`, when given: what a bulk action on it would touch. */
export async function countMatchingJobs(
  db: Queryable,
  t: Tables,
  q: JobListFilter,
  range: { order: 'asc' | 'desc'; after?: ListPosition | undefined; through?: ListPosition | null | undefined } = { order: 'asc' },
): Promise<number> {
  const values: unknown[] = [];
  const { scope, match, status, timeColumn } = filterWhere(q, values);
  const where = [...scope, ...match, ...rangeWhere(timeColumn, range.order, range.after, range.through, values)];
  const { rows } = await db.query<{ count: string }>(
    `WITH ${runningIdsCte(t)}
     SELECT count(*)::text AS count FROM ${status ? t.archivedJob : t.job} j WHERE ${where.join(' AND ')}`,
    values,
  );
  return Number(rows[0]?.count ?? 0);
}

/**
 * The ids of the jobs that match a filter, `limit` at a time, in the order
 * of the list, after the job `after` (a job id with its time): a bulk action
 * walks them by keyset, so rows it removes never shift the next batch.
 */
export async function matchingJobIds(
  db: Queryable,
  t: Tables,
  q: JobListFilter,
  after: ListPosition | null,
  limit: number,
): Promise<{ jobId: string; micros: string }[]> {
  const values: unknown[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  const { scope, match, status, timeColumn } = filterWhere(q, values);
  const where = [...scope, ...match, ...rangeWhere(timeColumn, 'asc', after, null, values)];
  const { rows } = await db.query<{ job_id: string; sort_micros: string }>(
    `WITH ${runningIdsCte(t)}
     SELECT j.job_id, ${MICROS(timeColumn)} AS sort_micros
     FROM ${status ? t.archivedJob : t.job} j
     WHERE ${where.join(' AND ')}
     ORDER BY ${timeColumn}, j.job_id
     LIMIT ${param(limit)}`,
    values,
  );
  return rows.map((row) => ({ jobId: row.job_id, micros: row.sort_micros }));
}

/** The queues paused now (`pauseQueue`), with or without jobs. */
export async function pausedQueues(db: Queryable, t: Tables): Promise<string[]> {
  const { rows } = await db.query<{ queue: string }>(`SELECT queue FROM ${t.queueStates} WHERE paused ORDER BY queue`);
  return rows.map((row) => row.queue);
}

/** One job as its page shows it. */
export interface FoundJobRow extends JobColumns {
  payload: unknown;
  /** The errors of earlier failed attempts, oldest first (a JSON array), or null. */
  error_history: unknown;
  state: string;
  locked_by: string | null;
  abandoned_runs: number | null;
}

/** One job, wherever it is: the job table first (it is the newer), then the archive. */
export async function findJob(db: Queryable, t: Tables, jobId: string): Promise<FoundJobRow | null> {
  const { rows } = await db.query<FoundJobRow>(
    `WITH ${runningIdsCte(t)}
     SELECT j.job_id, j.queue, j.job_type, j.priority, j.attempts, j.enqueued_at, j.process_at,
            NULL::timestamptz AS finished_at, j.unique_key, j.payload, j.last_error, j.error_history,
            ${liveStateSql()} AS state, j.locked_by, j.abandoned_runs
     FROM ${t.job} j WHERE j.job_id = $1
     UNION ALL
     SELECT a.job_id, a.queue, a.job_type, a.priority, a.attempts, a.enqueued_at, a.process_at,
            a.finished_at, a.unique_key, a.payload, a.last_error, a.error_history, a.status, NULL, NULL
     FROM ${t.archivedJob} a WHERE a.job_id = $1
     LIMIT 1`,
    [jobId],
  );
  const row = rows[0];
  if (!row) return null;
  if (row.finished_at) row.state = ARCHIVE_STATE_OF_STATUS[row.state] ?? row.state;
  return row;
}

export interface WorkerRow {
  instance_id: string;
  worker_id: string;
  queue: string;
  host: string;
  pid: number;
  concurrency: number;
  started_at: Date;
  last_seen_at: Date;
  jobs_done: string;
  running_jobs: string[];
}

/** Workers whose last heartbeat is recent; the others have vanished. */
export async function onlineWorkers(db: Queryable, t: Tables): Promise<WorkerRow[]> {
  const { rows } = await db.query<WorkerRow>(
    `SELECT instance_id, worker_id, queue, host, pid, concurrency, started_at, last_seen_at,
            jobs_done::text AS jobs_done, running_jobs::text[] AS running_jobs
     FROM ${t.workers}
     WHERE last_seen_at > now() - interval '${WORKER_ONLINE_SECONDS} seconds'
     ORDER BY queue, worker_id, started_at`,
  );
  return rows;
}

/** The distinct queues and job types seen, for the filters' choices: loose index scans would be nicer, but both tables are read by index. */
export async function knownNames(db: Queryable, t: Tables): Promise<{ queues: string[]; jobTypes: string[] }> {
  const { rows } = await db.query<{ queue: string; job_type: string }>(
    `SELECT DISTINCT queue, job_type FROM ${t.job}
     UNION
     SELECT DISTINCT queue, job_type FROM (
       SELECT queue, job_type FROM ${t.archivedJob} ORDER BY finished_at DESC LIMIT 10000
     ) recent`,
  );
  const queues = [...new Set(rows.map((r) => r.queue))].sort();
  const jobTypes = [...new Set(rows.map((r) => r.job_type))].sort();
  return { queues, jobTypes };
}
