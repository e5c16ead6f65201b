#!/usr/bin/env node
// Run a few test files against the lowest pg version of the peer dependency's
// range (the `pg-lowest` devDependency, an npm alias), in a copy of the build
// where `pg` is that version — for the library and the tests alike.
//
//   node scripts/pg-lowest.mjs [filter...]
//
// Needs DATABASE_URL and a build (`npm run build && npm run build:test`).
// Exits with the test runner's exit code.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const home = path.join(root, 'build', 'pg-lowest');
// What touches pg the most: its private API, the round trips built on it,
// enqueue's prepared statements, migrations, and the worker's batches and timeouts.
const FILES = [
  'pg-driver.test.js',
  'round-trip.test.js',
  'enqueue.test.js',
  'migrate.test.js',
  'worker-batches.test.js',
  'worker-timeouts.test.js',
];

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const lowest = pkg.devDependencies['pg-lowest'].replace(/^npm:pg@/, '');
const range = pkg.peerDependencies.pg;
// The range is the lowest version tested here up to the next major, which no test has seen.
if (range !== `>=${lowest} <9`) {
  console.error(`[pg-lowest] the peer range ${range} and pg-lowest (${lowest}) disagree`);
  process.exit(1);
}

fs.rmSync(home, { recursive: true, force: true });
fs.mkdirSync(path.join(home, 'node_modules'), { recursive: true });
// The package itself, so that `import 'proletarian'` resolves here, to this copy.
fs.writeFileSync(path.join(home, 'package.json'), JSON.stringify({ name: pkg.name, type: 'module', exports: pkg.exports }));
fs.cpSync(path.join(root, 'dist'), path.join(home, 'dist'), { recursive: true });
fs.cpSync(path.join(root, 'build', 'test'), path.join(home, 'build', 'test'), { recursive: true });
// Everything else resolves from the checkout's node_modules, two levels up.
fs.symlinkSync(path.join(root, 'node_modules', 'pg-lowest'), path.join(home, 'node_modules', 'pg'), 'dir');

const installed = JSON.parse(fs.readFileSync(path.join(home, 'node_modules', 'pg', 'package.json'), 'utf8')).version;
const filters = process.argv.slice(2);
const files = FILES.filter((f) => filters.length === 0 || filters.some((needle) => f.includes(needle)));
console.log(`[pg-lowest] pg ${installed}: ${files.join(', ')}`);
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', ...files.map((f) => path.join(home, 'build', 'test', f))],
  { stdio: 'inherit', cwd: home },
);
process.exit(result.status ?? 1);
