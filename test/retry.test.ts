import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exponentialBackoff, InvalidOptionError, retryDelayFor, type JobInfo, type RetryPolicy } from 'proletarian';

const job = { attempt: 1 } as JobInfo;

describe('retryDelayFor', () => {
  it('follows the original semantics: delays[k-1], last one repeating, null when used up', () => {
    const policy = { retries: 4, delays: [1000, 5000] };
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((attempt) => retryDelayFor(policy, attempt)),
      [1000, 5000, 5000, 5000, null],
    );
  });

  it('retries at once with no delays, and never with zero retries', () => {
    assert.equal(retryDelayFor({ retries: 2 }, 1), 0);
    assert.equal(retryDelayFor({ retries: 2, delays: [] }, 2), 0);
    assert.equal(retryDelayFor({ retries: 2, delays: [] }, 3), null);
    assert.equal(retryDelayFor({ retries: 0, delays: [100] }, 1), null);
  });
});

describe('exponentialBackoff', () => {
  const policy = (strategy: ReturnType<typeof exponentialBackoff>): RetryPolicy =>
    typeof strategy === 'function' ? strategy(job, new Error('x'))! : strategy;

  it('doubles from one second, five retries, by default (within the ±10% jitter)', () => {
    const { retries, delays = [] } = policy(exponentialBackoff());
    assert.equal(retries, 5);
    [1000, 2000, 4000, 8000, 16000].forEach((base, i) => {
      assert.ok(delays[i]! >= base * 0.9 && delays[i]! <= base * 1.1, `delay ${i}: ${delays[i]}`);
    });
  });

  it('is exact without jitter, and capped at maxDelay', () => {
    assert.deepEqual(policy(exponentialBackoff({ retries: 6, initialDelay: 100, factor: 3, maxDelay: 5000, jitter: 0 })), {
      retries: 6,
      delays: [100, 300, 900, 2700, 5000, 5000],
    });
  });

  it('rejects nonsense options by name', () => {
    assert.throws(() => exponentialBackoff({ retries: -1 }), { name: 'InvalidOptionError', message: /retries/ });
    assert.throws(() => exponentialBackoff({ factor: 0.5 }), InvalidOptionError);
    assert.throws(() => exponentialBackoff({ jitter: 2 }), /jitter/);
    assert.throws(() => exponentialBackoff({ initialDelay: Number.NaN }), /initialDelay/);
  });
});
