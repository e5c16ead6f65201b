// Where a worker's claims start scanning its queue (see "The scan starts near
// the live jobs" in src/sql/claim.ts).
//
// The oldest job a claim finds is the oldest one nobody held at that moment:
// every due job before it was finished (a dead entry, now) or held by
// another batch. So the next claim can start at its due time, stepping over
// only what was claimed since. Three kinds of job can still appear behind
// that point — a batch that rolled back (its jobs are due again where they
// were), an enqueue whose transaction committed long after its statement
// ran, a lease that ran out — so every so often a claim scans from the
// queue's start, and always after this worker's own batch failed.

/** How often a claim scans the queue from its start, at the longest. */
export const FULL_SCAN_INTERVAL_MS = 1_000;

/** One worker's starting point for one kind of claim; shared by its loops. */
export class ClaimStart {
  #from: number | null = null;
  #lastFullScan = -Infinity;
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Where the next claim starts (epoch ms), or null to scan from the queue's start. */
  next(): number | null {
    if (this.#from === null || this.#now() - this.#lastFullScan >= FULL_SCAN_INTERVAL_MS) {
      this.#lastFullScan = this.#now();
      return null;
    }
    return this.#from;
  }

  /**
   * What a claim that started at `from` found: the due time (epoch ms) of
   * its oldest job, or null when it found none — then the starting point
   * stays, as jobs enqueued from now on are due after it.
   */
  found(from: number | null, oldestDueMs: number | null): void {
    if (oldestDueMs === null) return;
    // A scan from the start knows the oldest job; a scan from a point only
    // knows nothing older was found past that point.
    this.#from = from === null ? oldestDueMs : Math.max(this.#from ?? oldestDueMs, oldestDueMs);
  }

  /** Jobs this worker held are due again where they were: scan from the start next. */
  reset(): void {
    this.#from = null;
  }
}
