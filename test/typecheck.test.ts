import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const project = fileURLToPath(new URL('../../test/types/tsconfig.json', import.meta.url));

it('checks job types and payloads at compile time once JobPayloads is declared', async () => {
  // test/types holds @ts-expect-error lines: tsc fails if any of them compiles cleanly.
  const result = await run(process.execPath, [tsc, '-p', project]).then(
    () => ({ ok: true, output: '' }),
    (error: { stdout?: string }) => ({ ok: false, output: error.stdout ?? String(error) }),
  );
  assert.ok(result.ok, result.output);
});
