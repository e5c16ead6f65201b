import type pg from 'pg';
import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';
import { CLAIM_ORDER } from './claim.js';
import type { JobRow } from './jobs.js';

// SQL of the test helpers (src/testing/): reads and claims on the caller's
// connection, where a test's own transaction may be open.

/**
 * Locks up to `limit` due jobs of `queue` in claim order, of the types in
 * `jobTypes` (null: any). Due by the clock, not by the transaction's start
 * (`now()`): inside a test's transaction, jobs it has just enqueued, and
 * retries it has just scheduled with no delay, are due too.
 */
export async function claimDueJobsForTest(
  client: pg.ClientBase,
  t: Tables,
  queue: string,
  jobTypes: readonly string[] | null,
  limit: number,
): Promise<JobRow[]> {
  const { rows } = await client.query<JobRow>(
    `SELECT job_id::text, queue, job_type, payload::text AS payload, attempts, enqueued_at, process_at, priority
     FROM ${t.job}
     WHERE queue = $1 AND process_at <= clock_timestamp() AND ($2::text[] IS NULL OR job_type = ANY($2::text[]))
     ORDER BY ${CLAIM_ORDER}
     LIMIT $3
     FOR UPDATE SKIP LOCKED`,
    [queue, jobTypes, limit],
  );
  return rows;
}

/** A queued job, as the test helpers list it. */
export interface QueuedJobRow {
  job_id: string;
  queue: string;
  job_type: string;
  payload: unknown;
  attempts: number;
  priority: number;
  unique_key: string | null;
  enqueued_at: Date;
  process_at: Date;
}

/** The job table's jobs, optionally of one type and queue, in claim order. */
export async function listQueuedJobs(
  db: Queryable,
  t: Tables,
  jobType: string | null,
  queue: string | null,
): Promise<QueuedJobRow[]> {
  const { rows } = await db.query<QueuedJobRow>(
    `SELECT job_id::text, queue, job_type, payload, attempts, priority, unique_key, enqueued_at, process_at
     FROM ${t.job}
     WHERE ($1::text IS NULL OR job_type = $1) AND ($2::text IS NULL OR queue = $2)
     ORDER BY queue, ${CLAIM_ORDER}`,
    [jobType, queue],
  );
  return rows;
}
