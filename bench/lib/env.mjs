// Where the benchmark finds its database, Redis and the proletarian build.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '../config.mjs';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');

export const databaseUrl = () => process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
export const redisUrl = () => process.env.REDIS_URL || DEFAULT_REDIS_URL;

/** host/port/db/password of REDIS_URL, as ioredis and BullMQ take them. */
export function redisOptions() {
  const url = new URL(redisUrl());
  const options = { host: url.hostname || '127.0.0.1', port: Number(url.port || 6379) };
  if (url.password) options.password = decodeURIComponent(url.password);
  if (url.username) options.username = decodeURIComponent(url.username);
  const db = url.pathname.replace('/', '');
  if (db) options.db = Number(db);
  return options;
}

/**
 * The package root of the proletarian build under test: this repository
 * (its dist/, so `npm run build` first), or BENCH_PROLETARIAN (set by
 * `--proletarian=DIR`) to compare another build.
 */
export function proletarianRoot() {
  return process.env.BENCH_PROLETARIAN ? path.resolve(process.env.BENCH_PROLETARIAN) : REPO_ROOT;
}

let proletarianModule;
export function loadProletarian() {
  proletarianModule ??= import(pathToFileURL(path.join(proletarianRoot(), 'dist', 'index.js')).href);
  return proletarianModule;
}

/**
 * Copies the build under test (dist/ and package.json) to a temporary folder
 * and points every later import, in this process and in trial processes, at
 * the copy: a rebuild of dist/ during a long run (by `npm test`, say) then
 * cannot mix two builds in one run. Returns a function that deletes the copy.
 */
export function snapshotProletarian() {
  const from = proletarianRoot();
  removeStaleSnapshots();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `proletarian-bench-${process.pid}-`));
  fs.cpSync(path.join(from, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(from, 'package.json'), path.join(dir, 'package.json'));
  // So that the build finds its dependency `pg`.
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  process.env.BENCH_PROLETARIAN_FROM = from;
  process.env.BENCH_PROLETARIAN = dir;
  return () => fs.rmSync(dir, { recursive: true, force: true });
}

// Copies left by runs that were killed (their pid is gone).
function removeStaleSnapshots() {
  for (const name of fs.readdirSync(os.tmpdir())) {
    const pid = Number(/^proletarian-bench-(\d+)-/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if (error.code === 'ESRCH') fs.rmSync(path.join(os.tmpdir(), name), { recursive: true, force: true });
    }
  }
}

/** Version and, when it is a git checkout, commit and whether src/ has changes not committed. */
export function proletarianBuildInfo() {
  const root = process.env.BENCH_PROLETARIAN_FROM ?? proletarianRoot();
  const info = { root, version: readJson(path.join(root, 'package.json'))?.version ?? null };
  try {
    const git = (...args) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    info.commit = git('rev-parse', '--short', 'HEAD');
    info.srcChanged = git('status', '--porcelain', '--', 'src').length > 0;
  } catch {
    // not a git checkout
  }
  const built = path.join(root, 'dist', 'index.js');
  info.builtAt = fs.existsSync(built) ? fs.statSync(built).mtime.toISOString() : null;
  return info;
}

/** The installed version of a dependency of this repository, and the Node.js versions it declares. */
export function packageInfo(name) {
  const json = readJson(path.join(REPO_ROOT, 'node_modules', name, 'package.json'));
  return { version: json?.version ?? null, engines: json?.engines?.node ?? null };
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}
