import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { toError } from '../errors.js';
import type { JobContext, JobDb, JobHandler, JobInfo, JobType, PayloadOf } from '../types.js';
import { JobTransaction } from '../worker/job-transaction.js';
import type { JobDefinition } from '../worker/options.js';
import { inTransaction, requireTestDb, withClient, type TestDb } from './connection.js';
import { DEFAULT_QUEUE } from '../enqueue.js';

/** Options of {@link runHandler}. */
export interface RunHandlerOptions<T extends string = string> {
  /** Fields of the handler's `ctx` to set; the rest get plausible values (a random job id, attempt 1, queue `'default'`). */
  ctx?: Partial<Omit<JobContext<T>, 'db' | 'payload'>>;
  /**
   * Called once the handler has returned, on the same transaction, before
   * it rolls back: read what the handler wrote through `ctx.db`.
   */
  inspect?: (db: JobDb) => Promise<void> | void;
}

/**
 * Runs one handler (or a job definition's) with `payload` and a `ctx` whose
 * `db` is a transaction that is always rolled back: the database is left as
 * it was, whatever the handler wrote. Resolves when the handler returns;
 * rejects with what it threw. With a client inside the test's open
 * transaction, it runs in that transaction, under a savepoint undone after.
 */
export async function runHandler<T extends JobType>(
  db: TestDb,
  handler: JobHandler<T> | JobDefinition<T>,
  payload: PayloadOf<T>,
  options: RunHandlerOptions<T> = {},
): Promise<void> {
  requireTestDb(db, 'runHandler');
  const run = (typeof handler === 'function' ? handler : handler.handler) as JobHandler<T>;
  await withClient(db, (client: pg.ClientBase) =>
    inTransaction(client, false, async () => {
      const transaction = new JobTransaction(client);
      const now = new Date();
      const job: JobInfo<T> = {
        jobId: randomUUID(),
        jobType: 'test-job' as T,
        queue: DEFAULT_QUEUE,
        payload,
        attempt: 1,
        enqueuedAt: now,
        processAt: now,
        priority: 0,
        ...options.ctx,
      };
      const ctx: JobContext<T> = {
        signal: new AbortController().signal,
        log: () => {},
        ...job,
        ...options.ctx,
        payload,
        db: transaction.db,
      };
      try {
        await run(payload, ctx);
        await options.inspect?.(transaction.db);
      } catch (error) {
        throw toError(error);
      } finally {
        transaction.close();
      }
    }),
  );
}
