import { setupProblem } from '../database-errors.js';
import { toError } from '../errors.js';
import { errorData } from '../log.js';
import { ClaimSizer } from './claim-size.js';
import { onlyItsConnectionEnded } from './connection.js';
import { ErrorBackoff } from './error-backoff.js';
import { jittered, type IdleWaiters } from './idle.js';
import { runNextBatch } from './run-batch.js';
import { runNextLeasedJob } from './run-leased.js';
import type { WorkerRuntime } from './runtime.js';

/**
 * One of a worker's `concurrency` loops: run batches of due jobs (and
 * lease-mode jobs, taking turns) back to back, wait `pollInterval` (or until
 * woken) only when the queue is empty, and back off on errors until the
 * database answers again.
 */
export async function runLoop(runtime: WorkerRuntime, idle: IdleWaiters, slot: number): Promise<void> {
  const { pollInterval, onPollingError, batchSize } = runtime.options;
  const claimSize = new ClaimSizer(batchSize);
  // pg's default pool size when the pool's options leave it out.
  const errors = new ErrorBackoff(pollInterval, runtime.pool.options.max ?? 10);

  const runBatch = async (): Promise<'found' | 'empty' | 'abandoned'> => {
    const limit = claimSize.next();
    const started = performance.now();
    const result = await runNextBatch(runtime, slot, limit);
    if (result === 'abandoned') return 'abandoned';
    if (result.claimed === 0) return 'empty';
    const { ran: jobs, handlerMs, savepoints } = result;
    claimSize.record({ jobs, handlerMs, savepoints, batchMs: performance.now() - started });
    if (result.soloNext) claimSize.claimOneNext();
    // A full batch suggests more are due: get an idle loop going too.
    if (result.claimed === limit) idle.wakeOne();
    return 'found';
  };
  const runLeased = async (): Promise<'found' | 'empty' | 'abandoned'> => {
    const result = await runNextLeasedJob(runtime, slot);
    return result === 'processed' ? 'found' : result;
  };
  const turns = [...(runtime.batches ? [runBatch] : []), ...(runtime.leases ? [runLeased] : [])];
  // Which kind of job to look for first alternates, so neither starves the other.
  const orders = [turns, [...turns].reverse()];
  let round = 0;

  while (!runtime.shutdown.aborted) {
    try {
      // Before claiming again: say which transactions were lost, so that
      // their jobs are not taken for the victims of a crash.
      if (runtime.lostTransactions.pending) await runtime.lostTransactions.report(runtime.pool, runtime.options.tables);
      let outcome: 'found' | 'empty' | 'abandoned' = 'empty';
      // Never claim before knowing whether the queue is paused; paused, the
      // loop idles as on an empty queue, and resuming wakes it.
      if (!runtime.pause.known) await runtime.pause.read();
      const turns = runtime.pause.paused ? [] : orders[round++ % 2]!;
      for (const turn of turns) {
        outcome = await turn();
        if (outcome !== 'empty') break;
      }
      if (outcome === 'abandoned') return;
      if (errors.consecutiveErrors > 0) {
        runtime.emit('polling-recovered', { slot, afterErrors: errors.consecutiveErrors });
        errors.recovered();
      }
      if (outcome === 'empty') {
        await idle.wait(jittered(pollInterval));
        continue;
      }
    } catch (thrown) {
      if (runtime.shutdown.aborted) return;
      const error = toError(thrown);
      const backoff = errors.failed(onlyItsConnectionEnded(error));
      // A batch that failed starts small again: under repeated faults, each costs little work.
      claimSize.batchFailed();
      // A running worker keeps retrying even a setup problem (a revoked
      // privilege, a dropped schema): fixing it resumes work without a
      // restart. It is logged as such, with what to do.
      const problem = setupProblem(error);
      runtime.emit(problem ? 'setup-error' : 'polling-error', {
        slot,
        consecutiveErrors: errors.consecutiveErrors,
        retryInMs: Math.round(backoff),
        ...(problem ? { problem: problem.kind, code: problem.code, hint: problem.hint } : {}),
        ...errorData(error),
      });
      if (onPollingError) {
        try {
          onPollingError(error);
        } catch {
          // the hook is for observing; it cannot stop the loop
        }
      }
      if (backoff > 0) await idle.wait(jittered(backoff));
    }
  }
}
