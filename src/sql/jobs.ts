import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ARCHIVE_STATUSES_SQL, type ArchiveStatus } from '../archive-status.js';
import { toStorableText } from '../payload.js';
import { queryAfter } from './round-trip.js';
import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';

// All SQL that changes the job and archived-job tables lives here. Statement
// texts are built once per set of tables.

/** A job row as claimed from the job table; the payload as JSON text, decoded by the worker. */
export interface JobRow {
  job_id: string;
  queue: string;
  job_type: string;
  payload: string;
  /**
   * Runs that ended in a recorded failure, in either mode: a handler's
   * `attempt` is `attempts + 1`. Not runs started: a transaction-mode run
   * that dies rolls back with its transaction and leaves no trace here (the
   * claim sees it and counts it in `abandoned_runs`), and lease mode counts
   * alike. In the archive, `attempts` counts the run that ended the job too.
   */
  attempts: number;
  enqueued_at: Date;
  process_at: Date;
}

/** What is stored about a failed attempt, in `last_error`. */
export interface StoredError {
  name: string;
  message: string;
  stack?: string | undefined;
  attempt: number;
}

/** What is stored about `error`, the failure of attempt `attempt`. */
export function storedErrorOf(error: Error, attempt: number): StoredError {
  return { name: error.name, message: error.message, stack: error.stack, attempt };
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

/** How a claimed job's run ended, as recorded by {@link completeJobs}. */
export type Completion =
  | { jobId: string; status: Extract<ArchiveStatus, 'success' | 'cancelled'> }
  | { jobId: string; status: Extract<ArchiveStatus, 'failure' | 'discarded'>; error: StoredError }
  | { jobId: string; status: 'retry'; delayMs: number; error: StoredError }
  /** Due again after `delayMs`, no attempt counted, `last_error` unchanged: its handler snoozed it. */
  | { jobId: string; status: 'snooze'; delayMs: number }
  /**
   * Not run: its last claim (transaction `abortedClaim`) died, with its
   * worker or only with its connection; the job keeps that claim for a later
   * verdict, and is due again after `delayMs` (null: at once). `crashes`
   * (0 or 1) counts the verdict on the claim kept before.
   */
  | { jobId: string; status: 'claim-died'; abortedClaim: string; crashes: number; delayMs: number | null };

interface JobStatements {
  insertOne: pg.QueryConfig;
  insertMany: pg.QueryConfig;
  complete: pg.QueryConfig;
  completeSuccesses: pg.QueryConfig;
  notifyChannel: string;
}

const statementCache = new WeakMap<Tables, JobStatements>();

// A time in the past means "now"; processAt wins over processIn. Computed by the
// database so that app servers with skewed clocks agree on what "due" means.
const PROCESS_AT = (processAt: string, processIn: string) =>
  `GREATEST(statement_timestamp(), COALESCE(${processAt}, statement_timestamp() + ${processIn} * interval '1 millisecond'))`;

const SUCCESS: ArchiveStatus = 'success';

/** The archive's columns, in the order every statement that archives a job fills them. */
export const ARCHIVED_COLUMNS =
  'job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at, last_error';

function statements(t: Tables): JobStatements {
  let cached = statementCache.get(t);
  if (!cached) {
    const notifyChannel = notifyChannelFor(t);
    // Jobs due at once wake idle workers through NOTIFY, sent in the same
    // statement and delivered only at commit: a rolled-back enqueue wakes
    // nobody. PostgreSQL folds repeats within a transaction into one.
    const notifyDue = (inserted: string) =>
      `SELECT pg_notify('${notifyChannel}', queue)
       FROM (SELECT DISTINCT queue FROM ${inserted} WHERE process_at <= statement_timestamp()) AS due`;
    const complete = `WITH outcome AS (
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::jsonb[], $5::text[], $6::int[])
          AS o (job_id, status, delay_ms, error, aborted_claim, crashes)
      ), retried AS (
        -- The delay counts from the failure, hence clock_timestamp(), not the
        -- transaction's start.
        UPDATE ${t.job} AS j
        SET attempts = j.attempts + 1,
            process_at = clock_timestamp() + o.delay_ms * interval '1 millisecond',
            last_error = o.error,
            aborted_claim = NULL
        FROM outcome AS o
        WHERE o.status = 'retry' AND j.job_id = o.job_id
        RETURNING j.job_id
      ), snoozed AS (
        UPDATE ${t.job} AS j
        SET process_at = clock_timestamp() + o.delay_ms * interval '1 millisecond',
            aborted_claim = NULL
        FROM outcome AS o
        WHERE o.status = 'snooze' AND j.job_id = o.job_id
        RETURNING j.job_id
      ), withdrawn AS (
        -- A cancelled job's requests are answered.
        DELETE FROM ${t.cancelRequests} AS r
        USING outcome AS o
        WHERE o.status = 'cancelled' AND r.job_id = o.job_id
      ), claim_died AS (
        -- Not run in this batch: its last claim died.
        UPDATE ${t.job} AS j
        SET abandoned_runs = j.abandoned_runs + o.crashes,
            aborted_claim = o.aborted_claim::xid8,
            process_at = COALESCE(clock_timestamp() + o.delay_ms * interval '1 millisecond', j.process_at)
        FROM outcome AS o
        WHERE o.status = 'claim-died' AND j.job_id = o.job_id
        RETURNING j.job_id
      ), finished AS (
        DELETE FROM ${t.job} AS j
        USING outcome AS o
        WHERE o.status IN (${ARCHIVE_STATUSES_SQL}) AND j.job_id = o.job_id
        RETURNING j.*, o.status AS final_status, o.error AS final_error
      )
      INSERT INTO ${t.archivedJob} (${ARCHIVED_COLUMNS})
      SELECT job_id, queue, job_type, payload, attempts + 1, enqueued_at, process_at, final_status, clock_timestamp(),
             COALESCE(final_error, last_error)
      FROM finished`;
    // The common case, a batch that all succeeded, needs no per-job data but ids.
    const completeSuccesses = `WITH finished AS (DELETE FROM ${t.job} WHERE job_id = ANY($1::uuid[]) RETURNING *)
      INSERT INTO ${t.archivedJob} (${ARCHIVED_COLUMNS})
      SELECT job_id, queue, job_type, payload, attempts + 1, enqueued_at, process_at, '${SUCCESS}', clock_timestamp(),
             last_error
      FROM finished`;
    const insertOne = `WITH inserted AS (
        INSERT INTO ${t.job} (job_id, queue, job_type, payload, enqueued_at, process_at)
        VALUES ($1, $2, $3, $4::jsonb, statement_timestamp(), ${PROCESS_AT('$5::timestamptz', '$6::float8')})
        RETURNING queue, process_at
      ) ${notifyDue('inserted')}`;
    // One statement for any number of jobs: arrays in, rows out, in order.
    const insertMany = `WITH inserted AS (
        INSERT INTO ${t.job} (job_id, queue, job_type, payload, enqueued_at, process_at)
        SELECT id, queue, job_type, payload::jsonb, statement_timestamp(), ${PROCESS_AT('process_at', 'process_in')}
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[])
          AS new_job (id, queue, job_type, payload, process_at, process_in)
        RETURNING queue, process_at
      ) ${notifyDue('inserted')}`;
    cached = {
      notifyChannel,
      completeSuccesses: prepared('complete_successes', completeSuccesses),
      insertOne: prepared('insert_one', insertOne),
      insertMany: prepared('insert_many', insertMany),
      // Successes, final failures and retries of a whole batch in one round
      // trip: archive-and-delete leaves no moment in which a job is in both
      // tables or in neither.
      complete: prepared('complete', complete),
    };
    statementCache.set(t, cached);
  }
  return cached;
}

/**
 * The NOTIFY channel of one installation; the payload is the queue name.
 * Derived from the table names so that installations never wake each other,
 * and short enough for PostgreSQL's 63-byte identifiers.
 */
export function notifyChannelFor(t: Tables): string {
  return `proletarian_${createHash('sha1').update(t.job).digest('hex').slice(0, 16)}`;
}

/**
 * Inserts one job on the caller's connection (inside the caller's
 * transaction, if any), as a prepared statement: on an enqueue's critical
 * path, parsing and planning cost as much as running it.
 */
export async function insertJob(db: Queryable, t: Tables, job: NewJob): Promise<void> {
  await db.query({
    ...statements(t).insertOne,
    values: [job.jobId, job.queue, job.jobType, job.payloadJson, job.processAt, job.processIn],
  });
}

/** Inserts many jobs in one statement. */
export async function insertJobs(db: Queryable, t: Tables, jobs: readonly NewJob[]): Promise<void> {
  await db.query({
    ...statements(t).insertMany,
    values: [
      jobs.map((job) => job.jobId),
      jobs.map((job) => job.queue),
      jobs.map((job) => job.jobType),
      jobs.map((job) => job.payloadJson),
      jobs.map((job) => job.processAt),
      jobs.map((job) => job.processIn),
    ],
  });
}

/** Records how each job of a batch ended: archived, rescheduled for a retry, or left for later. */
export async function completeJobs(client: pg.ClientBase, t: Tables, completions: readonly Completion[]): Promise<void> {
  const statement = completionStatement(t, completions);
  if (statement) await client.query(statement);
}

/**
 * {@link completeJobs}, then COMMIT, in one round trip. Resolves with
 * COMMIT's command tag, which is ROLLBACK when the transaction had failed.
 */
export async function completeJobsAndCommit(
  client: pg.ClientBase,
  t: Tables,
  completions: readonly Completion[],
): Promise<string> {
  const statement = completionStatement(t, completions);
  if (!statement) return (await client.query('COMMIT')).command;
  const together = queryAfter(client, [statement], 'COMMIT');
  if (together) return (await together).command;
  await client.query(statement);
  return (await client.query('COMMIT')).command;
}

function completionStatement(t: Tables, completions: readonly Completion[]): pg.QueryConfig | null {
  if (completions.length === 0) return null;
  if (completions.every((completion) => completion.status === 'success')) {
    // Job ids are PostgreSQL's own uuid text, which needs no quoting in an
    // array literal: built directly, it spares pg escaping each element.
    let ids = '{';
    for (let i = 0; i < completions.length; i++) ids += (i === 0 ? '' : ',') + completions[i]!.jobId;
    return { ...statements(t).completeSuccesses, values: [`${ids}}`] };
  }
  const ids: string[] = [];
  const statuses: string[] = [];
  const delays: (number | null)[] = [];
  const errors: (string | null)[] = [];
  const abortedClaims: (string | null)[] = [];
  const crashes: number[] = [];
  for (const completion of completions) {
    ids.push(completion.jobId);
    statuses.push(completion.status);
    delays.push('delayMs' in completion ? completion.delayMs : null);
    errors.push('error' in completion ? storedErrorJson(completion.error) : null);
    abortedClaims.push(completion.status === 'claim-died' ? completion.abortedClaim : null);
    crashes.push(completion.status === 'claim-died' ? completion.crashes : 0);
  }
  return { ...statements(t).complete, values: [ids, statuses, delays, errors, abortedClaims, crashes] };
}

/**
 * Names a statement after a hash of its text, so pg prepares it once per
 * connection and every later use skips parsing and planning.
 */
export function preparedName(purpose: string, text: string): string {
  return `proletarian_${purpose}_${createHash('sha1').update(text).digest('hex').slice(0, 12)}`;
}

function prepared(purpose: string, text: string): pg.QueryConfig {
  return { name: preparedName(purpose, text), text };
}

const MAX_STACK_LENGTH = 8_000;

/** `last_error` as JSON text. */
export function storedErrorJson(error: StoredError): string {
  // An error message is no place to lose a job over: make any text storable.
  const clean = toStorableText;
  return JSON.stringify({
    name: clean(error.name),
    message: clean(error.message),
    stack: error.stack === undefined ? undefined : clean(error.stack.slice(0, MAX_STACK_LENGTH)),
    attempt: error.attempt,
  });
}
