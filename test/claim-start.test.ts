import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// Where a worker's claims start scanning its queue. Internal, so loaded from the build.
interface ClaimPosition {
  priority: number;
  dueMs: number | null;
}
interface ClaimStartModule {
  SWEEP_INTERVAL_MS: number;
  FULL_SCAN_INTERVAL_MS: number;
  ClaimStart: new (now?: () => number) => {
    next(): ClaimPosition | null;
    found(first: ClaimPosition | null): void;
    rewind(first: ClaimPosition): void;
    notified(priority: number): void;
  };
}
const { ClaimStart, SWEEP_INTERVAL_MS, FULL_SCAN_INTERVAL_MS } = (await import(
  new URL('../../dist/worker/claim-start.js', import.meta.url).href
)) as ClaimStartModule;

/** The position of a job of `priority` due at `dueMs`. */
const at = (dueMs: number | null, priority = 0): ClaimPosition => ({ priority, dueMs });

describe('where claims start', () => {
  const startAt = (clock: { now: number }) => new ClaimStart(() => clock.now);

  it('scans from the queue start until a claim has found a job, then starts at the first job found', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    assert.equal(start.next(), null);
    start.found(null);
    clock.now += 10;
    assert.equal(start.next(), null);
    start.found(at(1_000));
    clock.now += 10;
    assert.deepEqual(start.next(), at(1_000));
    start.found(at(5_000));
    assert.deepEqual(start.next(), at(5_000));
    start.found(null); // nothing found: jobs enqueued from now on are due later
    assert.deepEqual(start.next(), at(5_000));
    start.found(at(100, 3)); // the jobs of priority 0 are all taken
    assert.deepEqual(start.next(), at(100, 3));
  });

  it('once a second, starts where claims started a second before', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    assert.equal(start.next(), null); // a full scan; the sweeps start from here
    start.found(at(1_000));
    clock.now += SWEEP_INTERVAL_MS;
    assert.deepEqual(start.next(), at(1_000), 'where claims started at the full scan');
    start.found(at(2_000));
    start.found(at(3_000));
    assert.deepEqual(start.next(), at(3_000));
    clock.now += SWEEP_INTERVAL_MS;
    assert.deepEqual(start.next(), at(1_000), 'where claims started at the last sweep');
    start.found(at(4_000));
    clock.now += SWEEP_INTERVAL_MS;
    assert.deepEqual(start.next(), at(3_000));
  });

  it('scans from the queue start every FULL_SCAN_INTERVAL_MS, and takes what that scan finds', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    start.next();
    start.found(at(5_000));
    clock.now += FULL_SCAN_INTERVAL_MS;
    assert.equal(start.next(), null);
    start.found(at(2_000)); // a batch that rolled back left older jobs due again
    assert.deepEqual(start.next(), at(2_000));
  });

  it("goes back to the first job of this worker's batch that rolled back", () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    start.next();
    start.found(at(5_000, 2));
    start.rewind(at(7_000, 2));
    assert.deepEqual(start.next(), at(5_000, 2), 'a later job changes nothing');
    start.rewind(at(1_000, 3));
    assert.deepEqual(start.next(), at(5_000, 2), 'nor does a less urgent one');
    start.rewind(at(4_000, 2));
    assert.deepEqual(start.next(), at(4_000, 2));
    start.rewind(at(9_000, 1));
    assert.deepEqual(start.next(), at(9_000, 1), 'a more urgent job comes first, whenever it was due');
  });

  it('goes back to the first job of a more urgent priority when one is enqueued', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    start.next();
    start.notified(-5); // before any claim found a job: claims scan from the start anyway
    assert.equal(start.next(), null);
    start.found(at(5_000));
    start.notified(0);
    start.notified(7);
    assert.deepEqual(start.next(), at(5_000), 'jobs of the same or a less urgent priority come after it');
    start.notified(-1);
    assert.deepEqual(start.next(), at(null, -1));
  });

  it('sweeps from the queue start once it has seen a job more urgent than where the sweep would start', () => {
    const clock = { now: 0 };
    const start = startAt(clock);
    start.next();
    start.found(at(1_000));
    clock.now += SWEEP_INTERVAL_MS;
    assert.deepEqual(start.next(), at(1_000), 'one priority seen: a sweep from a second before');
    start.notified(-2);
    start.found(at(1_500, -2));
    start.found(at(2_000)); // the urgent job is done; back to priority 0
    clock.now += SWEEP_INTERVAL_MS;
    // A job of priority -2 that came due since (a retry, a scheduled job) is
    // behind where claims started a second before.
    assert.equal(start.next(), null);
    assert.deepEqual(start.next(), at(2_000), 'between sweeps, claims start where the last one found its job');
  });
});
