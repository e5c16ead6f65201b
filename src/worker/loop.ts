import { toError } from '../errors.js';
import { errorData } from '../log.js';
import { jittered, type IdleWaiters } from './idle.js';
import { runNextJob, type WorkerRuntime } from './run-job.js';

// Backoff after polling errors starts at the poll interval and doubles, but
// never waits longer than this: a restarted database should see work resume
// within seconds, not minutes.
const MAX_ERROR_BACKOFF_MS = 5_000;

/**
 * One of a worker's `concurrency` loops: run due jobs back to back, wait
 * `pollInterval` only when the queue is empty, and back off on errors
 * until the database answers again.
 */
export async function runLoop(runtime: WorkerRuntime, idle: IdleWaiters, slot: number): Promise<void> {
  const { pollInterval, onPollingError } = runtime.options;
  let consecutiveErrors = 0;
  while (!runtime.shutdown.aborted) {
    try {
      const outcome = await runNextJob(runtime, slot);
      if (consecutiveErrors > 0) {
        runtime.emit('polling-recovered', { slot, afterErrors: consecutiveErrors });
        consecutiveErrors = 0;
      }
      if (outcome === 'abandoned') return;
      if (outcome === 'empty') await idle.wait(jittered(pollInterval));
    } catch (thrown) {
      if (runtime.shutdown.aborted) return;
      const error = toError(thrown);
      consecutiveErrors++;
      const backoff = Math.min(pollInterval * 2 ** (consecutiveErrors - 1), MAX_ERROR_BACKOFF_MS);
      runtime.emit('polling-error', { slot, consecutiveErrors, retryInMs: Math.round(backoff), ...errorData(error) });
      if (onPollingError) {
        try {
          onPollingError(error);
        } catch {
          // the hook is for observing; it cannot stop the loop
        }
      }
      await idle.wait(jittered(backoff));
    }
  }
}
