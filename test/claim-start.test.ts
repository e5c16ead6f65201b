import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// Where a worker's claims start scanning its queue. Internal, so loaded from the build.
interface ClaimStartModule {
  SWEEP_INTERVAL_MS: number;
  FULL_SCAN_INTERVAL_MS: number;
  ClaimStart: new (now?: () => number) => {
    next(): number | null;
    found(oldestDueMs: number | null): void;
    rewind(dueMs: number): void;
  };
}
const { ClaimStart, SWEEP_INTERVAL_MS, FULL_SCAN_INTERVAL_MS } = (await import(
  new URL('../../dist/worker/claim-start.js', import.meta.url).href
)) as ClaimStartModule;

describe('where claims start', () => {
  const startAt = (clock: { now: number }) => new ClaimStart(() => clock.now);

  it('scans from the queue start until a claim has found a job, then starts at the oldest job found', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    assert.equal(start.next(), null);
    start.found(null);
    clock.now += 10;
    assert.equal(start.next(), null);
    start.found(1_000);
    clock.now += 10;
    assert.equal(start.next(), 1_000);
    start.found(5_000);
    assert.equal(start.next(), 5_000);
    start.found(null); // nothing found: jobs enqueued from now on are due later
    assert.equal(start.next(), 5_000);
  });

  it('once a second, starts where claims started a second before', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    assert.equal(start.next(), null); // a full scan; the sweeps start from here
    start.found(1_000);
    clock.now += SWEEP_INTERVAL_MS;
    assert.equal(start.next(), 1_000, 'where claims started at the full scan');
    start.found(2_000);
    start.found(3_000);
    assert.equal(start.next(), 3_000);
    clock.now += SWEEP_INTERVAL_MS;
    assert.equal(start.next(), 1_000, 'where claims started at the last sweep');
    start.found(4_000);
    clock.now += SWEEP_INTERVAL_MS;
    assert.equal(start.next(), 3_000);
  });

  it('scans from the queue start every FULL_SCAN_INTERVAL_MS, and takes what that scan finds', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    start.next();
    start.found(5_000);
    clock.now += FULL_SCAN_INTERVAL_MS;
    assert.equal(start.next(), null);
    start.found(2_000); // a batch that rolled back left older jobs due again
    assert.equal(start.next(), 2_000);
  });

  it("goes back to the oldest job of this worker's batch that rolled back", () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    start.next();
    start.found(5_000);
    start.rewind(7_000);
    assert.equal(start.next(), 5_000, 'a later job changes nothing');
    start.rewind(4_000);
    assert.equal(start.next(), 4_000);
  });
});
