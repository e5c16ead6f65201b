import { JobCancelledError } from '../errors.js';

/** What a cancel request needs of a running handler: its job, and a way to abort its `ctx.signal`. */
export interface CancellableRun {
  readonly jobId: string;
  abort(reason: Error): void;
}

interface Slot {
  /** The loop holds claimed jobs: a batch, or a lease. */
  holding: boolean;
  /** Jobs whose cancellation was announced while it held them; made on the first announcement. */
  requested: Set<string> | null;
  /** The handler running right now. */
  current: CancellableRun | null;
}

/**
 * Where the cancel requests a worker hears of meet the jobs its loops hold.
 * `cancelJob` announces a request for a running job on the installation's
 * cancel channel; every worker of the process hears it, and a loop holding
 * that job aborts its handler's signal if it is running, or skips the
 * handler if it has not started yet. A request is kept per loop only while
 * the loop holds its jobs, so nothing outlives the batch it was meant for.
 * Costs nothing per job but two assignments until a request comes.
 */
export class JobCancels {
  readonly #slots: Slot[];

  constructor(loops: number) {
    this.#slots = Array.from({ length: loops }, () => ({ holding: false, requested: null, current: null }));
  }

  /** Loop `slot` is about to claim: requests from now on may be for its jobs. */
  holding(slot: number): void {
    const state = this.#slots[slot]!;
    state.holding = true;
    state.requested = null;
  }

  /** Loop `slot` completed its jobs, or gave them up. */
  released(slot: number): void {
    const state = this.#slots[slot]!;
    state.holding = false;
    state.requested = null;
    state.current = null;
  }

  /** `run`'s handler starts on loop `slot`; null when it has ended. */
  running(slot: number, run: CancellableRun | null): void {
    this.#slots[slot]!.current = run;
  }

  /** Whether a cancellation of `jobId` was announced while loop `slot` held it. */
  requested(slot: number, jobId: string): boolean {
    return this.#slots[slot]!.requested?.has(jobId) ?? false;
  }

  /** A request to cancel `jobId` was announced (or found by a lease's heartbeat). */
  announce(jobId: string): void {
    for (const state of this.#slots) {
      if (!state.holding) continue;
      (state.requested ??= new Set()).add(jobId);
      if (state.current?.jobId === jobId) state.current.abort(new JobCancelledError(jobId));
    }
  }
}
