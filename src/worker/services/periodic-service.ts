import { toError } from '../../errors.js';
import { errorData, type EmitLog, type LogEvent } from '../../log.js';
import { jittered } from '../idle.js';

/** What one of a worker's periodic services does, and how often. */
export interface PeriodicTask {
  /** Milliseconds from the end of one round to the start of the next, jittered by ±10%. */
  readonly intervalMs: number;
  /**
   * Milliseconds from start to the first round, jittered by ±50%: soon, but
   * spread, so that a fleet of workers started together does not act in
   * lockstep.
   */
  readonly firstRoundMs: number;
  /** Logged, with the error, when a round fails; the next round tries again. */
  readonly errorEvent: LogEvent;
  /** One round. `signal` is aborted when the service stops: a long round should end at its next step. */
  run(signal: AbortSignal): Promise<void>;
}

/**
 * Runs a {@link PeriodicTask} in the background of a worker, from `start()`
 * to `stop()`: one round at a time, each after a jittered wait. A round that
 * fails is logged and never ends the service. The timer does not keep the
 * process alive.
 */
export class PeriodicService {
  #task: PeriodicTask;
  #emit: EmitLog;
  /** Aborted by `stop()`; null while stopped. */
  #running: AbortController | null = null;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> = Promise.resolve();

  constructor(task: PeriodicTask, emit: EmitLog) {
    this.#task = task;
    this.#emit = emit;
  }

  /** Schedules the first round; a service stopped before can be started again. */
  start(): void {
    if (this.#running) return;
    this.#running = new AbortController();
    this.#schedule(jittered(this.#task.firstRoundMs, 0.5), this.#running.signal);
  }

  /** Schedules no more rounds and aborts the one in progress; resolves once it has ended. */
  stop(): Promise<void> {
    this.#running?.abort();
    this.#running = null;
    clearTimeout(this.#timer);
    return this.#round;
  }

  #schedule(ms: number, signal: AbortSignal): void {
    if (signal.aborted) return;
    this.#timer = setTimeout(() => (this.#round = this.#runRound(signal)), ms);
    this.#timer.unref();
  }

  async #runRound(signal: AbortSignal): Promise<void> {
    try {
      await this.#task.run(signal);
    } catch (error) {
      this.#emit(this.#task.errorEvent, errorData(toError(error)));
    }
    this.#schedule(jittered(this.#task.intervalMs), signal);
  }
}
