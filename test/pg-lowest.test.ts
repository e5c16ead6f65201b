import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../../scripts/pg-lowest.mjs', import.meta.url));

// The lowest pg of the peer dependency's range (package.json's `pg-lowest`)
// passes the tests that touch pg the most; the latest is what every other
// test file runs on.
it('works with the lowest pg version of the peer range', { timeout: 300_000 }, async () => {
  const result = await run(process.execPath, [script], { maxBuffer: 64 * 1024 * 1024 }).then(
    () => ({ ok: true, output: '' }),
    (error: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
  );
  assert.ok(result.ok, result.output.split('\n').filter((line) => /not ok|error|pg-lowest/.test(line)).join('\n'));
});
