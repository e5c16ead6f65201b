// Small statistics helpers: the benchmark quotes medians with their min–max,
// because the machine is shared and single runs are noisy.

/** The values sorted ascending, as a new array; non-finite values are dropped. */
export function sorted(values) {
  return values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
}

/** Percentile `p` (0–100) by linear interpolation between closest ranks. */
export function percentile(values, p) {
  const s = sorted(values);
  if (s.length === 0) return NaN;
  if (s.length === 1) return s[0];
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

export function median(values) {
  return percentile(values, 50);
}

/** Median, min and max of a list of samples (NaN when there are none). */
export function summarize(values) {
  const s = sorted(values);
  return {
    n: s.length,
    median: s.length ? percentile(s, 50) : NaN,
    min: s.length ? s[0] : NaN,
    max: s.length ? s[s.length - 1] : NaN,
  };
}

/** a ÷ b, or NaN when either is missing. */
export function ratio(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN;
}
