import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { promisify } from 'node:util';

// Every ```ts block of the README compiles against the built package, so an
// example cannot drift from the API. (```typescript blocks are signatures,
// not programs, and are left alone.) A block without imports gets every
// export of 'proletarian' and `pg` imported, and can use the `pool` and
// `client` (a pg.PoolClient in a transaction) that the README's examples
// assume.

const run = promisify(execFile);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const root = new URL('../../', import.meta.url);
const folder = fileURLToPath(new URL('build/readme-examples/', root));

// What the examples take as given: the app's pool and a transaction's
// client, the app's own functions, and the job types of examples that do
// not declare their own (the README's typed-payloads example declares
// JobPayloads, which then holds for every example, as in one app).
const AMBIENT = `import type pg from 'pg';
declare global {
  const pool: pg.Pool;
  const client: pg.PoolClient;
  function sendEmail(to: string): Promise<void>;
  function reindex(userId: number): Promise<void>;
  function importFile(fileId: string, options: { signal: AbortSignal }): Promise<void>;
}
declare module 'proletarian' {
  interface JobPayloads {
    'password-reset-email': { userId: number };
    'rebuild-search-index': { since: string };
    'sync-user': { userId: number };
    'render-document': { documentId: number };
    'import-file': { fileId: string };
  }
}
export {};
`;

it('compiles every TypeScript example of the README', async () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const exported = Object.keys(await import('proletarian')).join(', ');
  const prelude = `import pg from 'pg';\nimport { ${exported} } from 'proletarian';\n`;
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  writeFileSync(`${folder}ambient.d.ts`, AMBIENT);
  writeFileSync(
    `${folder}tsconfig.json`,
    JSON.stringify({
      extends: '../../tsconfig.base.json',
      compilerOptions: { noEmit: true, noUnusedLocals: false, sourceMap: false },
      include: ['.'],
    }),
  );
  let blocks = 0;
  // Blocks may be indented, inside a list item.
  for (const match of readme.matchAll(/^( *)```ts\n([\s\S]*?)^\1```/gm)) {
    const line = readme.slice(0, match.index).split('\n').length + 1;
    const indent = match[1]!.length;
    const code = match[2]!
      .split('\n')
      .map((text) => text.slice(indent))
      .join('\n');
    const imports = /^import /m.test(code);
    writeFileSync(`${folder}readme-line-${line}.ts`, imports ? `${code}\nexport {};\n` : `${prelude}${code}\nexport {};\n`);
    blocks++;
  }
  assert.ok(blocks >= 8, `found ${blocks} examples`);
  const result = await run(process.execPath, [tsc, '-p', folder]).then(
    () => ({ ok: true, output: '' }),
    (error: { stdout?: string }) => ({ ok: false, output: error.stdout ?? String(error) }),
  );
  // Errors name README.md's line of the block's first line of code (plus
  // two lines of prelude in a block without imports).
  assert.ok(result.ok, result.output);
});
