import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { AbandonedJobError, DiscardJobError, JobCancelledError, SnoozeJobError, type RetryPolicy } from 'proletarian';

// What becomes of a job after a run, decided in one place for both modes.
// Pure, so tested without a database. Internal, so loaded from the build;
// its types come from the build's declarations.
type OutcomeModule = typeof import('../dist/worker/run-outcome.js');
type FailedRun = import('../dist/worker/run-outcome.js').FailedRun;

describe('the outcome of a run', () => {
  let decideRunOutcome: OutcomeModule['decideRunOutcome'];
  let failedForGood: OutcomeModule['failedForGood'];
  let SUCCEEDED: OutcomeModule['SUCCEEDED'];
  let mustLookForCancel: OutcomeModule['mustLookForCancel'];
  before(async () => {
    ({ decideRunOutcome, failedForGood, SUCCEEDED, mustLookForCancel } = (await import(
      new URL('../../dist/worker/run-outcome.js', import.meta.url).href
    )) as OutcomeModule);
  });

  const error = new Error('boom');
  const errorData = { error: { name: 'Error', message: 'boom', stack: error.stack } };

  /** A failed run whose strategy answers `policy`, counting how often it was asked. */
  function failed(options: { attempt?: number; stopping?: boolean; policy?: RetryPolicy | null; error?: Error } = {}) {
    const asked: number[] = [];
    const run: FailedRun = {
      kind: 'failed',
      error: options.error ?? error,
      attempt: options.attempt ?? 1,
      stopping: options.stopping ?? false,
      retryPolicy: () => {
        asked.push(1);
        return options.policy === undefined ? { retries: 2, delays: [100, 500] } : options.policy;
      },
    };
    return { run, asked };
  }

  it('success: archived as success, one shared value, no data of its own', () => {
    const outcome = decideRunOutcome(SUCCEEDED);
    assert.deepEqual(outcome, { kind: 'success', event: 'job-succeeded', data: {} });
    assert.equal(decideRunOutcome({ kind: 'succeeded' }), outcome, 'a success allocates nothing');
    assert.ok(Object.isFrozen(outcome));
    assert.equal(failedForGood(outcome), false);
  });

  it('a failure with retries left: retry after the delay for that attempt', () => {
    const first = failed({ attempt: 1 });
    assert.deepEqual(decideRunOutcome(first.run), {
      kind: 'retry',
      error,
      delayMs: 100,
      event: 'job-retry-scheduled',
      data: { delayMs: 100, ...errorData },
    });
    assert.equal(first.asked.length, 1, 'the strategy is asked once');
    const second = decideRunOutcome(failed({ attempt: 2 }).run);
    assert.equal(second.kind === 'retry' && second.delayMs, 500);
    assert.equal(failedForGood(second), false);
  });

  it('a retry at once when the policy has no delays', () => {
    const outcome = decideRunOutcome(failed({ policy: { retries: 1 } }).run);
    assert.equal(outcome.kind === 'retry' && outcome.delayMs, 0);
  });

  it('a failure with the retries used up: failure, for good', () => {
    const outcome = decideRunOutcome(failed({ attempt: 3 }).run);
    assert.deepEqual(outcome, { kind: 'failure', error, event: 'job-failed', data: errorData });
    assert.equal(failedForGood(outcome), true);
  });

  it('a failure the strategy does not retry (null, or zero retries): failure, for good', () => {
    assert.equal(decideRunOutcome(failed({ policy: null }).run).kind, 'failure');
    assert.equal(decideRunOutcome(failed({ policy: { retries: 0, delays: [10] } }).run).kind, 'failure');
  });

  it('a failure after stop() began: interrupted, and the retry strategy is not asked', () => {
    const { run, asked } = failed({ stopping: true, attempt: 3 });
    const outcome = decideRunOutcome(run);
    assert.deepEqual(outcome, { kind: 'interrupted', error, event: 'job-interrupted', data: errorData });
    assert.equal(asked.length, 0);
    assert.equal(failedForGood(outcome), false);
  });

  it('a payload that cannot be decoded: failure at once, without asking the strategy', () => {
    const outcome = decideRunOutcome({ kind: 'undecodable', error });
    assert.deepEqual(outcome, { kind: 'failure', error, event: 'job-failed', data: errorData });
    assert.equal(failedForGood(outcome), true);
  });

  it('abandoned runs below maxAbandonedRuns: recovered, with the count in its data', () => {
    const outcome = decideRunOutcome({ kind: 'abandoned', abandonedRuns: 2, maxAbandonedRuns: 3 });
    assert.deepEqual(outcome, { kind: 'recovered', abandonedRuns: 2, event: 'job-recovered', data: { abandonedRuns: 2 } });
    assert.equal(failedForGood(outcome), false);
  });

  it('abandoned runs at (or past) maxAbandonedRuns: set aside with an AbandonedJobError, for good', () => {
    for (const abandonedRuns of [3, 4]) {
      const outcome = decideRunOutcome({ kind: 'abandoned', abandonedRuns, maxAbandonedRuns: 3 });
      assert.equal(outcome.kind, 'set-aside');
      assert.ok(outcome.kind === 'set-aside' && outcome.error instanceof AbandonedJobError);
      assert.equal(outcome.kind === 'set-aside' && outcome.error.abandonedRuns, abandonedRuns);
      assert.equal(outcome.event, 'job-set-aside');
      assert.deepEqual(Object.keys(outcome.data), ['abandonedRuns', 'error']);
      assert.equal(outcome.data['abandonedRuns'], abandonedRuns);
      assert.equal((outcome.data['error'] as { name: string }).name, 'AbandonedJobError');
      assert.equal(failedForGood(outcome), true);
    }
  });

  it('a died claim: kept for its verdict, told as job-recovered only when the claim kept before was a crash', () => {
    const end = { kind: 'claim-died', abortedClaim: '7001', crashes: 0, abandonedRuns: 0, verdictInMs: null } as const;
    assert.deepEqual(decideRunOutcome(end), {
      kind: 'claim-kept',
      abortedClaim: '7001',
      crashes: 0,
      delayMs: null,
      event: 'job-claim-died',
      data: { abandonedRuns: 0, verdictInMs: 0 },
    });
    const judged = decideRunOutcome({ ...end, crashes: 1, abandonedRuns: 2, verdictInMs: 2_000 });
    assert.deepEqual(judged, {
      kind: 'claim-kept',
      abortedClaim: '7001',
      crashes: 1,
      delayMs: 2_000,
      event: 'job-recovered',
      data: { abandonedRuns: 2, verdictInMs: 2_000 },
    });
    assert.equal(failedForGood(judged), false);
  });

  it('every outcome names an event that LOG_EVENTS lists', async () => {
    const { LOG_EVENTS } = await import('proletarian');
    const outcomes = [
      decideRunOutcome(SUCCEEDED),
      decideRunOutcome(failed().run),
      decideRunOutcome(failed({ attempt: 9 }).run),
      decideRunOutcome(failed({ stopping: true }).run),
      decideRunOutcome({ kind: 'undecodable', error }),
      decideRunOutcome({ kind: 'abandoned', abandonedRuns: 1, maxAbandonedRuns: 3 }),
      decideRunOutcome({ kind: 'abandoned', abandonedRuns: 3, maxAbandonedRuns: 3 }),
      decideRunOutcome(failed({ error: new SnoozeJobError(10) }).run),
      decideRunOutcome(failed({ error: new DiscardJobError() }).run),
      decideRunOutcome({ kind: 'cancelled', reason: new JobCancelledError('j'), writesKept: false }),
    ];
    assert.deepEqual(
      outcomes.map((outcome) => outcome.kind),
      ['success', 'retry', 'failure', 'interrupted', 'failure', 'recovered', 'set-aside', 'snooze', 'discarded', 'cancelled'],
    );
    for (const outcome of outcomes) assert.ok(outcome.event in LOG_EVENTS, outcome.event);
  });

  it('a DiscardJobError: discarded for good, with retries left, and the strategy is not asked', () => {
    const discard = new DiscardJobError('the account is gone');
    const { run, asked } = failed({ error: discard, attempt: 1 });
    const outcome = decideRunOutcome(run);
    assert.deepEqual(outcome, {
      kind: 'discarded',
      error: discard,
      event: 'job-discarded',
      data: { error: { name: 'DiscardJobError', message: 'the account is gone', stack: discard.stack } },
    });
    assert.equal(asked.length, 0);
    assert.equal(failedForGood(outcome), true, 'onFailedJob runs');
    assert.equal(decideRunOutcome(failed({ error: discard, stopping: true }).run).kind, 'discarded', 'also while stopping');
  });

  it('a SnoozeJobError: snoozed for its delay, no attempt used, and the strategy is not asked', () => {
    const { run, asked } = failed({ error: new SnoozeJobError(1_500), attempt: 6, policy: null });
    const outcome = decideRunOutcome(run);
    assert.deepEqual(outcome, { kind: 'snooze', delayMs: 1_500, event: 'job-snoozed', data: { delayMs: 1_500 } });
    assert.equal(asked.length, 0);
    assert.equal(failedForGood(outcome), false);
    assert.equal(decideRunOutcome(failed({ error: new SnoozeJobError(0), stopping: true }).run).kind, 'snooze');
  });

  it('a SnoozeJobError with a delay that is not a number of milliseconds cannot be made', () => {
    for (const bad of [-1, Number.NaN, Infinity, 4e12, '5' as unknown as number]) {
      assert.throws(() => new SnoozeJobError(bad), { name: 'InvalidOptionError', message: /SnoozeJobError: delayMs must be/ });
    }
  });

  it('a cancelled run: cancelled, unless the writes of a success already stand', () => {
    const reason = new JobCancelledError('0190');
    const outcome = decideRunOutcome({ kind: 'cancelled', reason, writesKept: false });
    assert.deepEqual(outcome, { kind: 'cancelled', reason, event: 'job-cancelled', data: {} });
    assert.equal(failedForGood(outcome), false, 'no onFailedJob: the app asked for it');
    assert.equal(decideRunOutcome({ kind: 'cancelled', reason, writesKept: true }).kind, 'success', 'too late');
  });

  it('looks for unheard cancel requests before anything but a success heard for throughout', () => {
    const cancelled = decideRunOutcome({ kind: 'cancelled', reason: new JobCancelledError('x'), writesKept: false });
    const others = [
      decideRunOutcome(failed().run),
      decideRunOutcome(failed({ attempt: 9 }).run),
      decideRunOutcome(failed({ stopping: true }).run),
      decideRunOutcome(failed({ error: new SnoozeJobError(5) }).run),
      decideRunOutcome(failed({ error: new DiscardJobError() }).run),
    ];
    assert.equal(mustLookForCancel(decideRunOutcome(SUCCEEDED), true), false);
    assert.equal(mustLookForCancel(decideRunOutcome(SUCCEEDED), false), true);
    for (const outcome of others) {
      assert.equal(mustLookForCancel(outcome, true), true, outcome.kind);
      assert.equal(mustLookForCancel(outcome, false), true, outcome.kind);
    }
    assert.equal(mustLookForCancel(cancelled, false), false, 'already cancelled');
  });
});
