import { InvalidOptionError, ProletarianError, SchemaNotReadyError } from './errors.js';
import { newJobId } from './job-id.js';
import { queryableOf } from './db/adapt.js';
import type { DbClient } from './db/shapes.js';
import { requirePayloadSize, serializePayload, validateName } from './payload.js';
import { DEFAULT_PRIORITY, validPriority } from './priority.js';
import { insertJob, insertJobs, insertUniqueJobs, notifyChannelFor, type NewJob } from './sql/jobs.js';
import { isUndefinedTableOrSchema } from './sql/migrations.js';
import { traceEnqueue } from './telemetry/producer.js';
import { resolveTableOptions, resolveTables, TABLE_OPTION_KEYS, type TableOptions, type Tables } from './tables.js';
import type { JobType, PayloadOf, Queryable } from './types.js';
import { milliseconds, rejectUnknownKeys, requireObject, validDate, wholeNumber } from './validate.js';

/** Options shared by {@link enqueue} and {@link enqueueMany}. */
export interface EnqueueLimits extends TableOptions {
  /**
   * Refuse a payload larger than this many bytes of JSON with an
   * `InvalidPayloadError`, before anything is written. @defaultValue no limit
   */
  maxPayloadBytes?: number;
}

/** Where, when and how urgently a job runs, and what makes it unique: options of {@link enqueue} and of each {@link JobSpec}. */
export interface JobPlacement {
  /** Queue to put the job on. @defaultValue `'default'` */
  queue?: string;
  /** Run no earlier than this instant. A time in the past means now. Wins over `processIn`. */
  processAt?: Date;
  /** Run no earlier than this many milliseconds from now. */
  processIn?: number;
  /**
   * An integer from -32768 to 32767; **lower runs first**. Among a queue's
   * due jobs, the most urgent priority runs first, then the longest due,
   * then the first enqueued. A retry keeps its priority. @defaultValue `0`
   */
  priority?: number;
  /**
   * At most one unfinished job (waiting, scheduled, retrying or running)
   * per queue holds a key: while one does, enqueueing another with the same
   * key inserts nothing and returns the id of the one there. The key is
   * free again once that job finishes.
   */
  uniqueKey?: string;
  /**
   * With `uniqueKey`, when an unfinished job holds the key: `'keep'` leaves
   * it as it is; `'replace'` gives a waiting job this one's payload,
   * `processAt`/`processIn` and priority (debounce). A change enqueued while
   * the holder runs is never lost: it runs after that run ends.
   * @defaultValue `'keep'`
   */
  onConflict?: 'keep' | 'replace';
}

/** Options of {@link enqueue}. */
export interface EnqueueOptions extends EnqueueLimits, JobPlacement {}

/** One job of {@link enqueueMany}. */
export type JobSpec<T extends JobType = JobType> = T extends JobType
  ? JobPlacement & {
      jobType: T;
      payload: PayloadOf<T>;
    }
  : never;

// Far beyond any sensible delay; it keeps the due time inside PostgreSQL's range of timestamps.
const PROCESS_IN_BOUNDS = { max: 100 * 365.25 * 24 * 3600 * 1000, maxInWords: '100 years' };

const LIMIT_OPTIONS = [...TABLE_OPTION_KEYS, 'maxPayloadBytes'];
const PLACEMENT_OPTIONS = ['queue', 'processAt', 'processIn', 'priority', 'uniqueKey', 'onConflict'];
const ENQUEUE_OPTIONS = new Set([...LIMIT_OPTIONS, ...PLACEMENT_OPTIONS]);
const ENQUEUE_MANY_OPTIONS = new Set(LIMIT_OPTIONS);
const JOB_SPEC_KEYS = new Set(['jobType', 'payload', ...PLACEMENT_OPTIONS]);
const ON_CONFLICT = new Set(['keep', 'replace']);
const MAX_UNIQUE_KEY_LENGTH = 1_000;
// A key whose holder finishes between the insert that met it and the read
// that looks for it is inserted again; that keeps happening only when the
// key is enqueued and finished in a tight loop.
const MAX_KEY_ROUNDS = 10;

/** The queue `enqueue` and `createWorker` use when none is named. */
export const DEFAULT_QUEUE = 'default';

/**
 * Puts a job on a queue and returns its id — with a `uniqueKey` already
 * held, the id of the job holding it.
 *
 * Runs exactly one `INSERT` on `db` and never begins or commits: pass the
 * client of your own transaction and the job exists if and only if your
 * transaction commits (the outbox pattern). With a `pg.Pool`, the job is
 * committed at once.
 */
export async function enqueue<T extends JobType>(
  db: DbClient,
  jobType: T,
  payload: PayloadOf<T>,
  options: EnqueueOptions = {},
): Promise<string> {
  const queryable = queryableOf(db);
  const tables = resolveOptions(options, ENQUEUE_OPTIONS, 'enqueue');
  const job = newJob(jobType, payload, options, maxPayloadBytesOf(options), '');
  const insert = async () => {
    if (job.uniqueKey !== null) return (await runInsert(tables, () => insertWithKeys(queryable, tables, [job])))[0]!;
    await runInsert(tables, () => insertJob(queryable, tables, job));
    return job.jobId;
  };
  return traceEnqueue([job], insert, (jobId) => jobId);
}

/**
 * Puts many jobs on their queues in one statement and returns their ids in the
 * order given. All or none are inserted; like {@link enqueue}, it runs inside
 * the caller's transaction when given one.
 */
export async function enqueueMany(
  db: DbClient,
  jobs: readonly JobSpec[],
  options: EnqueueLimits = {},
): Promise<string[]> {
  const queryable = queryableOf(db);
  const tables = resolveOptions(options, ENQUEUE_MANY_OPTIONS, 'enqueueMany');
  if (!Array.isArray(jobs)) {
    throw new InvalidOptionError(
      'enqueueMany expects an array of { jobType, payload, queue?, processAt?, processIn?, priority?, uniqueKey?, onConflict? }',
    );
  }
  const maxPayloadBytes = maxPayloadBytesOf(options);
  const newJobs = jobs.map((spec: JobSpec, index) => {
    requireObject(spec, `jobs[${index}] must be an object { jobType, payload, ... }`);
    rejectUnknownKeys(spec, JOB_SPEC_KEYS, `jobs[${index}]: unknown option`);
    return newJob(spec.jobType, spec.payload, spec, maxPayloadBytes, `jobs[${index}]: `);
  });
  if (newJobs.length === 0) return [];
  const insert = async () => {
    if (!newJobs.some((job) => job.uniqueKey !== null)) {
      await runInsert(tables, () => insertJobs(queryable, tables, newJobs));
      return newJobs.map((job) => job.jobId);
    }
    return runInsert(tables, () => insertWithKeys(queryable, tables, newJobs));
  };
  return traceEnqueue(newJobs, insert, (ids) => (ids.length === 1 ? ids[0]! : null));
}

/**
 * Inserts jobs some of which have unique keys, in one statement but for
 * keys whose holder finished meanwhile; resolves with each job's id in
 * input order: the id of the job holding its key, for those with one.
 */
async function insertWithKeys(db: Queryable, tables: Tables, jobs: readonly NewJob[]): Promise<string[]> {
  const keyOf = (job: { queue: string; uniqueKey: string | null }) => `${job.queue}\u0000${job.uniqueKey}`;
  const modes = new Set(jobs.filter((job) => job.uniqueKey !== null).map((job) => job.onConflict));
  if (modes.size > 1) {
    throw new InvalidOptionError(
      "enqueueMany: jobs with a uniqueKey must all use the same onConflict ('keep' or 'replace'); enqueue the others in another call",
    );
  }
  const onConflict = modes.values().next().value ?? 'keep';
  // Repeats of a key in one call collapse to the first.
  const firstWithKey = new Map<string, NewJob>();
  const toInsert: NewJob[] = [];
  for (const job of jobs) {
    if (job.uniqueKey !== null) {
      if (firstWithKey.has(keyOf(job))) continue;
      firstWithKey.set(keyOf(job), job);
    }
    toInsert.push(job);
  }
  const holders = new Map<string, string>();
  let pending: readonly NewJob[] = toInsert;
  for (let round = 0; pending.length > 0; round++) {
    if (round === MAX_KEY_ROUNDS) {
      throw new ProletarianError(
        `cannot enqueue: the jobs holding unique key(s) ${pending.map((job) => JSON.stringify(job.uniqueKey)).join(', ')} ` +
          `kept finishing while this enqueue looked for them (${MAX_KEY_ROUNDS} times); try again`,
      );
    }
    for (const holder of await insertUniqueJobs(db, tables, pending, onConflict)) {
      holders.set(keyOf({ queue: holder.queue, uniqueKey: holder.unique_key }), holder.job_id);
    }
    pending = pending.filter((job) => job.uniqueKey !== null && !holders.has(keyOf(job)));
  }
  return jobs.map((job) => (job.uniqueKey === null ? job.jobId : holders.get(keyOf(job))!));
}

/**
 * The channel on which enqueueing notifies workers, with the queue name as
 * payload. For jobs inserted by your own SQL (a trigger, a database
 * function): `SELECT pg_notify('<channel>', '<queue>')` wakes idle workers at
 * commit; without it they find the job at their next poll.
 */
export function notifyChannel(options: TableOptions = {}): string {
  return notifyChannelFor(resolveTableOptions(options, 'notifyChannel'));
}

/** The tables of `options`, once no key of them is unknown to `caller`. */
function resolveOptions(options: EnqueueLimits, known: ReadonlySet<string>, caller: string): Tables {
  requireObject(options, `${caller}: options must be an object`);
  rejectUnknownKeys(options, known, `unknown ${caller} option`);
  return resolveTables(options);
}

function maxPayloadBytesOf(options: EnqueueLimits): number | undefined {
  const max = options.maxPayloadBytes;
  return max === undefined ? undefined : wholeNumber('maxPayloadBytes', max, 1);
}

function newJob(
  jobType: unknown,
  payload: unknown,
  options: JobPlacement,
  maxPayloadBytes: number | undefined,
  where: string,
): NewJob {
  const at = (error: Error) => {
    if (where) error.message = where + error.message;
    return error;
  };
  try {
    const processAt = options.processAt === undefined ? undefined : validDate('processAt', options.processAt);
    const processIn =
      options.processIn === undefined
        ? undefined
        : milliseconds('processIn', options.processIn, PROCESS_IN_BOUNDS);
    const payloadJson = serializePayload(payload);
    requirePayloadSize(payloadJson, maxPayloadBytes);
    const uniqueKey = options.uniqueKey === undefined ? null : validUniqueKey(options.uniqueKey);
    if (options.onConflict !== undefined && !ON_CONFLICT.has(options.onConflict)) {
      throw new InvalidOptionError(`onConflict must be 'keep' or 'replace'; got ${JSON.stringify(options.onConflict)}`);
    }
    if (options.onConflict !== undefined && uniqueKey === null) {
      throw new InvalidOptionError('onConflict needs a uniqueKey: without one, every enqueue inserts a new job');
    }
    return {
      jobId: newJobId(),
      jobType: validateName('job type', jobType),
      queue: validateName('queue', options.queue ?? DEFAULT_QUEUE),
      payloadJson,
      // Any past time means "now"; clamping keeps ancient dates inside PostgreSQL's range.
      processAt: processAt === undefined ? null : processAt.getTime() < 0 ? new Date(0) : processAt,
      // Likewise a negative delay; it also keeps huge negative numbers inside interval's range.
      processIn: processIn === undefined ? null : Math.max(processIn, 0),
      priority: options.priority === undefined ? DEFAULT_PRIORITY : validPriority(options.priority),
      uniqueKey,
      onConflict: options.onConflict ?? 'keep',
      traceContext: null,
    };
  } catch (error) {
    throw at(error as Error);
  }
}


/** A unique key: text that PostgreSQL can store and index. */
function validUniqueKey(value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidOptionError(`uniqueKey must be a non-empty string; got ${value === '' ? 'an empty string' : typeof value}`);
  }
  if (value.length > MAX_UNIQUE_KEY_LENGTH) {
    throw new InvalidOptionError(`uniqueKey must be at most ${MAX_UNIQUE_KEY_LENGTH} characters; got ${value.length}`);
  }
  if (value.includes('\u0000')) throw new InvalidOptionError('uniqueKey must not contain NUL characters');
  return value;
}

// An older schema misses the columns a newer enqueue writes.
const UNDEFINED_COLUMN = '42703';

async function runInsert<T>(tables: Tables, insert: () => Promise<T>): Promise<T> {
  try {
    return await insert();
  } catch (error) {
    if (isUndefinedTableOrSchema(error)) {
      throw new SchemaNotReadyError(
        `cannot enqueue: the table ${tables.job} does not exist; run \`await migrate(pool)\` or \`npx proletarian migrate\` first`,
        { cause: error },
      );
    }
    if ((error as { code?: unknown } | null)?.code === UNDEFINED_COLUMN) {
      throw new SchemaNotReadyError(
        `cannot enqueue: the schema of ${tables.job} is older than this version of proletarian needs ` +
          `(${(error as Error).message}); run \`await migrate(pool)\` or \`npx proletarian migrate\` before deploying it`,
        { cause: error },
      );
    }
    if (error instanceof Error && /not queryable|Connection terminated|Cannot use a pool after calling end/i.test(error.message)) {
      throw new ProletarianError(`cannot enqueue: the database connection is closed (${error.message})`, {
        cause: error,
      });
    }
    throw error;
  }
}
