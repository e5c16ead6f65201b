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

/** A job row as claimed in a transaction, with what it tells of earlier claims. */
export interface ClaimedJobRow extends JobRow {
  abandoned_runs: number;
  /** The last transaction that locked this row aborted: the run it started died unfinished. */
  last_claim_aborted: boolean;
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
  | { jobId: string; status: Extract<ArchiveStatus, 'success'> }
  | { jobId: string; status: 'abandoned' }
  | { jobId: string; status: Extract<ArchiveStatus, 'failure'>; error: StoredError }
  | { jobId: string; status: 'retry'; delayMs: number; error: StoredError };

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
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::jsonb[]) AS o (job_id, status, delay_ms, error)
      ), retried AS (
        -- The delay counts from the failure, hence clock_timestamp(), not the
        -- transaction's start.
        UPDATE ${t.job} AS j
        SET attempts = j.attempts + 1,
            process_at = clock_timestamp() + o.delay_ms * interval '1 millisecond',
            last_error = o.error
        FROM outcome AS o
        WHERE o.status = 'retry' AND j.job_id = o.job_id
        RETURNING j.job_id
      ), abandoned AS (
        -- Not run in this batch: an earlier run of it died unfinished.
        UPDATE ${t.job} AS j
        SET abandoned_runs = j.abandoned_runs + 1
        FROM outcome AS o
        WHERE o.status = 'abandoned' AND j.job_id = o.job_id
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

/**
 * The claim statement of a worker: the oldest due jobs of its queue, among
 * the job types it handles in a transaction (`only` those, all `except`
 * those it runs under leases, or all: `none`), locked for
 * the rest of the transaction. SKIP LOCKED lets any number of workers share a
 * queue: each sees only jobs nobody else holds, and a dead worker's locks
 * vanish with its connection.
 *
 * The inner query only locks and passes raw columns up; everything computed
 * per job (payload as text, times as epoch milliseconds, the abandoned-run
 * check) happens above the lock, for the jobs actually claimed — not for
 * the rows that other batches hold and the scan skips. Times come as
 * numbers (float8, whole milliseconds) because parsing timestamp text costs
 * the worker more than all the rest of the row.
 */
export function claimStatement(t: Tables, typeFilter: 'only' | 'except' | 'none'): pg.QueryArrayConfig {
  const filter = { only: ' AND job_type = ANY($3::text[])', except: ' AND job_type <> ALL($3::text[])', none: '' }[
    typeFilter
  ];
  const text = `SELECT job_id, job_type, payload::text, attempts, abandoned_runs,
           floor(date_part('epoch', enqueued_at) * 1000), floor(date_part('epoch', process_at) * 1000),
           ${LAST_CLAIM_ABORTED}
    FROM (
      SELECT job_id, job_type, payload, attempts, abandoned_runs, enqueued_at, process_at, xmax AS prior_locker
      FROM ${t.job}
      WHERE queue = $1 AND process_at <= now()${filter}
      ORDER BY process_at, job_id
      LIMIT $2
      FOR UPDATE SKIP LOCKED
    ) AS claimed
    ORDER BY process_at, job_id`;
  return { name: preparedName('claim', text), text, rowMode: 'array' };
}

// A claimed row's xmax still holds the last transaction that locked it (the
// inner query reads it before taking its own lock). If that transaction
// aborted, the claim it made died with its worker — a crash leaves no other
// trace in transaction mode, and this one costs no write.
// xmax is a 32-bit xid; pg_xact_status() takes the 64-bit form, found here
// from our own transaction's id and the (wrapping) distance to it. A locker
// newer than us is never asked about — asking about an xid beyond ours is an
// error that would wedge the claim — and rows never locked (xmax 0), nearly
// all of them, skip the lookup.
const LAST_CLAIM_ABORTED = `CASE WHEN prior_locker = '0'::xid THEN false ELSE (
    SELECT CASE WHEN distance < 0 THEN false
                ELSE pg_xact_status((own - distance)::text::xid8) IS NOT DISTINCT FROM 'aborted' END
    FROM (SELECT own, CASE WHEN m >= 2147483648 THEN m - 4294967296 ELSE m END AS distance
          FROM (SELECT own, ((own & 4294967295) - prior_locker::text::bigint + 4294967296) % 4294967296 AS m
                FROM (SELECT pg_current_xact_id()::text::bigint AS own) AS current_xact) AS wrapped) AS signed
  ) END`;

/** A claim's row, in the claim statement's column order. */
type ClaimedTuple = [string, string, string, number, number, number, number, boolean];

/** What one claim asks for: up to `limit` due jobs of `queue` (of `jobTypes`, as the statement filters them). */
export interface ClaimRequest {
  claim: pg.QueryArrayConfig;
  queue: string;
  jobTypes: readonly string[] | null;
  limit: number;
}

/** Claims up to `limit` due jobs of `queue`, oldest first. */
export async function claimJobs(client: pg.ClientBase, request: ClaimRequest): Promise<ClaimedJobRow[]> {
  const result = await client.query<ClaimedTuple>(claimQuery(request));
  return claimedJobsOf(result.rows, request.queue);
}

function claimQuery({ claim, queue, jobTypes, limit }: ClaimRequest): pg.QueryArrayConfig {
  return { ...claim, values: jobTypes ? [queue, limit, jobTypes] : [queue, limit] };
}

function claimedJobsOf(rows: readonly ClaimedTuple[], queue: string): ClaimedJobRow[] {
  const claimed = new Array<ClaimedJobRow>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    claimed[i] = {
      job_id: r[0],
      queue,
      job_type: r[1],
      payload: r[2],
      attempts: r[3],
      abandoned_runs: r[4],
      enqueued_at: new Date(r[5]),
      process_at: new Date(r[6]),
      last_claim_aborted: r[7],
    };
  }
  return claimed;
}

/** Records how each job of a batch ended: archived, or rescheduled for a retry. */
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

/** BEGIN, then {@link claimJobs}, in one round trip. */
export async function beginAndClaimJobs(client: pg.ClientBase, request: ClaimRequest): Promise<ClaimedJobRow[]> {
  const together = queryAfter<ClaimedTuple>(client, [BEGIN], claimQuery(request));
  if (!together) {
    await client.query(BEGIN.text);
    return claimJobs(client, request);
  }
  return claimedJobsOf((await together).rows, request.queue);
}

const BEGIN = { text: 'BEGIN' };

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
  for (const completion of completions) {
    ids.push(completion.jobId);
    statuses.push(completion.status);
    delays.push(completion.status === 'retry' ? completion.delayMs : null);
    errors.push('error' in completion ? storedErrorJson(completion.error) : null);
  }
  return { ...statements(t).complete, values: [ids, statuses, delays, errors] };
}

/**
 * Names a statement after a hash of its text, so pg prepares it once per
 * connection and every later use skips parsing and planning.
 */
function preparedName(purpose: string, text: string): string {
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
