import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidOptionError } from 'proletarian';

// The command line's durations. Internal, so loaded from the build; its types come from the build's declarations.
type DurationModule = typeof import('../dist/cli/duration.js');
const { parseDuration, formatDuration } = (await import(
  new URL('../../dist/cli/duration.js', import.meta.url).href
)) as DurationModule;

describe('durations on the command line', () => {
  it('reads a whole number with a unit', () => {
    for (const [text, ms] of [
      ['30d', 30 * 86_400_000],
      ['12h', 12 * 3_600_000],
      ['90m', 90 * 60_000],
      ['45s', 45_000],
      ['2w', 14 * 86_400_000],
      ['500ms', 500],
      ['0s', 0],
      [' 7d ', 7 * 86_400_000],
    ] as const) {
      assert.equal(parseDuration('--older-than', text), ms, text);
    }
  });

  it('refuses a bare number, suggesting units with the same number', () => {
    assert.throws(
      () => parseDuration('--older-than', '1'),
      (error: unknown) =>
        error instanceof InvalidOptionError &&
        error.message ===
          '--older-than needs a unit: 1d (days), 1h (hours), 1m (minutes) or 1s (seconds); ' +
            'a bare number is refused, since it could mean any of them. Got "1"',
    );
    assert.throws(() => parseDuration('--older-than', '0'), /needs a unit: 0d/);
  });

  it('refuses anything else, naming the flag and what it got', () => {
    for (const text of ['', 'd', '30x', '1.5h', '-5d', '30 d', '30D', '1h30m', 'ten days', '30days']) {
      assert.throws(
        () => parseDuration('--every', text),
        (error: unknown) =>
          error instanceof InvalidOptionError &&
          error.message.startsWith('--every must be a whole number with a unit, d (days), h (hours), m (minutes)') &&
          error.message.endsWith(`got ${JSON.stringify(text)}`),
        text,
      );
    }
    assert.throws(() => parseDuration('--older-than', '99999999999999999d'), /--older-than is too long/);
  });

  it('says a duration in words, in the largest unit that divides it', () => {
    assert.equal(formatDuration(30 * 86_400_000), '30 days');
    assert.equal(formatDuration(14 * 86_400_000), '2 weeks');
    assert.equal(formatDuration(86_400_000), '1 day');
    assert.equal(formatDuration(90 * 60_000), '90 minutes');
    assert.equal(formatDuration(3_600_000), '1 hour');
    assert.equal(formatDuration(1_500), '1500 milliseconds');
    assert.equal(formatDuration(0), '0 milliseconds');
  });
});
