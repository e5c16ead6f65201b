import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobCancelledError } from 'proletarian';

// Where a worker's cancel requests meet its running handlers, without a
// database: a handler's signal is made only when it first reads it, so a
// request that came before must abort it at once, and one that comes after
// must reach it. Internal, so loaded from the build.
type CancelsModule = typeof import('../dist/worker/job-cancels.js');
type HandlerRunModule = typeof import('../dist/worker/handler-run.js');

const { JobCancels } = (await import(new URL('../../dist/worker/job-cancels.js', import.meta.url).href)) as CancelsModule;
const { RunSignal } = (await import(new URL('../../dist/worker/handler-run.js', import.meta.url).href)) as HandlerRunModule;

const shutdown = new AbortController().signal;
const signalOf = (jobId: string) => new RunSignal(jobId, 'type', null, shutdown);

describe('JobCancels', () => {
  it('aborts a signal made after its job was cancelled, at once, with JobCancelledError', () => {
    const cancels = new JobCancels(1);
    cancels.holding(0);
    cancels.started(0, 'job-a', null);
    cancels.announce('job-a');
    const run = signalOf('job-a');
    cancels.made(0, run);
    assert.ok(run.signal.aborted);
    assert.ok(run.signal.reason instanceof JobCancelledError);
  });

  it('aborts a signal made before the request when the request comes', () => {
    const cancels = new JobCancels(1);
    cancels.holding(0);
    cancels.started(0, 'job-a', null);
    const run = signalOf('job-a');
    cancels.made(0, run);
    assert.equal(run.signal.aborted, false);
    cancels.announce('job-b');
    assert.equal(run.signal.aborted, false, 'another job of the batch is cancelled, not this one');
    cancels.announce('job-a');
    assert.ok(run.signal.aborted);
  });

  it('leaves alone a signal read after its run ended, and the next job of the loop', () => {
    const cancels = new JobCancels(1);
    cancels.holding(0);
    cancels.started(0, 'job-a', null);
    cancels.ended(0);
    cancels.started(0, 'job-b', null);
    const late = signalOf('job-a');
    cancels.made(0, late);
    cancels.announce('job-b');
    assert.equal(late.signal.aborted, false);
    const current = signalOf('job-b');
    cancels.made(0, current);
    assert.ok(current.signal.aborted, "job-b's request was kept for it");
  });

  it('forgets requests once the loop releases its jobs', () => {
    const cancels = new JobCancels(2);
    cancels.holding(0);
    cancels.announce('job-a');
    assert.ok(cancels.requested(0, 'job-a'));
    assert.equal(cancels.requested(1, 'job-a'), false, 'a loop that held nothing keeps nothing');
    cancels.released(0);
    assert.equal(cancels.requested(0, 'job-a'), false);
  });
});
