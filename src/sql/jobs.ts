import type pg from 'pg';
import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';

// All SQL that reads or writes the job and archived-job tables lives here.
// Statement texts are built once per set of tables.

/** A job row as claimed from the job table. */
export interface JobRow {
  job_id: string;
  queue: string;
  job_type: string;
  payload: unknown;
  attempts: number;
  enqueued_at: Date;
  process_at: Date;
}

/** What is stored about a failed attempt, in `last_error`. */
export interface StoredError {
  name: string;
  message: string;
  stack?: string;
  attempt: number;
}

/** A job to insert; `processAt`/`processIn` as given by the caller (validated). */
export interface NewJob {
  jobId: string;
  queue: string;
  jobType: string;
  payloadJson: string;
  processAt: Date | null;
  processIn: number | null;
}

interface JobStatements {
  insertOne: string;
  insertMany: string;
  archiveAs: string;
  scheduleRetry: string;
}

const statementCache = new WeakMap<Tables, JobStatements>();

// A time in the past means "now"; processAt wins over processIn. Computed by the
// database so that app servers with skewed clocks agree on what "due" means.
const PROCESS_AT = (processAt: string, processIn: string) =>
  `GREATEST(statement_timestamp(), COALESCE(${processAt}, statement_timestamp() + ${processIn} * interval '1 millisecond'))`;

const ARCHIVED_COLUMNS =
  'job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at, last_error';

function statements(t: Tables): JobStatements {
  let cached = statementCache.get(t);
  if (!cached) {
    cached = {
      insertOne: `INSERT INTO ${t.job} (job_id, queue, job_type, payload, enqueued_at, process_at)
        VALUES ($1, $2, $3, $4::jsonb, statement_timestamp(), ${PROCESS_AT('$5::timestamptz', '$6::float8')})`,
      // One statement for any number of jobs: arrays in, rows out, in order.
      insertMany: `INSERT INTO ${t.job} (job_id, queue, job_type, payload, enqueued_at, process_at)
        SELECT id, queue, job_type, payload::jsonb, statement_timestamp(), ${PROCESS_AT('process_at', 'process_in')}
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[])
          AS new_job (id, queue, job_type, payload, process_at, process_in)`,
      // Archive and delete in one statement: one round trip, and no window in
      // which the job exists in both tables or in neither.
      archiveAs: `WITH finished AS (DELETE FROM ${t.job} WHERE job_id = $1 RETURNING *)
        INSERT INTO ${t.archivedJob} (${ARCHIVED_COLUMNS})
        SELECT job_id, queue, job_type, payload, attempts + 1, enqueued_at, process_at, $2, clock_timestamp(),
               COALESCE($3::jsonb, last_error)
        FROM finished`,
      // The delay counts from the failure, hence clock_timestamp(), not the
      // transaction's start time.
      scheduleRetry: `UPDATE ${t.job}
        SET attempts = attempts + 1, process_at = clock_timestamp() + $2::float8 * interval '1 millisecond',
            last_error = $3::jsonb
        WHERE job_id = $1`,
    };
    statementCache.set(t, cached);
  }
  return cached;
}

/** Inserts one job on the caller's connection (inside the caller's transaction, if any). */
export async function insertJob(db: Queryable, t: Tables, job: NewJob): Promise<void> {
  await db.query(statements(t).insertOne, [
    job.jobId,
    job.queue,
    job.jobType,
    job.payloadJson,
    job.processAt,
    job.processIn,
  ]);
}

/** Inserts many jobs in one statement. */
export async function insertJobs(db: Queryable, t: Tables, jobs: readonly NewJob[]): Promise<void> {
  await db.query(statements(t).insertMany, [
    jobs.map((job) => job.jobId),
    jobs.map((job) => job.queue),
    jobs.map((job) => job.jobType),
    jobs.map((job) => job.payloadJson),
    jobs.map((job) => job.processAt),
    jobs.map((job) => job.processIn),
  ]);
}

/**
 * The claim statement of a worker: the oldest due job of its queue, among the
 * job types it can handle (all, when `jobTypes` is null), locked for the rest
 * of the transaction. SKIP LOCKED lets any number of workers share a queue:
 * each sees only jobs nobody else holds, and a dead worker's lock vanishes
 * with its connection.
 */
export function claimStatement(t: Tables, filterByType: boolean): string {
  return `SELECT job_id, queue, job_type, payload, attempts, enqueued_at, process_at
    FROM ${t.job}
    WHERE queue = $1 AND process_at <= now()${filterByType ? ' AND job_type = ANY($2::text[])' : ''}
    ORDER BY process_at, job_id
    LIMIT 1
    FOR UPDATE SKIP LOCKED`;
}

/** Claims the next due job, or returns null when there is none. */
export async function claimNextJob(
  client: pg.ClientBase,
  claimSql: string,
  queue: string,
  jobTypes: readonly string[] | null,
): Promise<JobRow | null> {
  const result = await client.query<JobRow>(claimSql, jobTypes ? [queue, jobTypes] : [queue]);
  return result.rows[0] ?? null;
}

/** Moves a job to the archive as `success` or `failure`, in one statement. */
export async function archiveJob(
  client: pg.ClientBase,
  t: Tables,
  jobId: string,
  status: 'success' | 'failure',
  error: StoredError | null,
): Promise<void> {
  await client.query(statements(t).archiveAs, [jobId, status, error ? storedErrorJson(error) : null]);
}

/** Records a failed attempt and makes the job due again after `delayMs`. */
export async function scheduleRetry(
  client: pg.ClientBase,
  t: Tables,
  jobId: string,
  delayMs: number,
  error: StoredError,
): Promise<void> {
  await client.query(statements(t).scheduleRetry, [jobId, delayMs, storedErrorJson(error)]);
}

const MAX_STACK_LENGTH = 8_000;

function storedErrorJson(error: StoredError): string {
  // jsonb cannot hold NUL characters; an error message is no place to lose a job over.
  const clean = (text: string) => text.replaceAll('\u0000', '\\u0000');
  return JSON.stringify({
    name: clean(error.name),
    message: clean(error.message),
    stack: error.stack === undefined ? undefined : clean(error.stack.slice(0, MAX_STACK_LENGTH)),
    attempt: error.attempt,
  });
}
