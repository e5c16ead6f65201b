import { cronSlots, type CronSlots } from './cron.js';
import { InvalidOptionError, ProletarianError } from './errors.js';
import { serializePayload, validateName } from './payload.js';
import type { JobType, PayloadOf } from './types.js';
import { describe, milliseconds, rejectUnknownKeys, requireObject } from './validate.js';

/**
 * A recurring job: at every slot of `cron` (in `timezone`), one job of
 * `jobType` with `payload`, due at the slot's time — one per slot however
 * many workers run the schedule.
 */
export type ScheduleDefinition<T extends JobType = JobType> = T extends JobType
  ? {
      /**
       * A cron expression: 5 fields (`minute hour day-of-month month
       * day-of-week`), or 6 with seconds first. Names (`MON`, `JAN`),
       * ranges, lists, steps, `L`, `W`, `#` and nicknames such as `@daily`
       * are understood. A job runs when day-of-month or day-of-week matches,
       * as in Vixie cron.
       */
      cron: string;
      /** The IANA time zone the expression is read in. @defaultValue `'UTC'` */
      timezone?: string;
      jobType: T;
      payload: PayloadOf<T>;
      /** The queue the jobs go to. @defaultValue the worker's queue */
      queue?: string;
      /** The jobs' priority, as `enqueue` takes it. @defaultValue the queue's default */
      priority?: number;
      /**
       * After a time when no worker ran the schedule, enqueue the slots missed
       * within this many milliseconds (each once), then go on. With 0, missed
       * slots are skipped and the schedule resumes at its next slot.
       * @defaultValue `0`
       */
      backfill?: number;
    }
  : never;

/** The `schedules` worker option: a {@link ScheduleDefinition} per schedule name. */
export type Schedules = Record<string, ScheduleDefinition>;

/** A schedule after validation. */
export interface ResolvedSchedule {
  readonly name: string;
  readonly slots: CronSlots;
  readonly jobType: string;
  /** A copy of the payload as JSON gives it back, so later changes to the app's object do not leak in. */
  readonly payload: unknown;
  readonly queue: string;
  readonly priority: number | null;
  readonly backfill: number;
}

const SCHEDULE_KEYS = new Set(['cron', 'timezone', 'jobType', 'payload', 'queue', 'priority', 'backfill']);

// The range of PostgreSQL's smallint, which priorities are stored as.
const MIN_PRIORITY = -32_768;
const MAX_PRIORITY = 32_767;

/**
 * Validates the `schedules` option once, at `createWorker`: every name,
 * expression, zone, job type, payload and setting, with errors that name
 * the schedule and the field.
 */
export function resolveSchedules(schedules: unknown, defaultQueue: string): ResolvedSchedule[] {
  if (schedules === undefined) return [];
  requireObject(schedules, 'schedules must be an object mapping schedule names to { cron, jobType, payload, ... }');
  return Object.entries(schedules).map(([name, definition]) => {
    const where = `schedules[${JSON.stringify(name)}]`;
    asOption(where, () => validateName('schedule name', name));
    requireObject(definition, `${where} must be an object { cron, timezone?, jobType, payload, queue?, priority?, backfill? }`);
    rejectUnknownKeys(definition, SCHEDULE_KEYS, `${where}: unknown option`);
    if (!('payload' in definition)) {
      throw new InvalidOptionError(`${where}.payload is required (null for none)`);
    }
    const payloadJson = asOption(`${where}.payload`, () => serializePayload(definition['payload']));
    return {
      name,
      slots: cronSlots(where, definition['cron'], definition['timezone']),
      jobType: asOption(`${where}.jobType`, () => validateName('job type', definition['jobType'])),
      payload: JSON.parse(payloadJson) as unknown,
      queue:
        definition['queue'] === undefined
          ? defaultQueue
          : asOption(`${where}.queue`, () => validateName('queue', definition['queue'])),
      priority: definition['priority'] === undefined ? null : priority(`${where}.priority`, definition['priority']),
      backfill:
        definition['backfill'] === undefined ? 0 : milliseconds(`${where}.backfill`, definition['backfill'], { min: 0 }),
    };
  });
}

function priority(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_PRIORITY || value > MAX_PRIORITY) {
    throw new InvalidOptionError(
      `${option} must be a whole number from ${MIN_PRIORITY} to ${MAX_PRIORITY}; got ${describe(value)}`,
    );
  }
  return value;
}

/** Runs a check of payload.ts and reports its failure as an invalid option, named after `where`. */
function asOption<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof ProletarianError && !(error instanceof InvalidOptionError)) {
      throw new InvalidOptionError(`${where}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
