import type pg from 'pg';
import type { Tables } from '../tables.js';
import { preparedName, type JobRow } from './jobs.js';
import { queryAfter, queryBetween, type SideStatement } from './round-trip.js';
import { MIN_PRIORITY } from '../priority.js';

// The claim: which due jobs a worker takes next, in which order, and how the
// database is made to find them. Built here once for both kinds of claim —
// batches in a transaction and single jobs under a lease — so the two never
// disagree on filters or order.
//
// Two things keep every claim's cost independent of the table's history:
//
// * **The plan is pinned.** A queue table churns through its whole content
//   every few seconds, so its statistics are always stale: never gathered on
//   a fresh table, gathered while it was empty, or from another mix of
//   queues. On such statistics the planner guesses a handful of due rows and
//   picks a bitmap scan of every due job plus a sort — a cost in proportion
//   to the backlog, which grows the backlog. The claim therefore runs with
//   sequential and bitmap scans disabled for its own statement only (the
//   previous settings are restored right after it, in the same round trip),
//   which leaves one plan: the claim index, read in claim order, stopping
//   after the batch. No statistics or ANALYZE are needed.
//
// * **The scan starts near the live jobs.** Every finished job leaves a dead
//   row and a dead index entry at the front of the queue's part of the
//   index; while any session holds an old snapshot, none can be cleaned up,
//   and a scan from the queue's start would step over all of them on every
//   claim. A claim can therefore start at a position in claim order
//   (`claimFrom`: a priority and a due time): the worker passes the
//   position of the first job its last claim found, so it steps over at
//   most the jobs claimed since. See src/worker/claim-start.ts for when the
//   worker scans from further back.

/** Claim order within a queue: priority, then due time, then enqueue order (job ids grow with time). */
export const CLAIM_ORDER = 'priority, process_at, job_id';

/** A job row as claimed in a transaction, with what it tells of earlier claims. */
export interface ClaimedJobRow extends JobRow {
  abandoned_runs: number;
  /**
   * The last transaction that locked this row (as xid8 text), when it
   * aborted: the claim it made died unfinished. Null nearly always.
   */
  aborted_locker: string | null;
  /**
   * For a job that keeps an earlier claim's death in `aborted_claim`:
   * whether that claim's worker reported losing its connection (true) or
   * not (false: the worker died). Null when there is no such claim.
   */
  aborted_claim_lost_connection: boolean | null;
  /**
   * Where the row stood when claimed (its ctid, as text): the completion
   * finds it by this address, a plan no statistics can change (see
   * `completeSuccessesByRow` in src/sql/jobs.ts). The claim's lock keeps the
   * row where it is, unless the batch's own transaction updates it.
   */
  row_id: string;
}

/** What one batch claim took. */
export interface ClaimedBatch {
  jobs: ClaimedJobRow[];
  /** The claiming transaction's id (xid8 text), to report should its connection be lost; null when it took nothing. */
  xid: string | null;
}

/** Which job types a claim takes: all, only those listed, or all but those listed. */
export type TypeFilter = 'all' | 'only' | 'except';

/**
 * A place in a queue's claim order: jobs of `priority` due at `dueMs`
 * (epoch ms; null: the first of that priority). A claim from here takes the
 * jobs of that priority due then or later, then every less urgent job.
 */
export interface ClaimPosition {
  priority: number;
  dueMs: number | null;
}

function positionValues(position: ClaimPosition | null): [number | null, number | null] {
  return position ? [position.priority, position.dueMs] : [null, null];
}

/**
 * The locking part of every claim: up to `$2` due jobs of queue `$1`, in
 * claim order (priority, then due time, then enqueue order), starting at
 * the position (`$3` priority, `$4` due time in epoch milliseconds; nulls:
 * from the queue's start), of the types in `$5` as `filter` says, locked for
 * the rest of the transaction. The start is a row comparison on the claim
 * index's own columns, so the scan begins there rather than filtering its
 * way to it. SKIP LOCKED lets any number of workers share a queue: each sees
 * only jobs nobody else holds, and a dead worker's locks vanish with its
 * connection.
 */
function lockDueJobs(t: Tables, columns: string, filter: TypeFilter): string {
  const types = { all: '', only: ' AND job_type = ANY($5::text[])', except: ' AND job_type <> ALL($5::text[])' }[filter];
  return `SELECT ${columns}
      FROM ${t.job}
      WHERE queue = $1 AND process_at <= now()
        AND (priority, process_at) >= (COALESCE($3::smallint, ${MIN_PRIORITY}),
                                       COALESCE(to_timestamp($4::float8 / 1000), '-infinity'))${types}
      ORDER BY ${CLAIM_ORDER}
      LIMIT $2
      FOR UPDATE SKIP LOCKED`;
}

// Pins the claim's plan (see above) for the statements up to RESTORE_PLANNER,
// which puts back exactly what was set before, so a handler's queries later
// in the batch's transaction are planned as the app configured them.
const PIN_PLAN: SideStatement = {
  text: `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)
    FROM (SELECT set_config('proletarian.planner_before_claim',
                            current_setting('enable_seqscan') || ' ' || current_setting('enable_bitmapscan'), true)
          OFFSET 0) AS saved`,
};
const RESTORE_PLANNER: SideStatement = {
  text: `SELECT set_config('enable_seqscan', split_part(saved, ' ', 1), true),
           set_config('enable_bitmapscan', split_part(saved, ' ', 2), true)
    FROM (SELECT current_setting('proletarian.planner_before_claim') AS saved) AS before_claim`,
};
const BEGIN: SideStatement = { text: 'BEGIN' };

/**
 * The batch claim of a worker: `lockDueJobs` passes raw columns up, and
 * everything computed per job (payload as text, times as epoch
 * milliseconds, the abandoned-run check) happens above the lock, for the
 * jobs actually claimed — not for the rows other batches hold and the scan
 * skips. Times come as numbers (float8, whole milliseconds) because parsing
 * timestamp text costs the worker more than all the rest of the row.
 */
export function batchClaimStatement(t: Tables, filter: TypeFilter, traced = false): pg.QueryArrayConfig {
  const locked = lockDueJobs(
    t,
    `job_id, job_type, payload, attempts, abandoned_runs, enqueued_at, process_at, priority, aborted_claim, xmax AS prior_locker, ctid AS row_id${
      traced ? ', trace_context' : ''
    }`,
    filter,
  );
  const text = `SELECT job_id, job_type, payload::text, attempts, abandoned_runs,
           floor(date_part('epoch', enqueued_at) * 1000), floor(date_part('epoch', process_at) * 1000), priority,
           ${ABORTED_LOCKER},
           CASE WHEN aborted_claim IS NOT NULL
                THEN EXISTS (SELECT 1 FROM ${t.lostTransactions} WHERE xid = aborted_claim) END,
           (SELECT pg_current_xact_id()::text), row_id::text${traced ? ', trace_context::text' : ''}
    FROM (${locked}) AS claimed
    ORDER BY ${CLAIM_ORDER}`;
  return { name: preparedName('claim', text), text, rowMode: 'array' };
}

/**
 * The lease claim: the oldest due job of the types in `$4` moves its
 * `process_at` to the lease's end (`$7` ms from now), so no claim sees it
 * until the lease runs out; `locked_by` names the holder (`$6`). A job
 * still marked with a holder was abandoned by it: that run is counted in
 * `abandoned_runs`. `attempts` is left alone; as in transaction mode, it
 * counts only runs that ended in a recorded failure. Returns the job's due
 * time before the lease, as epoch milliseconds.
 */
export function leaseClaimStatement(t: Tables): pg.QueryConfig {
  const text = `WITH next AS (${lockDueJobs(t, 'job_id, process_at, locked_by', 'only')})
    UPDATE ${t.job} AS j
    SET locked_by = $6,
        process_at = clock_timestamp() + $7::float8 * interval '1 millisecond',
        abandoned_runs = j.abandoned_runs + (j.locked_by IS NOT NULL)::int
    FROM next
    WHERE j.job_id = next.job_id
    RETURNING j.job_id, j.queue, j.job_type, j.payload::text AS payload, j.attempts, j.enqueued_at,
              next.process_at, j.priority, j.abandoned_runs, next.locked_by IS NOT NULL AS took_over,
              floor(date_part('epoch', next.process_at) * 1000) AS due_ms, j.trace_context::text AS trace_context`;
  return { name: preparedName('lease', text), text };
}

// A claimed row's xmax still holds the last transaction that locked it (the
// inner query reads it before taking its own lock). If that transaction
// aborted, the claim it made died — with its worker, or with its connection
// — and a crash leaves no other trace in transaction mode; this one costs no
// write.
// xmax is a 32-bit xid; pg_xact_status() takes the 64-bit form, found here
// from our own transaction's id and the (wrapping) distance to it. A locker
// newer than us is never asked about — asking about an xid beyond ours is an
// error that would wedge the claim — and rows never locked (xmax 0), nearly
// all of them, skip the lookup.
const ABORTED_LOCKER = `CASE WHEN prior_locker <> '0'::xid THEN (
    SELECT CASE WHEN distance >= 0 AND pg_xact_status(locker) IS NOT DISTINCT FROM 'aborted' THEN locker::text END
    FROM (SELECT (own - distance)::text::xid8 AS locker, distance
          FROM (SELECT own, CASE WHEN m >= 2147483648 THEN m - 4294967296 ELSE m END AS distance
          FROM (SELECT own, ((own & 4294967295) - prior_locker::text::bigint + 4294967296) % 4294967296 AS m
                FROM (SELECT pg_current_xact_id()::text::bigint AS own) AS current_xact) AS wrapped) AS signed) AS prior
  ) END`;

/** A claim's row, in the batch claim statement's column order. */
type ClaimedTuple = [
  string, string, string, number, number, number, number, number, string | null, boolean | null, string, string,
  (string | null)?,
];

/** What one batch claim asks for. */
export interface ClaimRequest {
  /** The statement, from {@link batchClaimStatement}. */
  claim: pg.QueryArrayConfig;
  queue: string;
  /** The types the statement's filter lists; null with the filter `all`. */
  jobTypes: readonly string[] | null;
  limit: number;
  /** Take only jobs at or after this position in claim order; null: from the queue's start. */
  claimFrom: ClaimPosition | null;
}

/**
 * BEGIN, then up to `limit` due jobs of the queue, oldest first, locked in
 * the new transaction — in one round trip, the plan pinned and the
 * planner's settings restored after it.
 */
export function beginAndClaimJobs(client: pg.ClientBase, request: ClaimRequest): Promise<ClaimedBatch> {
  return claimIn(client, request, [BEGIN, PIN_PLAN]);
}

/** Like {@link beginAndClaimJobs}, in the transaction the caller has begun. */
export function claimJobs(client: pg.ClientBase, request: ClaimRequest): Promise<ClaimedBatch> {
  return claimIn(client, request, [PIN_PLAN]);
}

async function claimIn(
  client: pg.ClientBase,
  request: ClaimRequest,
  leading: readonly SideStatement[],
): Promise<ClaimedBatch> {
  const { claim, queue, jobTypes, limit, claimFrom } = request;
  const from = positionValues(claimFrom);
  const query = { ...claim, values: jobTypes ? [queue, limit, ...from, jobTypes] : [queue, limit, ...from] };
  const together = queryBetween<ClaimedTuple>(client, leading, query, [RESTORE_PLANNER]);
  if (together) return claimedBatchOf((await together).rows, queue);
  for (const statement of leading) await client.query(statement.text);
  const result = await client.query<ClaimedTuple>(query);
  await client.query(RESTORE_PLANNER.text);
  return claimedBatchOf(result.rows, queue);
}

function claimedBatchOf(rows: readonly ClaimedTuple[], queue: string): ClaimedBatch {
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
      priority: r[7],
      aborted_locker: r[8],
      aborted_claim_lost_connection: r[9],
      row_id: r[11],
      trace_context: r[12] ?? null,
    };
  }
  return { jobs: claimed, xid: rows[0]?.[10] ?? null };
}

/** A job row as leased; `abandoned_runs` includes the run this lease found abandoned, if any. */
export interface LeasedJobRow extends JobRow {
  abandoned_runs: number;
  /** Whether this lease took the job over from a holder whose lease ran out (a run that died). */
  took_over: boolean;
  /** When the job was due before the lease moved it, as epoch ms. */
  due_ms: number;
}

/** What one lease claim asks for. */
export interface LeaseRequest {
  /** The statement, from {@link leaseClaimStatement}. */
  claim: pg.QueryConfig;
  queue: string;
  jobTypes: readonly string[];
  holder: string;
  leaseMs: number;
  /** As in {@link ClaimRequest}. */
  claimFrom: ClaimPosition | null;
}

/**
 * Leases the oldest due job of the request's types, committed at once. Its
 * plan is pinned as the batch claim's is: the settings hold only in the
 * implicit transaction of the one round trip the statement takes.
 */
export async function leaseNextJob(pool: pg.Pool, request: LeaseRequest): Promise<LeasedJobRow | null> {
  const { claim, queue, jobTypes, holder, leaseMs, claimFrom } = request;
  const query = { ...claim, values: [queue, 1, ...positionValues(claimFrom), jobTypes, holder, leaseMs] };
  const client = await pool.connect();
  // A connection that dies while we hold it emits 'error'; unheard, that
  // would crash the process. The failing query reports the same error.
  const ignore = () => {};
  client.on('error', ignore);
  let broken: Error | undefined;
  try {
    // Statements sent together before one Sync run in one implicit transaction.
    const together = queryAfter<LeasedJobRow>(client, [PIN_PLAN], query);
    if (together) return (await together).rows[0] ?? null;
    await client.query('BEGIN');
    await client.query(PIN_PLAN.text);
    const { rows } = await client.query<LeasedJobRow>(query);
    await client.query('COMMIT');
    return rows[0] ?? null;
  } catch (error) {
    broken = error instanceof Error ? error : new Error(String(error));
    throw error;
  } finally {
    client.off('error', ignore);
    client.release(broken);
  }
}
