/** A loop waiting in {@link IdleWaiters}. */
interface Waiter {
  resolve: () => void;
  ms: number;
  timer: NodeJS.Timeout | null;
}

/**
 * Where idle loops wait. Only the loop that has waited longest polls — it
 * wakes when its interval passes — so an idle worker queries its queue once
 * per poll interval, however many loops it has; the others wait to be woken:
 * one at a time by new-job notifications or by a loop that found a full
 * batch, all at once at shutdown. When the polling loop leaves, the next
 * one takes over the polling.
 */
export class IdleWaiters {
  #waiting: Waiter[] = [];
  // A wake-up that found nobody waiting: every loop was between its empty
  // claim and its wait. Kept for the next waiter, or the job it announced
  // would wait a whole poll interval.
  #pendingWake = false;

  /** Waits until woken, or — for the loop that polls — `ms` milliseconds at most. */
  wait(ms: number): Promise<void> {
    if (this.#pendingWake) {
      this.#pendingWake = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const waiter: Waiter = { resolve, ms, timer: null };
      this.#waiting.push(waiter);
      if (this.#waiting.length === 1) this.#startPolling(waiter);
    });
  }

  /** Wakes the loop that has waited longest, or the next one to wait. */
  wakeOne(): void {
    const first = this.#waiting[0];
    if (first) this.#release(first);
    else this.#pendingWake = true;
  }

  wakeAll(): void {
    for (const waiter of [...this.#waiting]) this.#release(waiter);
  }

  #startPolling(waiter: Waiter): void {
    waiter.timer = setTimeout(() => this.#release(waiter), waiter.ms);
  }

  #release(waiter: Waiter): void {
    const index = this.#waiting.indexOf(waiter);
    if (index < 0) return;
    this.#waiting.splice(index, 1);
    if (waiter.timer) clearTimeout(waiter.timer);
    waiter.resolve();
    const next = this.#waiting[0];
    if (next && !next.timer) this.#startPolling(next);
  }
}

/** `ms` spread uniformly over ±`fraction`, so many waiters don't act in lockstep. */
export function jittered(ms: number, fraction = 0.1): number {
  return ms * (1 - fraction + Math.random() * 2 * fraction);
}
