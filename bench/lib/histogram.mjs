// A histogram of durations in ms with buckets 1% wide, for W8's pickup
// waits: millions of values a phase, each recorded in constant time, and
// percentiles within 1% without keeping (or sorting) the values.

const MIN_MS = 0.01; // everything below falls into bucket 0
const GROWTH = Math.log(1.01);
const BUCKETS = 2_200; // up to 0.01 ms × 1.01^2200 ≈ 3 hours

export class Histogram {
  constructor() {
    this.counts = new Uint32Array(BUCKETS);
    this.n = 0;
    this.max = -Infinity;
  }

  record(ms) {
    const index = ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / MIN_MS) / GROWTH));
    this.counts[index] += 1;
    this.n += 1;
    if (ms > this.max) this.max = ms;
  }

  /** Percentile p (0–100): the middle of the bucket it falls in, at most the largest value seen; NaN when empty. */
  percentile(p) {
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    let seen = 0;
    for (let index = 0; index < BUCKETS; index++) {
      seen += this.counts[index];
      if (seen >= rank) {
        if (index === 0) return Math.min(MIN_MS, this.max);
        return Math.min(MIN_MS * Math.exp((index - 0.5) * GROWTH), this.max);
      }
    }
    return this.max;
  }

  summary() {
    return { n: this.n, p50: this.percentile(50), p99: this.percentile(99), max: this.n ? this.max : NaN };
  }
}
