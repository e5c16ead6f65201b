#!/usr/bin/env node
// Side-by-side benchmark of proletarian, graphile-worker, pg-boss and BullMQ.
//
//   npm run bench                                  full run (builds first)
//   npm run bench -- --quick                       small N, under 2 minutes
//   npm run bench -- --only=W1,W3 --systems=proletarian,pg-boss
//   npm run bench -- --only=W8 --quick --out=bench/results/w8-test.json
//
// Workloads: W1 bulk enqueue, W2 single enqueues, W3 no-op drain, W4 latency,
// W5 drain with an UPDATE per job, W6 W3 beside large tables, W7 raw-SQL
// ceiling, W9 W3 with priorities, scheduled and unique jobs, W10 W3 with the
// dashboard open, W8 steady state: 1 ms jobs from a producer process at a fixed rate
// (800 jobs/s) or a fixed depth (4,000), concurrency 4 and 16, on fresh tables
// through phases: warm-up, clean, xmin horizon held by an idle transaction,
// backends killed twice a second, a burst of 1.5× the rate, recovery. A W8
// cell (producer × concurrency × system) takes about 5 minutes, 1 with --quick;
// with every system there are 16. Phase lengths in seconds (0 leaves a phase
// out): --set=modes.full.W8.phases.held=60; fewer cells:
// --set='workloads.W8.producers=["depth"]' --set=workloads.W8.concurrency=[16].
//
// Options:
//   --quick              small job counts and short W8 phases (bench/config.mjs MODES.quick)
//   --only=W1,W3         run only these workloads
//   --systems=a,b        run only these systems (proletarian, graphile-worker, pg-boss, bullmq)
//   --reps=N             repetitions (default: the mode's, 3; W8: 1)
//   --out=FILE           where to write the results (default bench/results/latest.json;
//                        give a file of its own for partial runs, e.g. W8 alone)
//   --proletarian=DIR    benchmark the proletarian build in DIR (its dist/) instead of this repository's
//   --autovacuum=MODE    W8 needs autovacuum: 'on' (default) turns it on for the run where the
//                        server has it off, and puts the setting back after; 'as-is' leaves it
//   --label=TEXT         a note kept with the results, e.g. which build or commit DIR holds
//   --set=PATH=VALUE     change a setting of bench/config.mjs for this run (repeatable), e.g.
//                        --set=systems.proletarian.concurrency=16 --set=modes.full.W3.jobs=50000
//   --help
// Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres),
//              REDIS_URL (default redis://127.0.0.1:6379),
//              BENCH_CHILD_ARGS: Node options for the trial processes, e.g. "--cpu-prof"
//              to profile the workers (profiles land in the current directory).
//
// How each workload works and how each system is set up: docs/benchmarks.md.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MODES, SYSTEMS as SETTINGS, WORKLOADS as WORKLOAD_SETTINGS, applyOverrides, parseOverride } from './config.mjs';
import { liveChildren } from './lib/child.mjs';
import { autovacuumForW8 } from './lib/autovacuum.mjs';
import { BENCH_DIR, databaseUrl, proletarianRoot, snapshotProletarian } from './lib/env.mjs';
import { deleteRedisPrefix, deleteStaleRedisKeys, dropStaleSchemas } from './lib/namespaces.mjs';
import { dropSchema, newPool, serverInfo } from './lib/pg.mjs';
import { printWorkload, render, summarizeWorkload, summaryNotes, summaryRows } from './lib/report.mjs';
import { steadyNote } from './lib/steady-report.mjs';
import { redisInfo, withRedis } from './systems/bullmq.mjs';
import { SYSTEMS } from './systems/index.mjs';
import { WORKLOADS } from './workloads.mjs';

const args = parseArgs(process.argv.slice(2));
if (args.help) {
  const lines = fs.readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(1);
  console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
if (args.proletarian) process.env.BENCH_PROLETARIAN = path.resolve(args.proletarian);
let overrides = [];
try {
  overrides = (args.set ?? []).map(parseOverride);
  applyOverrides(overrides);
} catch (error) {
  fail(error.message);
}
// Trial processes read the same overrides (bench/config.mjs applies BENCH_SET).
if (overrides.length) process.env.BENCH_SET = JSON.stringify(overrides);

const mode = args.quick ? 'quick' : 'full';
const size = MODES[mode];
const repetitions = args.reps ? Number(args.reps) : size.repetitions;
const allSystemNames = SYSTEMS.map((s) => s.name);
const systemNames = args.systems ? list(args.systems) : allSystemNames;
const workloadIds = args.only ? list(args.only).map((w) => w.toUpperCase()) : WORKLOADS.map((w) => w.id);
for (const name of systemNames) if (!allSystemNames.includes(name)) fail(`unknown system "${name}"; known: ${allSystemNames.join(', ')}`);
for (const id of workloadIds) if (!WORKLOADS.some((w) => w.id === id)) fail(`unknown workload "${id}"; known: ${WORKLOADS.map((w) => w.id).join(', ')}`);
if (!(Number.isInteger(repetitions) && repetitions >= 1)) fail('--reps must be a whole number ≥ 1');
const autovacuumMode = args.autovacuum ?? 'on';
if (!['on', 'as-is'].includes(autovacuumMode)) fail(`--autovacuum takes on or as-is, not "${autovacuumMode}"`);
for (const workload of WORKLOADS.filter((w) => workloadIds.includes(w.id) && w.validate)) {
  const problems = workload.validate(size[workload.id]);
  if (problems.length) fail(`${workload.id} settings: ${problems.join('; ')}`);
}
const outFile = path.resolve(args.out ?? path.join(BENCH_DIR, 'results', 'latest.json'));

// The proletarian build is copied once, so a rebuild during the run cannot mix builds.
let removeSnapshot = () => {};
if (fs.existsSync(path.join(proletarianRoot(), 'dist', 'index.js'))) removeSnapshot = snapshotProletarian();
process.on('exit', () => removeSnapshot());

const pg = newPool(3);
const ctx = {
  mode,
  size,
  pg,
  timeoutMs: size.trialTimeoutMs,
  live: new Set(), // namespaces in use, dropped on interrupt
  onInterrupt: new Set(), // what else to end on interrupt (W8's idle-in-transaction session)
  warn: (message) => console.log(`  ! ${message}`),
};

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.log(`\n${signal}: stopping trial processes and dropping this run's namespaces…`);
    void cleanUpAndExit(signal === 'SIGINT' ? 130 : 143);
  });
}

const startedAt = new Date();
const clock = performance.now();

// -- The environment ---------------------------------------------------------
try {
  await pg.query('SELECT 1');
} catch (error) {
  fail(`cannot reach PostgreSQL at ${redact(databaseUrl())}: ${error.message}`);
}
const postgres = await serverInfo(pg);
const redis = await redisInfo();
// W8 measures the server as production runs it: with autovacuum.
const autovacuum = workloadIds.includes('W8')
  ? await autovacuumForW8(pg, autovacuumMode, ctx.warn)
  : { state: null, restore: async () => {} };
ctx.onInterrupt.add(autovacuum.restore);
if (autovacuum.state) postgres.autovacuum = autovacuum.state;
const staleSchemas = await dropStaleSchemas(pg);
const staleKeys = redis ? await withRedis(deleteStaleRedisKeys) : 0;

const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? null,
  memoryBytes: os.totalmem(),
  platform: `${os.platform()} ${os.release()}`,
  node: process.version,
  postgres,
  redis,
};

const selected = SYSTEMS.filter((s) => systemNames.includes(s.name));
const available = [];
const skipped = {};
const packages = {};
for (const system of selected) {
  const ok = await system.available();
  if (ok === true) {
    available.push(system.name);
    Object.assign(packages, system.packages());
  } else skipped[system.name] = ok;
}

console.log(
  `proletarian benchmark — ${mode} mode, ${repetitions} repetition${repetitions === 1 ? '' : 's'}` +
    (workloadIds.includes('W8') && !args.reps ? ` (W8: ${size.W8.repetitions})` : '') +
    `, ${startedAt.toISOString()}` +
    (args.label ? ` — ${args.label}` : ''),
);
console.log(
  `machine: ${machine.cpus} × ${machine.cpuModel}, ${(machine.memoryBytes / 2 ** 30).toFixed(0)} GiB, ` +
    `Node ${machine.node}, PostgreSQL ${postgres.server_version} (synchronous_commit=${postgres.synchronous_commit}, ` +
    `shared_buffers=${postgres.shared_buffers}${postgres.autovacuum ? `, autovacuum=${postgres.autovacuum}` : ''}), Redis ${redis ? redis.version : 'not reachable'}`,
);
console.log(`packages: ${Object.entries(packages).map(([name, info]) => `${name} ${describePackage(info)}`).join(', ') || 'none'}`);
if (staleSchemas.length || staleKeys) console.log(`cleaned up after earlier runs: ${staleSchemas.length} schemas, ${staleKeys} Redis keys`);
for (const [name, reason] of Object.entries(skipped)) console.log(`${name}: ${reason}`);

// -- The workloads -----------------------------------------------------------
const results = {};
for (const workload of WORKLOADS.filter((w) => workloadIds.includes(w.id))) {
  const rows = workload.rows(available);
  if (rows.length === 0) {
    console.log(`\n${workload.id} ${workload.title}: nothing to run with the systems selected`);
    continue;
  }
  const wSize = size[workload.id];
  // W8's cells take minutes: it has a repetition count of its own, unless --reps says otherwise.
  const reps = args.reps ? repetitions : (wSize?.repetitions ?? repetitions);
  console.log(`\n${workload.id} ${workload.title}: ${workload.describe(wSize)}`);
  const samples = Object.fromEntries(rows.map((row) => [row.key, []]));
  const failures = Object.fromEntries(rows.map((row) => [row.key, []]));
  for (let rep = 0; rep < reps; rep++) {
    // Alternate the order in each repetition, so no system always goes first.
    const order = rows.map((_, k) => rows[(k + rep) % rows.length]);
    for (const row of order) {
      if (interrupted) break;
      const label = `  rep ${rep + 1}/${reps} ${row.label}`.padEnd(40);
      const trialStarted = performance.now();
      try {
        const sample = await workload.trial(ctx, row);
        sample.trialSeconds = Math.round(performance.now() - trialStarted) / 1000;
        samples[row.key].push(sample);
        console.log(`${label} ${describeSample(workload, sample)}`);
      } catch (error) {
        failures[row.key].push(error.message);
        console.log(`${label} FAILED: ${error.message}`);
        if (error.childStack) console.log(error.childStack.split('\n').slice(0, 6).map((l) => `      ${l}`).join('\n'));
      }
    }
  }
  if (interrupted) break;
  results[workload.id] = (workload.summarize ?? summarizeWorkload)(workload, wSize, rows, samples, failures, results);
  (workload.print ?? printWorkload)(workload, results[workload.id]);
}

// -- The results -------------------------------------------------------------
if (Object.keys(results).length > 0) {
  console.log('\nSummary: medians; in parentheses proletarian ÷ system (jobs/s: > 1 means proletarian is faster; ms: < 1)');
  const rows = summaryRows(results, available);
  if (rows.length > 1) console.log(render(rows));
  for (const note of summaryNotes(results)) console.log(`  ${note}`);
  if (results.W8) console.log(`  ${steadyNote(results.W8)}`);
}
const finishedAt = new Date();
const output = {
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  durationSeconds: Math.round((performance.now() - clock) / 100) / 10,
  mode,
  repetitions,
  label: args.label ?? null,
  args: process.argv.slice(2),
  machine,
  packages,
  skipped,
  settings: {
    sizes: Object.fromEntries(workloadIds.filter((id) => size[id]).map((id) => [id, size[id]])),
    systems: Object.fromEntries(available.map((name) => [name, SETTINGS[name]])),
    workloads: WORKLOAD_SETTINGS,
    trialTimeoutMs: size.trialTimeoutMs,
    overrides: Object.fromEntries(overrides),
  },
  workloads: results,
};
await autovacuum.restore();
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, `${JSON.stringify(output, null, 2)}\n`);
console.log(`\nresults: ${path.relative(process.cwd(), outFile) || outFile} (${output.durationSeconds} s in all)`);
await pg.end();

// -- Helpers -----------------------------------------------------------------
function describeSample(workload, s) {
  if (workload.describeSample) return workload.describeSample(s);
  const parts = [];
  if (workload.percentiles) {
    parts.push(`p50 ${fmtMs(s.p50)}  p95 ${fmtMs(s.p95)}  p99 ${fmtMs(s.p99)} ms`);
  } else {
    parts.push(`${fmtRate(s.value)} ${workload.unit}`, `(${s.seconds.toFixed(2)} s)`);
  }
  if (workload.showRss && s.maxRssKb) parts.push(`peak RSS ${Math.round(s.maxRssKb / 1024)} MB`);
  if (s.repeatedUpdates) parts.push(`${s.repeatedUpdates} repeated updates`);
  if (s.seedSeconds) parts.push(`(seeded in ${s.seedSeconds.toFixed(0)} s)`);
  const unsupported = s.info?.unsupported;
  if (unsupported?.length) parts.push(`[not supported by this build: ${unsupported.join(', ')}]`);
  return parts.join(' ');
}

function fmtRate(x) {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
}

function fmtMs(x) {
  return Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : '–';
}

function describePackage(info) {
  const parts = [info.version];
  if (info.engines && !satisfiesNode(info.engines)) parts.push(`(declares node ${info.engines}; running on ${process.version})`);
  if (info.commit) parts.push(`@${info.commit}${info.srcChanged ? '+uncommitted src' : ''}`);
  if (info.root && path.resolve(info.root) !== path.resolve(BENCH_DIR, '..')) parts.push(`(${info.root})`);
  if (info.builtAt) parts.push(`built ${info.builtAt.slice(0, 16).replace('T', ' ')}Z`);
  return parts.join(' ');
}

// Only the common ">=X.Y.Z" form is checked; anything else counts as satisfied.
function satisfiesNode(range) {
  const m = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  if (!m) return true;
  const want = [m[1], m[2] ?? 0, m[3] ?? 0].map(Number);
  const have = process.versions.node.split('.').map(Number);
  for (let k = 0; k < 3; k++) if (have[k] !== want[k]) return have[k] > want[k];
  return true;
}

async function cleanUpAndExit(code) {
  for (const end of ctx.onInterrupt) await Promise.resolve().then(end).catch(() => {});
  await Promise.all(liveChildren().map((proc) => new Promise((resolve) => {
    proc.once('exit', resolve);
    proc.kill('SIGKILL');
  })));
  for (const ns of ctx.live) {
    await dropSchema(pg, ns).catch(() => {});
    if (redis) await withRedis((client) => deleteRedisPrefix(client, ns)).catch(() => {});
  }
  await pg.end().catch(() => {});
  process.exit(code);
}

function parseArgs(argv) {
  const parsed = {};
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) fail(`unexpected argument "${arg}" (see --help)`);
    const key = m[1];
    if (!['quick', 'only', 'systems', 'reps', 'out', 'proletarian', 'label', 'set', 'autovacuum', 'help'].includes(key)) fail(`unknown option --${key} (see --help)`);
    if (key === 'set') (parsed.set ??= []).push(m[2] ?? '');
    else parsed[key] = m[2] ?? true;
  }
  return parsed;
}

function list(value) {
  return String(value).split(',').map((s) => s.trim()).filter(Boolean);
}

function redact(url) {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}


