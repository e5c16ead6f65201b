import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ARCHIVE_STATUSES_SQL, type ArchiveStatus } from '../archive-status.js';
import { toStorableText } from '../payload.js';
import { DEFAULT_PRIORITY } from '../priority.js';
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
  /** Lower runs first; see src/priority.ts. */
  priority: number;
  /** The enqueuer's trace context as JSON text; read only by claims made while OpenTelemetry is in use. */
  trace_context?: string | null;
}

/** What is stored about a failed attempt, in `last_error` and then in `error_history`. */
export interface StoredError {
  name: string;
  message: string;
  stack?: string | undefined;
  attempt: number;
  /** When the attempt failed (ISO 8601). */
  failedAt: string;
}

/** What is stored about `error`, the failure of attempt `attempt`, now. */
export function storedErrorOf(error: Error, attempt: number): StoredError {
  return { name: error.name, message: error.message, stack: error.stack, attempt, failedAt: new Date().toISOString() };
}

/** How many earlier errors a job keeps besides its latest: a job retried forever must not grow without bound. */
export const MAX_ERROR_HISTORY = 20;

/** A job to insert; `processAt`/`processIn` as given by the caller (validated). */
export interface NewJob {
  jobId: string;
  queue: string;
  jobType: string;
  payloadJson: string;
  processAt: Date | null;
  processIn: number | null;
  priority: number;
  /** With a key, at most one unfinished job per queue and key exists. */
  uniqueKey: string | null;
  /** What to do when an unfinished job holds the key: keep it as it is, or give it this job's payload, due time and priority. */
  onConflict: 'keep' | 'replace';
  /** The enqueuer's trace context as JSON text, set while OpenTelemetry is in use; else null (see src/telemetry/). */
  traceContext: string | null;
}

/** The job that holds a unique key: the one inserted, or the one that was there. */
export interface KeyHolder {
  job_id: string;
  queue: string;
  /** Null in the rows of jobs inserted without a key. */
  unique_key: string | null;
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
  insertUnique: Record<NewJob['onConflict'], pg.QueryConfig>;
  keyHolders: pg.QueryConfig;
  complete: pg.QueryConfig;
  completeByRow: pg.QueryConfig;
  completeSuccesses: pg.QueryConfig;
  completeSuccessesByRow: pg.QueryConfig;
  completeSuccessesByRowOrId: pg.QueryConfig;
  notifyChannel: string;
}

const statementCache = new WeakMap<Tables, JobStatements>();
// The same inserts writing trace_context too; used only for jobs that carry a
// trace context, so without OpenTelemetry the statements stay as they were.
const tracedStatementCache = new WeakMap<Tables, JobStatements>();

// A time in the past means "now"; processAt wins over processIn. Computed by the
// database so that app servers with skewed clocks agree on what "due" means.
const PROCESS_AT = (processAt: string, processIn: string) =>
  `GREATEST(statement_timestamp(), COALESCE(${processAt}, statement_timestamp() + ${processIn} * interval '1 millisecond'))`;

const SUCCESS: ArchiveStatus = 'success';

/** The archive's columns, in the order every statement that archives a job fills them. */
export const ARCHIVED_COLUMNS =
  'job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at, last_error, priority, unique_key, trace_context, error_history';

/**
 * What a finished job's row (selected from the job table) becomes in the
 * archive, in {@link ARCHIVED_COLUMNS}' order: `status` is an SQL
 * expression, and so is `failure`, the error of the attempt that ended it
 * (null, or an expression that is null, when it did not fail); `attempts`
 * then counts that run too.
 */
export function archivedValues(status: string, failure: string | null): string {
  const lastError = failure === null ? 'last_error' : `COALESCE(${failure}, last_error)`;
  const history =
    failure === null
      ? 'error_history'
      : `CASE WHEN ${failure} IS NULL THEN error_history ELSE ${historyAfterFailure('error_history', 'last_error')} END`;
  return `job_id, queue, job_type, payload, attempts + 1, enqueued_at, process_at, ${status}, clock_timestamp(),
             ${lastError}, priority, unique_key, trace_context, ${history}`;
}

/**
 * The error history once a new failure takes `lastError`'s place as the
 * latest: `lastError` appended to `history`, of which the last
 * MAX_ERROR_HISTORY are kept. Both are SQL expressions of the job's row as
 * it was; a first failure leaves the history null.
 */
export function historyAfterFailure(history: string, lastError: string): string {
  return `CASE WHEN ${lastError} IS NULL THEN ${history} ELSE (
      SELECT CASE WHEN jsonb_array_length(h) > ${MAX_ERROR_HISTORY} THEN h - 0 ELSE h END
      FROM (SELECT COALESCE(${history}, '[]'::jsonb) || jsonb_build_array(${lastError}) AS h) AS appended) END`;
}

function statements(t: Tables, traced = false): JobStatements {
  const cache = traced ? tracedStatementCache : statementCache;
  let cached = cache.get(t);
  if (!cached) {
    // The trace context's column and value, in the traced variant only.
    const tc = traced ? ', trace_context' : '';
    const tcValue = (value: string) => (traced ? `, ${value}::text::jsonb` : '');
    const tcArray = traced ? ', $9::text[]' : '';
    const notifyChannel = notifyChannelFor(t);
    // Jobs due at once wake idle workers through NOTIFY, sent in the same
    // statement and delivered only at commit: a rolled-back enqueue wakes
    // nobody. PostgreSQL folds repeats within a transaction into one. One row
    // of a count comes back, not pg_notify's void, which not every library
    // can read (Prisma). The payload names the most urgent priority when it
    // is not the default (see notificationPayloadSql).
    const notifyDue = (inserted: string) =>
      `SELECT count(pg_notify('${notifyChannel}', ${notificationPayloadSql('queue', 'priority')}))::int AS notified
       FROM (SELECT queue, min(priority) AS priority FROM ${inserted}
             WHERE process_at <= statement_timestamp() GROUP BY queue) AS due`;
    // Each job's row is found by its id, or ($7) by the address its claim
    // found it at: a worker's batch whose handlers wrote nothing through
    // ctx.db (see completeSuccessesByRow for why an address, and why the
    // handlers' writes matter).
    const completeBy = (byRow: boolean) => {
      const sameRow = byRow ? 'j.ctid = o.row_id' : 'j.job_id = o.job_id';
      return `WITH outcome AS (
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::jsonb[], $5::text[], $6::int[]${byRow ? ', $7::tid[]' : ''})
          AS o (job_id, status, delay_ms, error, aborted_claim, crashes${byRow ? ', row_id' : ''})
      ), retried AS (
        -- The delay counts from the failure, hence clock_timestamp(), not the
        -- transaction's start.
        UPDATE ${t.job} AS j
        SET attempts = j.attempts + 1,
            process_at = clock_timestamp() + o.delay_ms * interval '1 millisecond',
            error_history = ${historyAfterFailure('j.error_history', 'j.last_error')},
            last_error = o.error,
            aborted_claim = NULL
        FROM outcome AS o
        WHERE o.status = 'retry' AND ${sameRow}
        RETURNING j.job_id
      ), snoozed AS (
        UPDATE ${t.job} AS j
        SET process_at = clock_timestamp() + o.delay_ms * interval '1 millisecond',
            aborted_claim = NULL
        FROM outcome AS o
        WHERE o.status = 'snooze' AND ${sameRow}
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
        WHERE o.status = 'claim-died' AND ${sameRow}
        RETURNING j.job_id
      ), finished AS (
        DELETE FROM ${t.job} AS j
        USING outcome AS o
        WHERE o.status IN (${ARCHIVE_STATUSES_SQL}) AND ${sameRow}
        RETURNING j.*, o.status AS final_status, o.error AS final_error
      )
      INSERT INTO ${t.archivedJob} (${ARCHIVED_COLUMNS})
      SELECT ${archivedValues('final_status', 'final_error')}
      FROM finished`;
    };
    // The common case, a batch that all succeeded, needs no per-job data but ids.
    const completeSuccesses = `WITH finished AS (DELETE FROM ${t.job} WHERE job_id = ANY($1::uuid[]) RETURNING *)
      INSERT INTO ${t.archivedJob} (${ARCHIVED_COLUMNS})
      SELECT ${archivedValues(`'${SUCCESS}'`, null)}
      FROM finished`;
    // The same for a worker's batch, whose claim gave each row's address
    // ($1, ctids). Deleting `WHERE job_id = ANY(...)` is a plan choice: any
    // index holding job_id can serve it, the claim index too (job_id is its
    // last column), and on the statistics of a churning table the planner has
    // been seen to scan that whole index, every dead entry included, for each
    // batch (100-200 ms instead of under 1). By address, the only plans are a
    // TID scan or reading the whole table, which costs its true size: the TID
    // scan. An address can only hold the row the claim locked: while this
    // transaction is open nobody else can change that row, nor reuse its
    // space.
    const completeSuccessesByRow = `WITH finished AS (DELETE FROM ${t.job} WHERE ctid = ANY($1::tid[]) RETURNING *)
      INSERT INTO ${t.archivedJob} (${ARCHIVED_COLUMNS})
      SELECT ${archivedValues(`'${SUCCESS}'`, null)}
      FROM finished`;
    // A row its own handler updated through ctx.db is no longer visible at
    // its claimed address but at a new one. When a batch's handlers wrote,
    // rows not found where they were claimed are deleted by id ($2, in the
    // same order), a scan run only when some row was missing.
    const completeSuccessesByRowOrId = `WITH at_claimed_rows AS (
        DELETE FROM ${t.job} WHERE ctid = ANY($1::tid[]) RETURNING *
      ), moved AS (
        DELETE FROM ${t.job}
        WHERE (SELECT count(*) FROM at_claimed_rows) < cardinality($2::uuid[]) AND job_id = ANY($2::uuid[])
        RETURNING *
      ), finished AS (
        SELECT * FROM at_claimed_rows UNION ALL SELECT * FROM moved
      )
      INSERT INTO ${t.archivedJob} (${ARCHIVED_COLUMNS})
      SELECT ${archivedValues(`'${SUCCESS}'`, null)}
      FROM finished`;
    // The payload is bound as text and cast here: a driver that encodes
    // values bound to jsonb parameters as JSON itself (postgres.js) would
    // otherwise store the payload's JSON text as a JSON string.
    const insertOne = `WITH inserted AS (
        INSERT INTO ${t.job} (job_id, queue, job_type, payload, enqueued_at, process_at, priority${tc})
        VALUES ($1, $2, $3, $4::text::jsonb, statement_timestamp(), ${PROCESS_AT('$5::timestamptz', '$6::float8')}, $7${tcValue('$8')})
        RETURNING queue, process_at, priority
      ) ${notifyDue('inserted')}`;
    // One statement for any number of jobs: arrays in, rows out, in order.
    const insertMany = `WITH inserted AS (
        INSERT INTO ${t.job} (job_id, queue, job_type, payload, enqueued_at, process_at, priority${tc})
        SELECT id, queue, job_type, payload::jsonb, statement_timestamp(), ${PROCESS_AT('process_at', 'process_in')},
               priority${tcValue('trace_context')}
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[], $7::smallint[]${traced ? ', $8::text[]' : ''})
          AS new_job (id, queue, job_type, payload, process_at, process_in, priority${tc})
        RETURNING queue, process_at, priority
      ) ${notifyDue('inserted')}`;
    // Jobs with unique keys: the unique index decides, so any number of
    // concurrent enqueues of one key end with one job. A key held by an
    // unfinished job inserts nothing ('keep'), or hands that job the new
    // payload, due time and priority ('replace'). A job running in a batch
    // is locked: 'replace' waits for the batch, and once the batch archives
    // it, the insert goes ahead, so the change runs after the running job.
    // A job running under a lease keeps the change in \`replacement\` until
    // its run ends (see leases.ts). Rows go in key order, so enqueues that
    // share keys wait on each other in one order and never deadlock. The
    // notification is a CTE that the final SELECT reads, which makes it run.
    const insertUniqueWith = (onConflict: string) => `WITH inserted AS (
        INSERT INTO ${t.job} AS j (job_id, queue, job_type, payload, enqueued_at, process_at, priority, unique_key${tc})
        SELECT id, queue, job_type, payload::jsonb, statement_timestamp(), ${PROCESS_AT('process_at', 'process_in')},
               priority, unique_key${tcValue('trace_context')}
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::float8[], $7::smallint[],
                    $8::text[]${tcArray})
          AS new_job (id, queue, job_type, payload, process_at, process_in, priority, unique_key${tc})
        ORDER BY queue, unique_key
        ON CONFLICT (queue, unique_key) WHERE unique_key IS NOT NULL ${onConflict}
        RETURNING job_id, queue, unique_key, process_at, priority
      ), notified AS (${notifyDue('inserted')})
      SELECT job_id::text, queue, unique_key FROM inserted WHERE (SELECT count(*) FROM notified) >= 0`;
    const whileWaiting = (column: string, change: string) =>
      `${column} = CASE WHEN j.locked_by IS NULL THEN ${change} ELSE j.${column} END`;
    const replace = `DO UPDATE SET
          ${whileWaiting('payload', 'EXCLUDED.payload')},
          ${whileWaiting('process_at', 'EXCLUDED.process_at')},
          ${whileWaiting('priority', 'EXCLUDED.priority')},${traced ? `\n          ${whileWaiting('trace_context', 'EXCLUDED.trace_context')},` : ''}
          replacement = CASE WHEN j.locked_by IS NULL THEN NULL
                             ELSE jsonb_build_object('payload', EXCLUDED.payload, 'priority', EXCLUDED.priority,
                                                     'process_at', EXCLUDED.process_at) END`;
    const keyHolders = `SELECT job_id::text, queue, unique_key FROM ${t.job}
      WHERE (queue, unique_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;
    cached = {
      notifyChannel,
      completeSuccesses: prepared('complete_successes', completeSuccesses),
      completeSuccessesByRow: prepared('complete_successes_by_row', completeSuccessesByRow),
      completeSuccessesByRowOrId: prepared('complete_successes_by_row_or_id', completeSuccessesByRowOrId),
      insertOne: prepared('insert_one', insertOne),
      insertMany: prepared('insert_many', insertMany),
      insertUnique: {
        keep: prepared('insert_unique', insertUniqueWith('DO NOTHING')),
        replace: prepared('insert_replacing', insertUniqueWith(replace)),
      },
      keyHolders: prepared('key_holders', keyHolders),
      // Successes, final failures and retries of a whole batch in one round
      // trip: archive-and-delete leaves no moment in which a job is in both
      // tables or in neither.
      complete: prepared('complete', completeBy(false)),
      completeByRow: prepared('complete_by_row', completeBy(true)),
    };
    cache.set(t, cached);
  }
  return cached;
}

/**
 * A jobs notification's payload, as SQL: the queue's name for jobs of the
 * default priority, else a space, the priority, a space and the name. Queue
 * names never start with a space, so the two cannot be confused, and a
 * plain `pg_notify(channel, queue)` of the app's own still reads right.
 */
function notificationPayloadSql(queue: string, priority: string): string {
  return `CASE WHEN ${priority} = ${DEFAULT_PRIORITY} THEN ${queue} ELSE ' ' || ${priority} || ' ' || ${queue} END`;
}

/** The queue and most urgent priority a jobs notification names; see {@link notificationPayloadSql}. */
export function parseJobsNotification(payload: string): { queue: string; priority: number } {
  if (payload.startsWith(' ')) {
    const space = payload.indexOf(' ', 1);
    const priority = Number(payload.slice(1, space));
    if (space > 0 && Number.isInteger(priority)) return { queue: payload.slice(space + 1), priority };
  }
  return { queue: payload, priority: DEFAULT_PRIORITY };
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
  const values = [job.jobId, job.queue, job.jobType, job.payloadJson, job.processAt, job.processIn, job.priority];
  if (job.traceContext !== null) values.push(job.traceContext);
  await db.query({ ...statements(t, job.traceContext !== null).insertOne, values });
}

/** Inserts many jobs in one statement. */
export async function insertJobs(db: Queryable, t: Tables, jobs: readonly NewJob[]): Promise<void> {
  await db.query({ ...statements(t, isTraced(jobs)).insertMany, values: columnsOf(jobs) });
}

/**
 * Inserts jobs some of which have unique keys (distinct among them, all
 * with the same `onConflict`) in one statement. Resolves with the jobs now
 * holding those keys: inserted or, for a key already held, the holder kept
 * ('keep') or updated ('replace'). A key whose holder finished between the
 * conflict and the answer is missing from it: insert that job again.
 */
export async function insertUniqueJobs(
  db: Queryable,
  t: Tables,
  jobs: readonly NewJob[],
  onConflict: NewJob['onConflict'],
): Promise<KeyHolder[]> {
  const traced = isTraced(jobs);
  const columns = columnsOf(jobs);
  const keys = jobs.map((job) => job.uniqueKey);
  const { rows } = await db.query<KeyHolder>({
    ...statements(t, traced).insertUnique[onConflict],
    // The trace context comes after the keys here.
    values: traced ? [...columns.slice(0, 7), keys, columns[7]!] : [...columns, keys],
  });
  const holders = rows.filter((row) => row.unique_key !== null);
  if (onConflict === 'replace') return holders;
  // 'keep' returns only the rows it inserted; a new statement sees the
  // holders of the others, which conflicting enqueues may have committed
  // after this statement began.
  const inserted = new Set(holders.map((row) => `${row.queue}\u0000${row.unique_key}`));
  const others = jobs.filter((job) => job.uniqueKey !== null && !inserted.has(`${job.queue}\u0000${job.uniqueKey}`));
  if (others.length === 0) return holders;
  const found = await db.query<KeyHolder>({
    ...statements(t).keyHolders,
    values: [others.map((job) => job.queue), others.map((job) => job.uniqueKey)],
  });
  return [...holders, ...found.rows];
}

/** Whether the jobs carry a trace context: all of one call share one, or none has it. */
function isTraced(jobs: readonly NewJob[]): boolean {
  return jobs[0]?.traceContext != null;
}

/** The columns every insert statement takes, as arrays, in its parameters' order; then the trace contexts, if any. */
function columnsOf(jobs: readonly NewJob[]): unknown[][] {
  const columns: unknown[][] = [
    jobs.map((job) => job.jobId),
    jobs.map((job) => job.queue),
    jobs.map((job) => job.jobType),
    jobs.map((job) => job.payloadJson),
    jobs.map((job) => job.processAt),
    jobs.map((job) => job.processIn),
    jobs.map((job) => job.priority),
  ];
  if (isTraced(jobs)) columns.push(jobs.map((job) => job.traceContext));
  return columns;
}

/**
 * Where a batch's claim found the rows of the jobs being completed: `at`,
 * each one's ctid as text, in the order of the completions; `movable`,
 * whether a handler of the batch wrote through ctx.db and so may have
 * updated its own row, which then stands elsewhere.
 */
export interface ClaimedRows {
  at: readonly string[];
  movable: boolean;
}

/** Records how each job of a batch ended: archived, rescheduled for a retry, or left for later. */
export async function completeJobs(
  client: pg.ClientBase,
  t: Tables,
  completions: readonly Completion[],
  claimed?: ClaimedRows,
): Promise<void> {
  const statement = completionStatement(t, completions, claimed);
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
  claimed?: ClaimedRows,
): Promise<string> {
  const statement = completionStatement(t, completions, claimed);
  if (!statement) return (await client.query('COMMIT')).command;
  const together = queryAfter(client, [statement], 'COMMIT');
  if (together) return (await together).command;
  await client.query(statement);
  return (await client.query('COMMIT')).command;
}

/** The statement that carries out `completions`. */
function completionStatement(t: Tables, completions: readonly Completion[], claimed?: ClaimedRows): pg.QueryConfig | null {
  if (completions.length === 0) return null;
  if (completions.every((completion) => completion.status === 'success')) {
    // Job ids are PostgreSQL's own uuid text, and ctids "(block,item)",
    // quoted: array literals built directly spare pg escaping each element.
    let ids = '{';
    for (let i = 0; i < completions.length; i++) ids += (i === 0 ? '' : ',') + completions[i]!.jobId;
    if (!claimed) return { ...statements(t).completeSuccesses, values: [`${ids}}`] };
    let tids = '{';
    for (let i = 0; i < claimed.at.length; i++) tids += `${i === 0 ? '' : ','}"${claimed.at[i]}"`;
    return claimed.movable
      ? { ...statements(t).completeSuccessesByRowOrId, values: [`${tids}}`, `${ids}}`] }
      : { ...statements(t).completeSuccessesByRow, values: [`${tids}}`] };
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
  const values = [ids, statuses, delays, errors, abortedClaims, crashes];
  return claimed && !claimed.movable
    ? { ...statements(t).completeByRow, values: [...values, claimed.at] }
    : { ...statements(t).complete, values };
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
    failedAt: error.failedAt,
  });
}
