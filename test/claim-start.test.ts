import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// Where a worker's claims start scanning its queue. Internal, so loaded from the build.
interface ClaimStartModule {
  FULL_SCAN_INTERVAL_MS: number;
  ClaimStart: new (now?: () => number) => {
    next(): number | null;
    found(from: number | null, oldestDueMs: number | null): void;
    reset(): void;
  };
}
const { ClaimStart, FULL_SCAN_INTERVAL_MS } = (await import(
  new URL('../../dist/worker/claim-start.js', import.meta.url).href
)) as ClaimStartModule;

describe('where claims start', () => {
  function startAt(clock: { now: number }) {
    return new ClaimStart(() => clock.now);
  }

  it('scans from the queue start until a claim has found a job', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    assert.equal(start.next(), null);
    start.found(null, null);
    clock.now += 10;
    assert.equal(start.next(), null);
    start.found(null, 1_000);
    clock.now += 10;
    assert.equal(start.next(), 1_000);
  });

  it('moves forward with what later claims find, never back', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    start.found(start.next(), 1_000);
    start.found(1_000, 5_000);
    start.found(1_000, 3_000); // a claim that started earlier and answered later
    assert.equal(start.next(), 5_000);
    start.found(5_000, null); // nothing found: jobs enqueued from now on are due later
    assert.equal(start.next(), 5_000);
  });

  it('scans from the queue start at least once per interval, and takes what that scan finds', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    start.found(start.next(), 5_000);
    clock.now += FULL_SCAN_INTERVAL_MS - 1;
    assert.equal(start.next(), 5_000);
    clock.now += 1;
    assert.equal(start.next(), null);
    start.found(null, 2_000); // a batch that rolled back left older jobs due again
    assert.equal(start.next(), 2_000);
  });

  it('scans from the queue start after a reset', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    start.found(start.next(), 5_000);
    start.reset();
    assert.equal(start.next(), null);
  });
});
