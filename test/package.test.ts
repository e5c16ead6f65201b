import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// What `npm publish` would ship: the tarball's files, its types under every
// module resolution TypeScript users configure, and a CommonJS consumer.
// `--ignore-scripts`: dist is already built, and `prepare` must not rebuild it
// under the other tests' feet.

const exec = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

interface PackedFile {
  path: string;
}

describe('the published package', () => {
  let files: string[] = [];
  let workDir = '';
  let tarball = '';

  before(async () => {
    const { stdout } = await exec(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, maxBuffer: 16 << 20 });
    files = (JSON.parse(stdout) as [{ files: PackedFile[] }])[0].files.map((file) => file.path);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'proletarian-pack-'));
    const packed = await exec(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', workDir], { cwd: root, maxBuffer: 16 << 20 });
    tarball = path.join(workDir, (JSON.parse(packed.stdout) as [{ filename: string }])[0].filename);
  });
  after(() => {
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('ships dist with its types, the sources its maps point to, database/, README.md, LICENSE and docs/', () => {
    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'database/proletarian-schema.sql',
      'docs/architecture.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli.js',
      'dist/testing/index.d.ts',
      'dist/dashboard/index.d.ts',
    ]) {
      assert.ok(files.includes(required), `${required} is missing from the tarball`);
    }
    const stray = files.filter((file) => /^(test|bench|build|scripts|examples|node_modules|\.ci)\//.test(file) || file.endsWith('.tsbuildinfo'));
    assert.deepEqual(stray, []);
    // Every .js has its .d.ts, and every source map's sources ship with it.
    const shipped = new Set(files);
    for (const file of files.filter((f) => f.startsWith('dist/') && f.endsWith('.js') && !f.startsWith('dist/dashboard/public/'))) {
      assert.ok(shipped.has(file.replace(/\.js$/, '.d.ts')), `${file} has no declarations`);
    }
    const maps = files.filter((file) => file.endsWith('.map'));
    assert.ok(maps.length > 0);
    for (const map of maps) {
      const { sources } = JSON.parse(fs.readFileSync(path.join(root, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(map), source));
        assert.ok(shipped.has(target), `${map} points to ${target}, which does not ship`);
      }
    }
  });

  it('every export resolves to a shipped file, and no install script runs for consumers', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, string | Record<string, string>>;
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    const targets = Object.values(pkg.exports).flatMap((entry) => (typeof entry === 'string' ? [entry] : Object.values(entry)));
    for (const target of [...targets, ...Object.values(pkg.bin)]) {
      assert.ok(files.includes(path.posix.normalize(target)), `${target} does not ship`);
    }
    // npm warns a consumer about these (and runs them); `prepare` runs only in a checkout.
    for (const script of ['preinstall', 'install', 'postinstall']) {
      assert.equal(pkg.scripts[script], undefined, `a "${script}" script`);
    }
    assert.ok(!files.includes('binding.gyp'), 'a binding.gyp makes npm run node-gyp at install');
  });

  it('types resolve under node16/nodenext (from ESM) and bundler resolution (@arethetypeswrong/cli)', async () => {
    // Offline: the packed tarball, no DefinitelyTyped lookups. The esm-only
    // profile, and CJSResolvesToESM left out: from CommonJS, an import is a
    // require of an ES module, which TypeScript accepts under nodenext only
    // (see the TypeScript CommonJS test below); node10 has no `exports`.
    const attw = path.join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
    const result = await exec(process.execPath, [attw, tarball, '--no-definitely-typed', '--profile', 'esm-only', '--format', 'json'], {
      cwd: workDir,
      maxBuffer: 64 << 20,
    }).catch((error: { stdout?: string; stderr?: string }) => error);
    const report = JSON.parse(result.stdout ?? '') as {
      analysis: { entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }> };
      problems?: Record<string, { kind: string; entrypoint?: string; resolutionKind?: string }[]>;
    };
    // The profile exits 0; what it ignores is listed all the same, so check what matters here.
    assert.equal((result as { code?: number }).code ?? 0, 0, result.stderr);
    const relevant = Object.values(report.problems ?? {})
      .flat()
      .filter((p) => p.resolutionKind !== 'node10' && p.kind !== 'CJSResolvesToESM');
    assert.deepEqual(relevant, [], result.stderr);
    for (const entry of ['.', './testing', './dashboard']) {
      const resolutions = report.analysis.entrypoints[entry]?.resolutions;
      for (const kind of ['node16-esm', 'bundler']) {
        assert.match(resolutions?.[kind]?.resolution?.fileName ?? '', /\.d\.ts$/, `${entry} under ${kind}`);
      }
    }
  });

  /**
   * A TypeScript project in `workDir/name` with the tarball installed, pg
   * and @types/node linked, and @types/pg when `withPgTypes`; `files` are
   * its sources. Resolves to tsc's report for `module` (empty: no errors).
   */
  async function typeCheck(
    name: string,
    options: { type: 'module' | 'commonjs'; module: string; withPgTypes: boolean },
    files: Record<string, string>,
  ): Promise<string> {
    const project = path.join(workDir, name);
    const modules = path.join(project, 'node_modules');
    if (!fs.existsSync(modules)) {
      fs.mkdirSync(path.join(modules, '@types'), { recursive: true });
      await exec('tar', ['xzf', tarball, '-C', modules]);
      fs.renameSync(path.join(modules, 'package'), path.join(modules, 'proletarian'));
      for (const dependency of ['pg', 'croner', '@types/node', ...(options.withPgTypes ? ['@types/pg'] : [])]) {
        fs.symlinkSync(path.join(root, 'node_modules', dependency), path.join(modules, dependency), 'dir');
      }
    }
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name, private: true, type: options.type }));
    for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(project, file), text);
    const args = [tsc, '--module', options.module, '--strict', '--noEmit', '--types', 'node', ...Object.keys(files)];
    return exec(process.execPath, args, { cwd: project }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
  }

  // Every entry point, and the pg types the declarations carry (ctx.db's rows typed, not any).
  const CONSUMER = `import { enqueue, type JobContext } from 'proletarian';
import { runJobs } from 'proletarian/testing';
import { createDashboard } from 'proletarian/dashboard';
export const used = [enqueue, runJobs, createDashboard];
export async function one(ctx: JobContext): Promise<number> {
  const { rows } = await ctx.db.query<{ n: number }>('SELECT 1 AS n');
  return rows[0]!.n;
}
// @ts-expect-error: a number is not a string, which only pg's types tell
export const wrong = async (ctx: JobContext): Promise<string> => (await ctx.db.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n;
`;

  // TypeScript 5.8 is the first to accept a require of an ES module (nodenext); this runs the repository's own.
  it('TypeScript in a CommonJS project: types resolve under module nodenext and node20, not node16 or node18 (TS1479)', async () => {
    for (const module of ['nodenext', 'node20']) {
      assert.equal(await typeCheck('ts-cjs-app', { type: 'commonjs', module, withPgTypes: true }, { 'index.ts': CONSUMER }), '', module);
    }
    for (const module of ['node16', 'node18']) {
      const refused = await typeCheck('ts-cjs-app', { type: 'commonjs', module, withPgTypes: true }, { 'index.ts': CONSUMER });
      for (const entry of ['proletarian', 'proletarian/testing', 'proletarian/dashboard']) {
        assert.match(refused, new RegExp(`error TS1479: .*import\\("${entry}"\\)`), `${module} refuses ${entry}`);
      }
    }
  });

  it('TypeScript in an ES module project: types resolve under node16; without @types/pg, tsc reports TS7016', async () => {
    assert.equal(await typeCheck('ts-esm-app', { type: 'module', module: 'node16', withPgTypes: true }, { 'index.ts': CONSUMER }), '');
    const bare = await typeCheck('ts-esm-app-without-pg-types', { type: 'module', module: 'nodenext', withPgTypes: false }, {
      'index.ts': 'export type { JobContext } from \'proletarian\';\n',
    });
    assert.match(bare, /node_modules\/proletarian\/dist\/types\.d\.ts\(\d+,\d+\): error TS7016: Could not find a declaration file for module 'pg'/);
  });

  it('a CommonJS project can require it (require of an ES module: Node 20.19+ and 22.12+)', async () => {
    const project = path.join(workDir, 'cjs-app');
    const modules = path.join(project, 'node_modules');
    fs.mkdirSync(modules, { recursive: true });
    await exec('tar', ['xzf', tarball, '-C', modules]);
    fs.renameSync(path.join(modules, 'package'), path.join(modules, 'proletarian'));
    for (const dependency of ['pg', 'croner']) {
      fs.symlinkSync(path.join(root, 'node_modules', dependency), path.join(modules, dependency), 'dir');
    }
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'cjs-app', private: true, type: 'commonjs' }));
    fs.writeFileSync(
      path.join(project, 'main.cjs'),
      [
        "const { enqueue, createWorker, migrate, InvalidOptionError } = require('proletarian');",
        "const testing = require('proletarian/testing');",
        'console.log(JSON.stringify({',
        '  enqueue: typeof enqueue, createWorker: typeof createWorker, migrate: typeof migrate,',
        "  error: new InvalidOptionError('x') instanceof Error, testing: typeof testing.runJobs,",
        '}));',
      ].join('\n'),
    );
    const { stdout, stderr } = await exec(process.execPath, ['main.cjs'], { cwd: project });
    assert.deepEqual(JSON.parse(stdout), { enqueue: 'function', createWorker: 'function', migrate: 'function', error: true, testing: 'function' });
    assert.equal(stderr, '');
  });
});
