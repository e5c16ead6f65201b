import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// What a claimed job's earlier claims say about it. Internal, so loaded from the build.
interface Row {
  abandoned_runs: number;
  aborted_locker: string | null;
  aborted_claim_lost_connection: boolean | null;
}
interface EarlierClaimsModule {
  VERDICT_DELAY_MS: number;
  judgeEarlierClaims(row: Row, batchSize: number, maxAbandonedRuns: number): { kind: string } & Record<string, unknown>;
}
const { judgeEarlierClaims, VERDICT_DELAY_MS } = (await import(new URL('../../dist/worker/earlier-claims.js', import.meta.url).href)) as EarlierClaimsModule;

const row = (overrides: Partial<Row> = {}): Row => ({
  abandoned_runs: 0,
  aborted_locker: null,
  aborted_claim_lost_connection: null,
  ...overrides,
});

describe("judging a job's earlier claims", () => {
  it('runs a job no claim of which died', () => {
    assert.deepEqual(judgeEarlierClaims(row(), 20, 3), { kind: 'run' });
  });

  it('keeps a claim that just died for a later verdict, without counting it', () => {
    assert.deepEqual(judgeEarlierClaims(row({ aborted_locker: '901' }), 20, 3), {
      kind: 'claim-died',
      abortedClaim: '901',
      crashes: 0,
      delayMs: null,
    });
  });

  it('runs a job alone while its kept claim is unreported, in a batch once it was reported', () => {
    assert.deepEqual(judgeEarlierClaims(row({ aborted_claim_lost_connection: false }), 20, 3), { kind: 'run-alone' });
    assert.deepEqual(judgeEarlierClaims(row({ aborted_claim_lost_connection: false }), 1, 3), { kind: 'run' });
    assert.deepEqual(judgeEarlierClaims(row({ aborted_claim_lost_connection: true }), 20, 3), { kind: 'run' });
    assert.deepEqual(judgeEarlierClaims(row({ abandoned_runs: 1 }), 20, 3), { kind: 'run-alone' });
  });

  it('judges the kept claim when the job dies again: unreported counts as a crash, reported does not', () => {
    assert.deepEqual(judgeEarlierClaims(row({ aborted_locker: '950', aborted_claim_lost_connection: false }), 1, 4), {
      kind: 'claim-died',
      abortedClaim: '950',
      crashes: 1,
      delayMs: null,
    });
    assert.deepEqual(judgeEarlierClaims(row({ aborted_locker: '950', aborted_claim_lost_connection: true }), 1, 4), {
      kind: 'claim-died',
      abortedClaim: '950',
      crashes: 0,
      delayMs: null,
    });
  });

  it('waits for the verdict on a death that would make maxAbandonedRuns, then sets the job aside only for a crash', () => {
    const brink = judgeEarlierClaims(row({ abandoned_runs: 1, aborted_locker: '7', aborted_claim_lost_connection: false }), 1, 3);
    assert.deepEqual(brink, { kind: 'claim-died', abortedClaim: '7', crashes: 1, delayMs: VERDICT_DELAY_MS });
    assert.deepEqual(judgeEarlierClaims(row({ abandoned_runs: 2, aborted_claim_lost_connection: false }), 5, 3), {
      kind: 'set-aside',
      abandonedRuns: 3,
    });
    assert.deepEqual(judgeEarlierClaims(row({ abandoned_runs: 2, aborted_claim_lost_connection: true }), 5, 3), {
      kind: 'run-alone',
    });
    // With maxAbandonedRuns 1, even the first death waits for its verdict.
    assert.deepEqual(judgeEarlierClaims(row({ aborted_locker: '8' }), 5, 1), {
      kind: 'claim-died',
      abortedClaim: '8',
      crashes: 0,
      delayMs: VERDICT_DELAY_MS,
    });
    assert.deepEqual(judgeEarlierClaims(row({ aborted_claim_lost_connection: false }), 5, 1), { kind: 'set-aside', abandonedRuns: 1 });
    assert.deepEqual(judgeEarlierClaims(row({ aborted_claim_lost_connection: true }), 5, 1), { kind: 'run' });
    // A crash judged when the job dies again may itself make the count.
    assert.deepEqual(judgeEarlierClaims(row({ abandoned_runs: 2, aborted_locker: '9', aborted_claim_lost_connection: false }), 1, 3), {
      kind: 'set-aside',
      abandonedRuns: 3,
    });
  });

  it('never sets a job aside for lost connections, however many', () => {
    let abandonedRuns = 0;
    for (let death = 0; death < 10; death++) {
      const verdict = judgeEarlierClaims(
        row({ abandoned_runs: abandonedRuns, aborted_locker: String(death), aborted_claim_lost_connection: death > 0 ? true : null }),
        1,
        3,
      );
      assert.equal(verdict.kind, 'claim-died');
      abandonedRuns += verdict['crashes'] as number;
    }
    assert.equal(abandonedRuns, 0);
  });
});
