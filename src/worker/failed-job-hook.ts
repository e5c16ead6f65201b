import type pg from 'pg';
import { toError } from '../errors.js';
import { errorData } from '../log.js';
import type { JobInfo } from '../types.js';
import { jobContext, logOf } from './handler-run.js';
import { JobTransaction } from './job-transaction.js';
import type { WorkerRuntime } from './runtime.js';

/**
 * Runs `onFailedJob` for a job that failed for good, in the open transaction
 * on `client` that archived it, in either mode: the hook's writes through
 * `ctx.db` commit with the archiving. They sit under a savepoint, so a hook
 * that throws has only its own writes undone — the job stays archived as
 * failed instead of running again — and `failed-job-hook-error` is logged.
 */
export async function runFailedJobHook(
  runtime: WorkerRuntime,
  client: pg.ClientBase,
  job: JobInfo,
  error: Error,
  slot: number,
): Promise<void> {
  const hookTransaction = new JobTransaction(client);
  try {
    await runtime.options.onFailedJob!(job, error, jobContext(runtime, job, hookTransaction.db, slot));
    // Fails if the hook caught a failed query: its part of the transaction is
    // then aborted, and committing would silently undo the archiving.
    await hookTransaction.keepHandlerWork();
  } catch (hookError) {
    await hookTransaction.rollbackHandlerWork();
    runtime.emit('failed-job-hook-error', { ...logOf(job, slot), ...errorData(toError(hookError)) });
  } finally {
    hookTransaction.close();
  }
}
