#!/usr/bin/env node
// Run the compiled test suite with Node's built-in test runner.
//
//   node scripts/run-tests.mjs [filter...] [--runner-option...]
//
// Runs `node --test --test-concurrency=N <files>` with every
// build/test/**/*.test.js file, sorted (Node 20's --test does not expand
// globs itself). N defaults to 2 and can be set with TEST_CONCURRENCY.
//
// Arguments starting with "-" are passed to the test runner (use the
// `--opt=value` form, e.g. --test-name-pattern=retry). Other arguments are
// file filters: only files whose path contains one of them run.
//
// Exits with the runner's exit code.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TAG = '[run-tests]';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testDir = path.join(root, 'build', 'test');

function fail(message) {
  process.stderr.write(`${TAG} ${message}\n`);
  process.exit(1);
}

function findTestFiles(dir) {
  const out = [];
  const walk = (d) => {
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch (err) {
      if (err.code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.test.js')) out.push(p);
    }
  };
  walk(dir);
  return out.map((p) => path.relative(process.cwd(), p) || p).sort();
}

const rawConcurrency = process.env.TEST_CONCURRENCY ?? '2';
const concurrency = Number(rawConcurrency);
if (!Number.isInteger(concurrency) || concurrency < 1) {
  fail(`TEST_CONCURRENCY must be a positive integer, got ${JSON.stringify(rawConcurrency)}`);
}

const args = process.argv.slice(2);
const runnerOptions = args.filter((a) => a.startsWith('-'));
const filters = args.filter((a) => !a.startsWith('-'));

const allFiles = findTestFiles(testDir);
if (allFiles.length === 0) {
  fail(`no test files found (build/test/**/*.test.js under ${testDir}). Run \`npm run build:test\` first.`);
}
const files = filters.length === 0
  ? allFiles
  : allFiles.filter((f) => filters.some((needle) => f.includes(needle)));
if (files.length === 0) {
  fail(`no test files match ${filters.map((f) => JSON.stringify(f)).join(', ')} (${allFiles.length} files in build/test)`);
}

const child = spawn(process.execPath, [
  '--test',
  `--test-concurrency=${concurrency}`,
  ...runnerOptions,
  ...files,
], { stdio: 'inherit' });

// Forward termination signals (e.g. from with-postgres.mjs) to the runner.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  });
}

child.once('error', (err) => fail(`cannot start the test runner: ${err.message}`));
child.once('exit', (code, sig) => {
  process.exit(code ?? 128 + (os.constants.signals[sig] ?? 1));
});
