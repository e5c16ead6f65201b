import type { QueuePause } from '../queue-pause.js';
import type { PeriodicTask } from './periodic-service.js';

// How often a worker reads whether its queue is paused: pause takes effect
// fleet-wide within about this long even where notifications are off or lost.
const REFRESH_MS = 1_000;

/** Reads the worker's paused state every second or so, beside the notifications of pause and resume. */
export function queueStateTask(pause: QueuePause): PeriodicTask {
  return {
    intervalMs: REFRESH_MS,
    // The loops read the state at start; this round follows within about a second (±50%).
    firstRoundMs: 700,
    errorEvent: 'queue-state-error',
    run: () => pause.read(),
  };
}
