import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { LOG_EVENTS } from 'proletarian';
import { databaseUrl } from './helpers/database.js';

// The README's TypeScript examples, compiled as a reader would paste them.
// Files under build/ resolve 'proletarian' to this package, as in an app.

const run = promisify(execFile);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const root = new URL('../../', import.meta.url);
const dir = fileURLToPath(new URL('build/readme/', root));

interface Block {
  line: number;
  code: string;
}

/**
 * The ```ts blocks of the README that are code, not an API signature such
 * as `prune(db, options): Promise<…>` (those are ```typescript blocks). A
 * block may be indented, inside a list item.
 */
function codeBlocks(): Block[] {
  const lines = readFileSync(new URL('README.md', root), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const indent = /^( *)```ts$/.exec(lines[i]!)?.[1];
    if (indent === undefined) continue;
    const start = i + 1;
    while (lines[++i] !== `${indent}\`\`\``) if (i >= lines.length) throw new Error(`unclosed block at line ${start}`);
    const code = lines
      .slice(start, i)
      .map((line) => line.slice(indent.length))
      .join('\n');
    if (!/^\w+\(.*\): \S[^\n]*$/.test(code)) blocks.push({ line: start, code });
  }
  return blocks;
}

async function compile(project: string): Promise<void> {
  const result = await run(process.execPath, [tsc, '-p', project]).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
  assert.equal(result, '', 'tsc reports no errors');
}

function writeProject(name: string, files: Record<string, string>, emit: boolean): string {
  const projectDir = `${dir}${name}/`;
  mkdirSync(projectDir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(`${projectDir}${file}`, text);
  writeFileSync(
    `${projectDir}tsconfig.json`,
    JSON.stringify({
      extends: '../../../tsconfig.base.json',
      // Unused names are this repository's rule, not a reader's: an example may define what it does not call.
      compilerOptions: { noUnusedLocals: false, ...(emit ? { rootDir: '.', outDir: 'out', sourceMap: false } : { noEmit: true }) },
      include: Object.keys(files),
    }),
  );
  return `${projectDir}tsconfig.json`;
}

describe('the README examples', () => {
  const blocks = codeBlocks();
  before(() => rmSync(dir, { recursive: true, force: true }));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the quick start compiles as it is, and runs on an empty database', async () => {
    const quickStart = blocks[0]!;
    assert.match(quickStart.code, /^import pg from 'pg';/, 'the first block is the quick start');
    const project = writeProject('quick-start', { 'quick-start.ts': quickStart.code }, true);
    await compile(project);

    const database = `readme_${randomBytes(5).toString('hex')}`;
    const admin = new pg.Client({ connectionString: databaseUrl() });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${database}`);
      const url = new URL(databaseUrl());
      url.pathname = `/${database}`;
      await run(process.execPath, [`${dir}quick-start/out/quick-start.js`], {
        env: { ...process.env, DATABASE_URL: url.toString() },
        timeout: 30_000,
      });
      const check = new pg.Client({ connectionString: url.toString() });
      await check.connect();
      try {
        const tables = await check.query<{ name: string }>(
          `SELECT schemaname || '.' || tablename AS name FROM pg_tables
            WHERE schemaname IN ('proletarian', 'public') ORDER BY 1`,
        );
        const names = tables.rows.map((r) => r.name);
        for (const table of ['proletarian.archived_job', 'proletarian.job', 'proletarian.job_migrations', 'public.users']) {
          assert.ok(names.includes(table), `${table} among ${names.join(', ')}`);
        }
      } finally {
        await check.end();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  });

  it('every other example compiles, with JobPayloads declared as the README declares it', async () => {
    // What the prose around the examples takes as given.
    const context = `import type pg from 'pg';
import type { JobHandlers } from 'proletarian';
import type { PrismaClient as GeneratedPrismaClient } from '../../../test/fixtures/prisma/client/client.js';
declare global {
  /** The app's generated Prisma client (the tests' own, here). */
  type PrismaClient = GeneratedPrismaClient;
  const PrismaClient: typeof GeneratedPrismaClient;
  const pool: pg.Pool;
  /** A client of the app's own transaction. */
  const client: pg.PoolClient;
  const handlers: JobHandlers;
  const DAY: number;
  function sendEmail(email: string): Promise<void>;
  function reindex(userId: number): Promise<void>;
  function importFile(fileId: string, options: { signal: AbortSignal }): Promise<void>;
}
`;
    const files: Record<string, string> = { 'context.ts': context };
    for (const block of blocks.slice(1)) files[`line-${block.line}.ts`] = `${block.code}\nexport {};\n`;
    assert.ok(Object.keys(files).length >= 6, 'the examples were found');
    await compile(writeProject('examples', files, false));
  });

  it('lists every log event with its level', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    for (const [event, level] of Object.entries(LOG_EVENTS)) {
      assert.match(readme, new RegExp(`^\\| \`${event}\` \\| ${level} \\|`, 'm'), `README's row of ${event}`);
    }
  });
});
