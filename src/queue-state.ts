import { SchemaNotReadyError } from './errors.js';
import { validateName } from './payload.js';
import { queryableOf } from './db/adapt.js';
import type { DbClient } from './db/shapes.js';
import { isUndefinedTableOrSchema } from './sql/migrations.js';
import { setQueuePaused } from './sql/queue-states.js';
import { resolveTableOptions, type TableOptions, type Tables } from './tables.js';

/**
 * Pauses `queue` for every worker that serves it: within about a second
 * (at once for workers that listen) they stop claiming its jobs; jobs
 * already running finish, and `enqueue` goes on working. The state is kept
 * in the database, so it outlasts restarts, until {@link resumeQueue}.
 *
 * Runs one statement on `db` and never begins or commits: on the client of
 * an open transaction it takes effect when that transaction commits.
 * Resolves to `true` if the queue was running, `false` if it was paused already.
 */
export async function pauseQueue(db: DbClient, queue: string, options: TableOptions = {}): Promise<boolean> {
  return changeState(db, queue, options, true, 'pauseQueue');
}

/**
 * Resumes a paused `queue`: workers that listen claim its jobs again at
 * once, the others within about a second. Runs on `db` like
 * {@link pauseQueue}. Resolves to `true` if the queue was paused, `false`
 * if it was not.
 */
export async function resumeQueue(db: DbClient, queue: string, options: TableOptions = {}): Promise<boolean> {
  return changeState(db, queue, options, false, 'resumeQueue');
}

async function changeState(
  dbClient: DbClient,
  queue: string,
  options: TableOptions,
  paused: boolean,
  caller: string,
): Promise<boolean> {
  const db = queryableOf(dbClient);
  const tables = resolveTableOptions(options, caller);
  validateName('queue', queue);
  try {
    return await setQueuePaused(db, tables, queue, paused);
  } catch (error) {
    throw notReady(error, tables, caller);
  }
}

function notReady(error: unknown, tables: Tables, caller: string): unknown {
  if (!isUndefinedTableOrSchema(error)) return error;
  return new SchemaNotReadyError(
    `${caller}: the table ${tables.queueStates} does not exist; run \`await migrate(pool)\` or \`npx proletarian migrate\` first`,
    { cause: error },
  );
}
