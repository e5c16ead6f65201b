// The JSON the dashboard's API answers with: read by the page's script, and
// usable by any other client. Times are ISO strings, counts numbers.

/** `GET api/meta`: what the page needs before anything else. */
export interface DashboardMeta {
  title: string;
  /** Send in the `x-proletarian-csrf` header with every action; null when read-only. */
  csrfToken: string | null;
  readOnly: boolean;
  /** Actions on one job this dashboard offers (none when read-only): `POST api/jobs/<id>/<action>`. */
  jobActions: string[];
  /** The states in which the page offers each job action. */
  jobActionStates: Record<string, string[]>;
  /** Actions on every job that matches a filter, with the states each applies to: `POST api/bulk/<action>?<filter>`. */
  bulkActions: Record<string, string[]>;
  /** Actions on a queue: `POST api/queues/<queue>/<action>`. */
  queueActions: string[];
  /** States of jobs in the job table, then of archived ones. */
  liveStates: string[];
  archivedStates: string[];
  /** How often the overview and workers pages refresh. */
  pollIntervalMs: number;
}

export interface QueueOverview {
  queue: string;
  waiting: number;
  scheduled: number;
  running: number;
  retrying: number;
  succeededLastHour: number;
  failedLastHour: number;
  succeededLastDay: number;
  failedLastDay: number;
  /** How long the longest-waiting due job has waited; null when none waits. */
  oldestDueAgeMs: number | null;
  /** Whether the queue is paused (`pauseQueue`): its workers claim none of its jobs. */
  paused: boolean;
}

/** Finished jobs per time bucket: `start` holds each bucket's start in epoch milliseconds. */
export interface FinishedSeries {
  bucketMs: number;
  start: number[];
  succeeded: number[];
  failed: number[];
}

/** `GET api/overview`. */
export interface Overview {
  generatedAt: string;
  queues: QueueOverview[];
  lastHour: FinishedSeries;
  lastDay: FinishedSeries;
}

export interface JobSummary {
  id: string;
  queue: string;
  jobType: string;
  state: string;
  priority: number;
  attempts: number;
  enqueuedAt: string;
  processAt: string;
  finishedAt: string | null;
  uniqueKey: string | null;
  /** The payload's JSON, cut short. */
  payloadPreview: string;
  errorMessage: string | null;
}

/**
 * How far a search of the archive went before its time was up (the
 * dashboard's `searchTime`): a list of finished jobs filtered by queue, job
 * type or text, or a count of finished jobs, reads the archive a stretch at
 * a time and answers with what it found so far.
 */
export interface ArchiveSearch {
  /** How many jobs of the state (and time range) it read, matching or not. */
  jobs: number;
  /** The time of the last job it read (its finish time): the search goes on from there. */
  until: string;
}

/** `GET api/jobs?state=…`: one page; `next` is the cursor of the following one, or null at the end. */
export interface JobPage {
  jobs: JobSummary[];
  next: string | null;
  /**
   * Set when the search stopped before the page was full and before the end
   * of the list: `jobs` holds the matches among the jobs read, and `next`
   * goes on from the last job read. Null otherwise.
   */
  searched: ArchiveSearch | null;
}

export interface StoredError {
  name?: string;
  message?: string;
  stack?: string;
  attempt?: number;
  /** When the attempt failed (ISO 8601); absent for errors stored before it was recorded. */
  failedAt?: string;
}

export interface TimelineEntry {
  /** Null when the time was not recorded (a failed attempt stored before failure times were). */
  at: string | null;
  what: string;
}

/** `GET api/jobs/<id>`. */
export interface JobDetail {
  id: string;
  queue: string;
  jobType: string;
  state: string;
  priority: number;
  attempts: number;
  abandonedRuns: number | null;
  enqueuedAt: string;
  processAt: string;
  finishedAt: string | null;
  uniqueKey: string | null;
  lockedBy: string | null;
  payload: unknown;
  lastError: StoredError | null;
  /** Every failed attempt's error that is kept, oldest first: the last is `lastError`. */
  errors: StoredError[];
  timeline: TimelineEntry[];
}

/** `GET api/workers`: one entry per running worker. */
export interface WorkerInfo {
  instanceId: string;
  workerId: string;
  queue: string;
  host: string;
  pid: number;
  concurrency: number;
  startedAt: string;
  lastSeenAt: string;
  jobsDone: number;
  /** Jobs its handlers ran at its last heartbeat. */
  runningJobs: string[];
}

/** `GET api/names`: choices for the filters. */
export interface KnownNames {
  queues: string[];
  jobTypes: string[];
}

/** The answer to an action, and to any request that failed. */
export interface ActionAnswer {
  ok: boolean;
  message: string;
  /** How many jobs a bulk action touched. */
  count?: number;
}

/** `GET api/jobs/count?state=…`: how many jobs match the filter (what a bulk action on it would touch). */
export interface JobCount {
  count: number;
  /**
   * Set when counting finished jobs stopped at its time: `count` is of the
   * newest jobs up to `searched.until`, and older ones may match too (a bulk
   * action goes through them all). Null when the count is complete.
   */
  searched: ArchiveSearch | null;
}

/** A recurring schedule, as `listSchedules` knows it. */
export interface ScheduleSummary {
  name: string;
  cron: string;
  timezone: string;
  jobType: string;
  queue: string;
  /** The slot of the last job it enqueued; null until one was. */
  lastSlot: string | null;
  /** Its next slots after now. */
  nextRuns: string[];
  definedAt: string;
}

/** `GET api/schedules`. */
export interface ScheduleList {
  schedules: ScheduleSummary[];
}
