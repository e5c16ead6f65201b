import { setupProblem } from '../database-errors.js';
import { toError } from '../errors.js';
import { errorData } from '../log.js';
import { ClaimSizer } from './claim-size.js';
import { jittered, type IdleWaiters } from './idle.js';
import { runNextBatch } from './run-batch.js';
import { runNextLeasedJob } from './run-leased.js';
import type { WorkerRuntime } from './runtime.js';

// After a polling error the loop tries again at once: most errors are a
// connection the database ended (killed, restarted, a failover), and the
// next connection tells whether the server is back. Further errors in a row
// back off from the poll interval, doubling, but never longer than this: a
// restarted database should see work resume within seconds, not minutes.
const MAX_ERROR_BACKOFF_MS = 2_000;

/**
 * One of a worker's `concurrency` loops: run batches of due jobs (and
 * lease-mode jobs, taking turns) back to back, wait `pollInterval` (or until
 * woken) only when the queue is empty, and back off on errors until the
 * database answers again.
 */
export async function runLoop(runtime: WorkerRuntime, idle: IdleWaiters, slot: number): Promise<void> {
  const { pollInterval, onPollingError, batchSize } = runtime.options;
  const claimSize = new ClaimSizer(batchSize);
  let consecutiveErrors = 0;

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
      if (consecutiveErrors > 0) {
        runtime.emit('polling-recovered', { slot, afterErrors: consecutiveErrors });
        consecutiveErrors = 0;
      }
      if (outcome === 'empty') {
        await idle.wait(jittered(pollInterval));
        continue;
      }
    } catch (thrown) {
      if (runtime.shutdown.aborted) return;
      const error = toError(thrown);
      consecutiveErrors++;
      // A batch that failed starts small again: under repeated faults, each costs little work.
      claimSize.restart();
      const backoff = consecutiveErrors === 1 ? 0 : Math.min(pollInterval * 2 ** (consecutiveErrors - 2), MAX_ERROR_BACKOFF_MS);
      // A running worker keeps retrying even a setup problem (a revoked
      // privilege, a dropped schema): fixing it resumes work without a
      // restart. It is logged as such, with what to do.
      const problem = setupProblem(error);
      runtime.emit(problem ? 'setup-error' : 'polling-error', {
        slot,
        consecutiveErrors,
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
