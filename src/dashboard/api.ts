import { listSchedules } from '../schedule-list.js';
import {
  archivePositionAfter,
  ARCHIVED_STATES,
  countMatchingJobs,
  pausedQueues,
  finishedBuckets,
  findJob,
  knownNames,
  listedJobFields,
  listJobs,
  liveCounts,
  LIVE_STATES,
  narrowsArchive,
  onlineWorkers,
  STATUS_OF_ARCHIVED_STATE,
  type JobListFilter,
  type JobListRow,
  type ListPosition,
} from '../sql/dashboard.js';
import type { Tables } from '../tables.js';
import type { Queryable } from '../types.js';
import type {
  ArchiveSearch,
  FinishedSeries,
  JobCount,
  JobDetail,
  JobPage,
  JobSummary,
  KnownNames,
  Overview,
  QueueOverview,
  ScheduleSummary,
  StoredError,
  TimelineEntry,
  WorkerInfo,
} from './api-types.js';

/** What `redact` sees of a job, and returns with secrets hidden. */
export interface RedactableJob {
  readonly id: string;
  readonly queue: string;
  readonly jobType: string;
  payload: unknown;
  lastError: unknown;
}

export type Redact = (job: RedactableJob) => RedactableJob;

/** A request for a page of jobs, checked: see {@link parseJobQuery}. */
export interface JobQuery {
  state: string;
  queue?: string | undefined;
  jobType?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  text?: string | undefined;
  order: 'asc' | 'desc';
  after?: ListPosition | undefined;
}

export const PAGE_SIZE = 50;
/** How long one request searches the archive, by default: see `searchTime`. */
export const DEFAULT_SEARCH_TIME_MS = 100;
export const ALL_STATES: readonly string[] = [...LIVE_STATES, ...ARCHIVED_STATES];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_TEXT = 200;

export class BadRequest extends Error {}

export function isJobId(value: string): boolean {
  return UUID.test(value);
}

/** Reads and checks the query string of `api/jobs`; throws {@link BadRequest} with what is wrong. */
export function parseJobQuery(params: URLSearchParams): JobQuery {
  const state = params.get('state') ?? 'waiting';
  if (!ALL_STATES.includes(state)) throw new BadRequest(`state must be one of ${ALL_STATES.join(', ')}`);
  const name = (key: string) => {
    const value = params.get(key);
    if (value === null || value === '') return undefined;
    if (value.length > MAX_TEXT) throw new BadRequest(`${key} is too long`);
    return value;
  };
  const date = (key: string) => {
    const value = name(key);
    if (value === undefined) return undefined;
    const parsed = new Date(value);
    if (Number.isNaN(parsed.getTime())) throw new BadRequest(`${key} must be a date`);
    return parsed;
  };
  const order = params.get('order') ?? (STATUS_OF_ARCHIVED_STATE[state] ? 'desc' : 'asc');
  if (order !== 'asc' && order !== 'desc') throw new BadRequest('order must be asc or desc');
  const cursor = name('after');
  let after: JobQuery['after'];
  if (cursor !== undefined) {
    const match = /^(-?\d{1,19})_([0-9a-f-]{36})$/i.exec(cursor);
    if (!match || !isJobId(match[2]!)) throw new BadRequest('after is not a cursor of this API');
    after = { micros: match[1]!, jobId: match[2]! };
  }
  return {
    state,
    queue: name('queue'),
    jobType: name('type'),
    from: date('from'),
    to: date('to'),
    text: name('q'),
    order,
    after,
  };
}

/** The dashboard's reads, shaped for its API, with `redact` applied to everything from payloads and errors. */
export class DashboardData {
  #db: Queryable;
  #tables: Tables;
  #redact: Redact | null;
  #searchTimeMs: number;

  constructor(db: Queryable, tables: Tables, redact: Redact | null, searchTimeMs: number = DEFAULT_SEARCH_TIME_MS) {
    this.#db = db;
    this.#tables = tables;
    this.#redact = redact;
    this.#searchTimeMs = searchTimeMs;
  }

  async overview(): Promise<Overview> {
    const [live, hour, day, paused] = await Promise.all([
      liveCounts(this.#db, this.#tables),
      finishedBuckets(this.#db, this.#tables, 3600, 60),
      finishedBuckets(this.#db, this.#tables, 86_400, 900),
      pausedQueues(this.#db, this.#tables),
    ]);
    const now = Date.now();
    const queues = new Map<string, QueueOverview>();
    const queueOf = (queue: string) => {
      let entry = queues.get(queue);
      if (!entry) {
        entry = {
          queue,
          waiting: 0,
          scheduled: 0,
          running: 0,
          retrying: 0,
          succeededLastHour: 0,
          failedLastHour: 0,
          succeededLastDay: 0,
          failedLastDay: 0,
          oldestDueAgeMs: null,
          paused: false,
        };
        queues.set(queue, entry);
      }
      return entry;
    };
    for (const queue of paused) queueOf(queue).paused = true;
    for (const row of live) {
      const entry = queueOf(row.queue);
      entry[row.state] += row.count;
      if (row.oldest_due_at) entry.oldestDueAgeMs = Math.max(0, now - row.oldest_due_at.getTime());
    }
    for (const row of hour) {
      const entry = queueOf(row.queue);
      if (row.status === 'success') entry.succeededLastHour += row.count;
      else if (row.status === 'failure') entry.failedLastHour += row.count;
    }
    for (const row of day) {
      const entry = queueOf(row.queue);
      if (row.status === 'success') entry.succeededLastDay += row.count;
      else if (row.status === 'failure') entry.failedLastDay += row.count;
    }
    return {
      generatedAt: new Date(now).toISOString(),
      queues: [...queues.values()].sort((a, b) => a.queue.localeCompare(b.queue)),
      lastHour: series(hour, now, 3600, 60),
      lastDay: series(day, now, 86_400, 900),
    };
  }

  async jobs(query: JobQuery): Promise<JobPage> {
    const wanted = PAGE_SIZE + 1;
    const list = { ...query, full: this.#redact !== null };
    let rows: JobListRow[] = [];
    let stopped: Stopped | null = null;
    if (STATUS_OF_ARCHIVED_STATE[query.state] && narrowsArchive(query)) {
      // Finished jobs by queue, type or text: the archive's indexes find
      // them by state and time only, so they are searched a stretch at a time.
      stopped = await this.#searchArchive(query, query.order, query.after, async (after, through) => {
        rows.push(...(await listJobs(this.#db, this.#tables, { ...list, after, through, limit: wanted - rows.length })));
        return rows.length >= wanted;
      });
    } else {
      rows = await listJobs(this.#db, this.#tables, { ...list, limit: wanted });
    }
    const page = rows.slice(0, PAGE_SIZE);
    const last = page[page.length - 1];
    let next: string | null = null;
    if (rows.length > PAGE_SIZE && last) next = `${last.sort_micros}_${last.job_id}`;
    else if (stopped) next = `${stopped.at.micros}_${stopped.at.jobId}`;
    return {
      jobs: page.map((row) => this.#summary(row, query.state)),
      next,
      searched: stopped && searchedSoFar(stopped),
    };
  }

  async job(jobId: string): Promise<JobDetail | null> {
    const row = await findJob(this.#db, this.#tables, jobId);
    if (!row) return null;
    const { payload, lastError } = this.#redacted(row.job_id, row.queue, row.job_type, row.payload, row.last_error);
    const error = storedError(lastError);
    // Earlier errors go through `redact` as a last error each: a function
    // written for `lastError` hides the same secrets in all of them.
    const earlier = (Array.isArray(row.error_history) ? (row.error_history as unknown[]) : [])
      .map((stored) => storedError(this.#redacted(row.job_id, row.queue, row.job_type, row.payload, stored).lastError))
      .filter((stored): stored is StoredError => stored !== null);
    const errors = error && row.attempts > 0 ? [...earlier, error] : earlier;
    const timeline: TimelineEntry[] = [{ at: row.enqueued_at.toISOString(), what: 'Enqueued' }];
    errors.forEach((failed, i) => {
      const attempt = failed.attempt ?? (i === errors.length - 1 ? row.attempts : undefined);
      timeline.push({
        at: failed.failedAt ?? null,
        what: `Attempt ${attempt ?? '?'} failed: ${failed.name ?? 'Error'}: ${failed.message ?? ''}`,
      });
    });
    if (row.finished_at) {
      timeline.push({ at: row.process_at.toISOString(), what: 'Last due' });
      timeline.push({ at: row.finished_at.toISOString(), what: row.state === 'succeeded' ? 'Succeeded' : `Finished: ${row.state}` });
    } else if (row.locked_by && row.process_at.getTime() > Date.now()) {
      timeline.push({ at: row.process_at.toISOString(), what: 'Lease runs out' });
    } else {
      timeline.push({ at: row.process_at.toISOString(), what: row.attempts > 0 ? `Attempt ${row.attempts + 1} due` : 'Due' });
    }
    return {
      id: row.job_id,
      queue: row.queue,
      jobType: row.job_type,
      state: row.state,
      priority: row.priority,
      attempts: row.attempts,
      abandonedRuns: row.abandoned_runs,
      enqueuedAt: row.enqueued_at.toISOString(),
      processAt: row.process_at.toISOString(),
      finishedAt: row.finished_at?.toISOString() ?? null,
      uniqueKey: row.unique_key,
      lockedBy: row.locked_by,
      payload,
      lastError: error,
      errors,
      timeline: inTimeOrder(timeline),
    };
  }

  async workers(): Promise<WorkerInfo[]> {
    const rows = await onlineWorkers(this.#db, this.#tables);
    return rows.map((row) => ({
      instanceId: row.instance_id,
      workerId: row.worker_id,
      queue: row.queue,
      host: row.host,
      pid: row.pid,
      concurrency: row.concurrency,
      startedAt: row.started_at.toISOString(),
      lastSeenAt: row.last_seen_at.toISOString(),
      jobsDone: Number(row.jobs_done),
      runningJobs: row.running_jobs,
    }));
  }

  async count(filter: JobListFilter): Promise<JobCount> {
    if (!STATUS_OF_ARCHIVED_STATE[filter.state]) {
      return { count: await countMatchingJobs(this.#db, this.#tables, filter), searched: null };
    }
    // Newest first, as far as the time allows: in a stretch of the state and
    // range alone every job matches, and the stretch's length is its count.
    let count = 0;
    const narrowed = narrowsArchive(filter);
    const stopped = await this.#searchArchive(filter, 'desc', undefined, async (after, through, jobs) => {
      count += through && !narrowed ? jobs : await countMatchingJobs(this.#db, this.#tables, filter, { order: 'desc', after, through });
      return false;
    });
    return { count, searched: stopped && searchedSoFar(stopped) };
  }

  /**
   * Reads the archived jobs of the filter's state and time range in the
   * order `order`, from `after` on, a stretch at a time: `visit` is called
   * with each stretch's bounds (`through` included; undefined for the rest
   * of the archive, when fewer jobs are left than the stretch would hold)
   * and its length, until it answers that it has enough, the archive ends,
   * or the search time is spent. Each stretch is as long as the time left
   * allows at the pace of those before it, and at most four times the one
   * before: a first short one answers at once when matches are common.
   * Resolves to where the search stopped for want of time, or null.
   */
  async #searchArchive(
    filter: JobListFilter,
    order: 'asc' | 'desc',
    after: ListPosition | undefined,
    visit: (after: ListPosition | undefined, through: ListPosition | undefined, jobs: number) => Promise<boolean>,
  ): Promise<Stopped | null> {
    const started = performance.now();
    let from = after;
    let read = 0;
    let stretch = FIRST_STRETCH;
    for (;;) {
      const through = (await archivePositionAfter(this.#db, this.#tables, filter, order, from, stretch)) ?? undefined;
      if ((await visit(from, through, stretch)) || !through) return null;
      read += stretch;
      from = through;
      const elapsed = performance.now() - started;
      const affordable = Math.floor((this.#searchTimeMs - elapsed) / (elapsed / read));
      stretch = Math.min(stretch * 4, affordable);
      if (!(stretch >= MIN_STRETCH)) return { jobs: read, at: through };
    }
  }

  async schedules(): Promise<ScheduleSummary[]> {
    const schedules = await listSchedules(this.#db, {
      schema: this.#tables.schemaName,
      jobTable: this.#tables.jobTableName,
      archivedJobTable: this.#tables.archivedJobTableName,
      nextRuns: 5,
    });
    return schedules.map((s) => ({
      name: s.name,
      cron: s.cron,
      timezone: s.timezone,
      jobType: s.jobType,
      queue: s.queue,
      lastSlot: s.lastSlot?.toISOString() ?? null,
      nextRuns: s.nextRuns.map((run) => run.toISOString()),
      definedAt: s.definedAt.toISOString(),
    }));
  }

  names(): Promise<KnownNames> {
    return knownNames(this.#db, this.#tables);
  }

  #summary(row: JobListRow, state: string): JobSummary {
    let preview = row.payload_text;
    let error = row.last_error;
    if (this.#redact) {
      const redacted = this.#redacted(row.job_id, row.queue, row.job_type, JSON.parse(row.payload_text), row.last_error);
      preview = JSON.stringify(redacted.payload) ?? '';
      error = redacted.lastError;
    }
    return {
      ...listedJobFields(row, state),
      payloadPreview: preview.length > 300 ? `${preview.slice(0, 300)}…` : preview,
      errorMessage: storedError(error)?.message ?? null,
    };
  }

  #redacted(id: string, queue: string, jobType: string, payload: unknown, lastError: unknown): { payload: unknown; lastError: unknown } {
    if (!this.#redact) return { payload, lastError };
    const result = this.#redact({ id, queue, jobType, payload, lastError });
    return { payload: result.payload, lastError: result.lastError };
  }
}

/** The first stretch of the archive a search reads, and the shortest it goes on with. */
const FIRST_STRETCH = 1_000;
const MIN_STRETCH = 1_000;

/** Where a search of the archive stopped for want of time: the jobs it read, and the last of them. */
interface Stopped {
  jobs: number;
  at: ListPosition;
}

function searchedSoFar(stopped: Stopped): ArchiveSearch {
  return { jobs: stopped.jobs, until: new Date(Number(BigInt(stopped.at.micros) / 1000n)).toISOString() };
}

/** The entries by time; one without a time (an error stored before failure times were) stays after the entry before it. */
function inTimeOrder(entries: readonly TimelineEntry[]): TimelineEntry[] {
  let previous = '';
  const keyed = entries.map((entry, i) => ({ entry, i, key: (previous = entry.at ?? previous) }));
  keyed.sort((a, b) => a.key.localeCompare(b.key) || a.i - b.i);
  return keyed.map(({ entry }) => entry);
}

function storedError(value: unknown): StoredError | null {
  if (value === null || typeof value !== 'object') return null;
  const record = value as Record<string, unknown>;
  const text = (key: string) => (typeof record[key] === 'string' ? (record[key] as string) : undefined);
  const error: StoredError = {};
  const name = text('name');
  const message = text('message');
  const stack = text('stack');
  if (name !== undefined) error.name = name;
  if (message !== undefined) error.message = message;
  if (stack !== undefined) error.stack = stack;
  if (typeof record['attempt'] === 'number') error.attempt = record['attempt'];
  const failedAt = text('failedAt');
  if (failedAt !== undefined) error.failedAt = failedAt;
  return error;
}

function series(rows: readonly { status: string; bucket_ms: string; count: number }[], now: number, windowSeconds: number, bucketSeconds: number): FinishedSeries {
  const bucketMs = bucketSeconds * 1000;
  const last = Math.floor(now / bucketMs) * bucketMs;
  const count = Math.ceil(windowSeconds / bucketSeconds) + 1;
  const first = last - (count - 1) * bucketMs;
  const start = Array.from({ length: count }, (_, i) => first + i * bucketMs);
  const succeeded = new Array<number>(count).fill(0);
  const failed = new Array<number>(count).fill(0);
  for (const row of rows) {
    const index = Math.round((Number(row.bucket_ms) - first) / bucketMs);
    if (index < 0 || index >= count) continue;
    if (row.status === 'success') succeeded[index]! += row.count;
    else if (row.status === 'failure') failed[index]! += row.count;
  }
  return { bucketMs, start, succeeded, failed };
}
