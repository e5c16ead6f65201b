import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// How a loop sizes its claims, without a database: from one job, doubling,
// to as many jobs as fit in about ten times a batch's own cost (its claim
// and commit), between 20 and 100 ms of handler time, and from the smallest
// again after a batch failed. Internal, so loaded from the build.
type ClaimSizeModule = typeof import('../dist/worker/claim-size.js');

const { ClaimSizer } = (await import(new URL('../../dist/worker/claim-size.js', import.meta.url).href)) as ClaimSizeModule;

type Sizer = InstanceType<typeof ClaimSizer>;

/** Claims until the size stops changing, each batch's jobs taking `jobMs` each and the batch `costMs` more. */
function settle(sizer: Sizer, jobMs: number, costMs: number, savepoints = false): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < 40; i++) {
    const jobs = sizer.next();
    sizes.push(jobs);
    const handlerMs = jobs * jobMs;
    sizer.record({ jobs, handlerMs, batchMs: handlerMs + costMs, savepoints: savepoints ? jobs : 0 });
  }
  return sizes;
}

describe('ClaimSizer', () => {
  it('starts at one job and at most doubles from one batch to the next', () => {
    const sizes = settle(new ClaimSizer(500), 0.01, 0.5);
    assert.deepEqual(sizes.slice(0, 10), [1, 2, 4, 8, 16, 32, 64, 128, 256, 500]);
    assert.equal(sizes.at(-1), 500);
  });

  it('fits about 20 ms of jobs when a batch costs little of its own', () => {
    assert.equal(settle(new ClaimSizer(500), 1, 0.5).at(-1), 20);
  });

  it('fits about ten times the batch cost of jobs when that is more than 20 ms', () => {
    const sizer = new ClaimSizer(500);
    assert.equal(settle(sizer, 1, 5).at(-1), 50);
    assert.equal(sizer.targetBatchMs(), 50);
  });

  it('never fits more than 100 ms of jobs, however much a batch costs', () => {
    const sizer = new ClaimSizer(500);
    assert.equal(settle(sizer, 1, 40).at(-1), 100);
    assert.equal(sizer.targetBatchMs(), 100);
  });

  it('claims slow jobs one at a time', () => {
    assert.deepEqual(new Set(settle(new ClaimSizer(500), 150, 5)), new Set([1]));
  });

  it('keeps batches of jobs that write through ctx.db under 64 subtransactions', () => {
    assert.equal(settle(new ClaimSizer(500), 0.01, 5, true).at(-1), 60);
    assert.equal(settle(new ClaimSizer(40), 0.01, 5, true).at(-1), 40);
  });

  it('claims one job after claimOneNext()', () => {
    const sizer = new ClaimSizer(500);
    settle(sizer, 1, 0.5);
    sizer.claimOneNext();
    assert.equal(sizer.next(), 1);
    assert.equal(sizer.next(), 20);
  });

  it('after a failed batch, grows from the smallest batches again and learns the batch cost anew', () => {
    const sizer = new ClaimSizer(500);
    assert.equal(settle(sizer, 1, 5).at(-1), 50);
    sizer.batchFailed();
    assert.equal(sizer.targetBatchMs(), 20);
    // A new connection's batches cost more at first; the sizer follows what they cost now.
    assert.deepEqual(settle(sizer, 1, 8).slice(0, 7), [2, 4, 8, 16, 32, 64, 80]);
    assert.equal(settle(sizer, 1, 8).at(-1), 80);
  });
});
