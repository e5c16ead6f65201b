import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { InvalidOptionError } from '../errors.js';
import type { TableOptions } from '../tables.js';
import type { JobHandlers } from '../worker/options.js';
import { createWorker } from '../worker/worker.js';
import { optionalWholeNumber } from './args.js';
import { stringValue, type CommandSpec, type Values } from './command-line.js';

/** The flags of `proletarian worker`, as parsed. */
export interface WorkerFlags {
  handlers?: string | undefined;
  queue?: string | undefined;
  concurrency?: string | undefined;
}

/** What `proletarian worker` will run, checked before anything is loaded or connected. */
export interface WorkerPlan {
  readonly modulePath: string;
  readonly queue: string | undefined;
  readonly concurrency: number;
  readonly tables: TableOptions;
}

export function planWorker(flags: WorkerFlags, tables: TableOptions): WorkerPlan {
  if (flags.handlers === undefined) {
    throw new InvalidOptionError('--handlers is required: a module that exports `handlers`, e.g. --handlers ./dist/jobs.js');
  }
  return {
    modulePath: path.resolve(flags.handlers),
    queue: flags.queue,
    concurrency: optionalWholeNumber('--concurrency', flags.concurrency) ?? 1,
    tables,
  };
}

/**
 * Runs a worker on the handlers a module exports until SIGTERM or SIGINT,
 * then stops it gracefully (running jobs finish, up to the shutdown timeout)
 * and closes the pool. A second signal ends the process at once. Returns the
 * exit code.
 */
export async function runWorker(connectionString: string, plan: WorkerPlan): Promise<number> {
  const handlers = await loadHandlers(plan.modulePath);
  // A connection per loop, and one to spare for the lost-transaction reports and retention.
  const pool = new pg.Pool({ connectionString, max: plan.concurrency + 1 });
  const worker = createWorker(pool, {
    ...plan.tables,
    handlers,
    ...(plan.queue === undefined ? {} : { queue: plan.queue }),
    concurrency: plan.concurrency,
  });
  let stopRequested!: () => void;
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // The next one is not caught: it ends the process, running jobs rolled back by the server.
    process.once(signal, () => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)));
    stopRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await worker.start();
    await stopped;
    await worker.stop();
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await pool.end();
  }
}

async function loadHandlers(modulePath: string): Promise<JobHandlers> {
  let module: { handlers?: unknown; default?: unknown };
  try {
    module = (await import(pathToFileURL(modulePath).href)) as { handlers?: unknown; default?: unknown };
  } catch (error) {
    throw new InvalidOptionError(
      `--handlers: cannot load ${modulePath}: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  // `export const handlers = {...}`, or `export default { handlers }` (also what a CommonJS module's exports become).
  const fromDefault = (module.default as { handlers?: unknown } | null | undefined)?.handlers;
  const handlers = module.handlers ?? fromDefault;
  if (handlers === null || typeof handlers !== 'object' || Array.isArray(handlers)) {
    throw new InvalidOptionError(
      `--handlers: ${modulePath} must export \`handlers\`, an object of job type → handler ` +
        '(`export const handlers = { ... }`, or `module.exports = { handlers }`)',
    );
  }
  return handlers as JobHandlers;
}

export const WORKER: CommandSpec = {
  name: 'worker',
  summary: 'Run a worker on the handlers a module exports',
  synopsis: '--handlers <module> [options]',
  description:
    'Run a worker on the handlers a module exports, until SIGTERM or SIGINT (then running jobs finish, up to 10 s; ' +
    'a second signal ends it at once).',
  options: {
    handlers: {
      type: 'string',
      value: '<module>',
      help: 'Required. A module (ESM or CommonJS) that exports `handlers`, an object of job type → handler, e.g. ./dist/jobs.js',
    },
    queue: { type: 'string', value: '<name>', help: 'Queue to serve (default: default)' },
    concurrency: { type: 'string', value: '<n>', help: 'Jobs run in parallel (default: 1)' },
  },
  connects: true,
};

export function workerFlags(values: Values): WorkerFlags {
  return {
    handlers: stringValue(values, 'handlers'),
    queue: stringValue(values, 'queue'),
    concurrency: stringValue(values, 'concurrency'),
  };
}
