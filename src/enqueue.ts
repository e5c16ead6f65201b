import { InvalidOptionError, ProletarianError, SchemaNotReadyError } from './errors.js';
import { newJobId } from './job-id.js';
import { queryableOf } from './db/adapt.js';
import type { DbClient } from './db/shapes.js';
import { requirePayloadSize, serializePayload, validateName } from './payload.js';
import { insertJob, insertJobs, notifyChannelFor, type NewJob } from './sql/jobs.js';
import { isUndefinedTableOrSchema } from './sql/migrations.js';
import { resolveTableOptions, resolveTables, TABLE_OPTION_KEYS, type TableOptions, type Tables } from './tables.js';
import type { JobType, PayloadOf } from './types.js';
import { milliseconds, rejectUnknownKeys, requireObject, validDate, wholeNumber } from './validate.js';

/** Options shared by {@link enqueue} and {@link enqueueMany}. */
export interface EnqueueLimits extends TableOptions {
  /**
   * Refuse a payload larger than this many bytes of JSON with an
   * `InvalidPayloadError`, before anything is written. @defaultValue no limit
   */
  maxPayloadBytes?: number;
}

/** Options of {@link enqueue}. */
export interface EnqueueOptions extends EnqueueLimits {
  /** Queue to put the job on. @defaultValue `'default'` */
  queue?: string;
  /** Run no earlier than this instant. A time in the past means now. Wins over `processIn`. */
  processAt?: Date;
  /** Run no earlier than this many milliseconds from now. */
  processIn?: number;
}

/** One job of {@link enqueueMany}. */
export type JobSpec<T extends JobType = JobType> = T extends JobType
  ? {
      jobType: T;
      payload: PayloadOf<T>;
      /** @defaultValue `'default'` */
      queue?: string;
      processAt?: Date;
      processIn?: number;
    }
  : never;

// Far beyond any sensible delay; it keeps the due time inside PostgreSQL's range of timestamps.
const PROCESS_IN_BOUNDS = { max: 100 * 365.25 * 24 * 3600 * 1000, maxInWords: '100 years' };

const LIMIT_OPTIONS = [...TABLE_OPTION_KEYS, 'maxPayloadBytes'];
const ENQUEUE_OPTIONS = new Set([...LIMIT_OPTIONS, 'queue', 'processAt', 'processIn']);
const ENQUEUE_MANY_OPTIONS = new Set(LIMIT_OPTIONS);
const JOB_SPEC_KEYS = new Set(['jobType', 'payload', 'queue', 'processAt', 'processIn']);

/** The queue `enqueue` and `createWorker` use when none is named. */
export const DEFAULT_QUEUE = 'default';

/**
 * Puts a job on a queue and returns its id.
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
  await runInsert(tables, () => insertJob(queryable, tables, job));
  return job.jobId;
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
    throw new InvalidOptionError('enqueueMany expects an array of { jobType, payload, queue?, processAt?, processIn? }');
  }
  const maxPayloadBytes = maxPayloadBytesOf(options);
  const newJobs = jobs.map((spec: JobSpec, index) => {
    requireObject(spec, `jobs[${index}] must be an object { jobType, payload, ... }`);
    rejectUnknownKeys(spec, JOB_SPEC_KEYS, `jobs[${index}]: unknown option`);
    return newJob(spec.jobType, spec.payload, spec, maxPayloadBytes, `jobs[${index}]: `);
  });
  if (newJobs.length === 0) return [];
  await runInsert(tables, () => insertJobs(queryable, tables, newJobs));
  return newJobs.map((job) => job.jobId);
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
  options: { queue?: string; processAt?: Date; processIn?: number },
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
    return {
      jobId: newJobId(),
      jobType: validateName('job type', jobType),
      queue: validateName('queue', options.queue ?? DEFAULT_QUEUE),
      payloadJson,
      // Any past time means "now"; clamping keeps ancient dates inside PostgreSQL's range.
      processAt: processAt === undefined ? null : processAt.getTime() < 0 ? new Date(0) : processAt,
      // Likewise a negative delay; it also keeps huge negative numbers inside interval's range.
      processIn: processIn === undefined ? null : Math.max(processIn, 0),
    };
  } catch (error) {
    throw at(error as Error);
  }
}


async function runInsert(tables: Tables, insert: () => Promise<void>): Promise<void> {
  try {
    await insert();
  } catch (error) {
    if (isUndefinedTableOrSchema(error)) {
      throw new SchemaNotReadyError(
        `cannot enqueue: the table ${tables.job} does not exist; run \`await migrate(pool)\` or \`npx proletarian migrate\` first`,
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
