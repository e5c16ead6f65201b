import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The Vitest examples (test/vitest/), run by Vitest itself, so that
// `npm test` stays the one command.

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

describe('under Vitest', () => {
  it('proletarian/testing works in a Vitest test file', async () => {
    const vitest = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
    const result = await run(process.execPath, [vitest, 'run', '--reporter=dot'], {
      cwd: root,
      env: { ...process.env, CI: 'true', NO_COLOR: '1' },
      timeout: 120_000,
    }).catch((error: { stdout?: string; stderr?: string }) => assert.fail(`vitest failed:\n${error.stdout}\n${error.stderr}`));
    assert.match(result.stdout, /Tests\s+1 passed/);
  });
});
