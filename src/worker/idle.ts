import { setTimeout as delay } from 'node:timers/promises';

/**
 * Where idle loops wait: until their poll interval passes, or until someone
 * wakes them all (shutdown now; new-job notifications later).
 */
export class IdleWaiters {
  #wake = new AbortController();

  /** Waits `ms` milliseconds, or less if {@link wakeAll} is called meanwhile. */
  async wait(ms: number): Promise<void> {
    try {
      await delay(ms, undefined, { signal: this.#wake.signal });
    } catch {
      // woken early
    }
  }

  wakeAll(): void {
    this.#wake.abort();
    this.#wake = new AbortController();
  }
}

/** `ms` spread uniformly over ±`fraction`, so many waiters don't act in lockstep. */
export function jittered(ms: number, fraction = 0.1): number {
  return ms * (1 - fraction + Math.random() * 2 * fraction);
}
