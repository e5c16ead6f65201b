/**
 * Where idle loops wait: until their poll interval passes, or until they are
 * woken — one at a time by new-job notifications, all at once at shutdown.
 */
export class IdleWaiters {
  #waiting: (() => void)[] = [];
  // A wake-up that found nobody waiting: every loop was between its empty
  // claim and its wait. Kept for the next waiter, or the job it announced
  // would wait a whole poll interval.
  #pendingWake = false;

  /** Waits `ms` milliseconds, or less if woken meanwhile. */
  wait(ms: number): Promise<void> {
    if (this.#pendingWake) {
      this.#pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        const index = this.#waiting.indexOf(wake);
        if (index >= 0) this.#waiting.splice(index, 1);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#waiting.push(wake);
    });
  }

  /** Wakes the loop that has waited longest, or the next one to wait. */
  wakeOne(): void {
    const wake = this.#waiting[0];
    if (wake) wake();
    else this.#pendingWake = true;
  }

  wakeAll(): void {
    for (const wake of [...this.#waiting]) wake();
  }
}

/** `ms` spread uniformly over ±`fraction`, so many waiters don't act in lockstep. */
export function jittered(ms: number, fraction = 0.1): number {
  return ms * (1 - fraction + Math.random() * 2 * fraction);
}
