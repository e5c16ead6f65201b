// Where a worker's claims start scanning its queue (see "The scan starts near
// the live jobs" in src/sql/claim.ts).
//
// A position is a place in claim order: a priority and a due time. The
// first job a claim finds is the first one nobody held at that moment: every
// due job before it was finished (a dead entry, now) or held by another
// batch. So the next claim can start at its position, stepping over only
// what was claimed since. Jobs can still turn up behind that point:
// - this worker's own batch rolled back: its claims start again at that
//   batch's first job (`rewind`);
// - a job more urgent than the position was enqueued: its notification
//   names its priority, and claims start again at the first job of that
//   priority (`notified`);
// - another worker's batch rolled back, or an enqueue committed a little
//   after its statement ran: once a second, a claim starts where claims
//   started a second before (a sweep), which covers what was claimed or
//   enqueued since. Once this worker has seen a job more urgent than that
//   place, the sweep scans from the queue's start instead, so that a more
//   urgent job that only now came due (scheduled, or a retry) waits a
//   second at most;
// - anything older — a long batch that rolled back, an enqueue whose
//   transaction ran for seconds, a lease that ran out — is found by a claim
//   from the queue's start, every ten seconds.
// With one priority in use, each of these scans steps only over the dead
// entries of its own span, so none costs what the whole queue's history
// would.

import type { ClaimPosition } from '../sql/claim.js';

/** How often a claim starts where claims started this long ago. */
export const SWEEP_INTERVAL_MS = 1_000;
/** How often a claim scans the queue from its start, at the longest. */
export const FULL_SCAN_INTERVAL_MS = 10_000;

/** Whether `a` comes before `b` in claim order. */
export function isBefore(a: ClaimPosition, b: ClaimPosition): boolean {
  if (a.priority !== b.priority) return a.priority < b.priority;
  if (a.dueMs === null) return b.dueMs !== null;
  return b.dueMs !== null && a.dueMs < b.dueMs;
}

/** One worker's starting point for one kind of claim; shared by its loops. */
export class ClaimStart {
  #from: ClaimPosition | null = null;
  /** Where claims started at the last sweep: the next sweep starts there. */
  #sweepFrom: ClaimPosition | null = null;
  /** The most urgent priority this worker has seen a job of. */
  #mostUrgentSeen = Infinity;
  #lastSweep = -Infinity;
  #lastFullScan = -Infinity;
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Where the next claim starts, or null to scan from the queue's start. */
  next(): ClaimPosition | null {
    const now = this.#now();
    if (this.#from === null || now - this.#lastFullScan >= FULL_SCAN_INTERVAL_MS) {
      this.#lastFullScan = this.#lastSweep = now;
      this.#sweepFrom = this.#from;
      return null;
    }
    if (now - this.#lastSweep >= SWEEP_INTERVAL_MS) {
      const from = this.#sweepFrom;
      this.#lastSweep = now;
      this.#sweepFrom = this.#from;
      return from !== null && this.#mostUrgentSeen < from.priority ? null : from;
    }
    return this.#from;
  }

  /**
   * What a claim found: the position of its first job, or null when it
   * found none — then the starting point stays, as jobs enqueued from now
   * on come after it or announce themselves (`notified`).
   */
  found(first: ClaimPosition | null): void {
    if (first === null) return;
    this.#from = first;
    this.#sweepFrom ??= first;
    if (first.priority < this.#mostUrgentSeen) this.#mostUrgentSeen = first.priority;
  }

  /** This worker's batch, whose first job was at `first`, rolled back: its jobs are due again where they were. */
  rewind(first: ClaimPosition): void {
    if (this.#from !== null && isBefore(first, this.#from)) this.#from = first;
  }

  /**
   * A job of `priority` became due at once (its enqueue's notification said
   * so). Of the same or a less urgent priority than where claims start, it
   * comes after that point; of a more urgent one, it is somewhere among the
   * jobs of its priority.
   */
  notified(priority: number): void {
    if (priority < this.#mostUrgentSeen) this.#mostUrgentSeen = priority;
    if (this.#from !== null && priority < this.#from.priority) this.#from = { priority, dueMs: null };
  }
}
