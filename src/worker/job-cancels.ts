import { JobCancelledError } from '../errors.js';

/** What a cancel request needs of a running handler: its job, and a way to abort its `ctx.signal`. */
export interface CancellableRun {
  readonly jobId: string;
  abort(reason: Error): void;
  /** The run has ended: nothing of it is left waiting. */
  clear(): void;
}

interface Slot {
  /** The loop holds claimed jobs: a batch, or a lease. */
  holding: boolean;
  /** Jobs whose cancellation was announced while it held them; made on the first announcement. */
  requested: Set<string> | null;
  /** The job whose handler runs right now. */
  jobId: string | null;
  /** Its signal, once made: at the start with a time limit, else when the handler first reads `ctx.signal`. */
  current: CancellableRun | null;
}

/**
 * Where the cancel requests a worker hears of meet the jobs its loops hold.
 * `cancelJob` announces a request for a running job on the installation's
 * cancel channel; every worker of the process hears it, and a loop holding
 * that job aborts its handler's signal if it is running, or skips the
 * handler if it has not started yet. A request is kept per loop only while
 * the loop holds its jobs, so nothing outlives the batch it was meant for.
 * Costs nothing per job but a few assignments until a request comes: most
 * handlers never read `ctx.signal`, and theirs is never made.
 */
export class JobCancels {
  readonly #slots: Slot[];

  constructor(loops: number) {
    this.#slots = Array.from({ length: loops }, () => ({ holding: false, requested: null, jobId: null, current: null }));
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
    state.current?.clear();
    state.jobId = null;
    state.current = null;
  }

  /** The handler of `jobId` starts on loop `slot`; `run` is its signal if made already. */
  started(slot: number, jobId: string, run: CancellableRun | null): void {
    const state = this.#slots[slot]!;
    state.jobId = jobId;
    state.current = run;
  }

  /**
   * The signal of the job running on loop `slot`, made when its handler
   * first read it: aborted at once if its cancellation was announced
   * already. A signal read after its run ended is left alone.
   */
  made(slot: number, run: CancellableRun): void {
    const state = this.#slots[slot]!;
    if (state.jobId !== run.jobId || state.current !== null) return;
    state.current = run;
    if (state.requested?.has(run.jobId)) run.abort(new JobCancelledError(run.jobId));
  }

  /** The handler running on loop `slot` has ended: its signal, if made, is cleared. */
  ended(slot: number): void {
    const state = this.#slots[slot]!;
    state.current?.clear();
    state.jobId = null;
    state.current = null;
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
      if (state.jobId === jobId) state.current?.abort(new JobCancelledError(jobId));
    }
  }
}
