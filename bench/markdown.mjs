#!/usr/bin/env node
// Prints a results file (default bench/results/latest.json) as Markdown, for docs/benchmarks.md:
//   node bench/markdown.mjs [results.json]
// A file with W8 (alone, e.g. bench/results/w8-<date>.json, or beside others)
// gets W8's tables, ratios and targets after the rest.

import fs from 'node:fs';
import path from 'node:path';
import { BENCH_DIR } from './lib/env.mjs';
import { renderMarkdown, summaryNotes, summaryRows } from './lib/report.mjs';
import { steadyMarkdown } from './lib/steady-report.mjs';

const file = process.argv[2] ?? path.join(BENCH_DIR, 'results', 'latest.json');
const results = JSON.parse(fs.readFileSync(file, 'utf8'));
const systems = ['proletarian', 'graphile-worker', 'pg-boss', 'bullmq'].filter((name) =>
  Object.values(results.workloads).some((w) => w.rows[name]),
);
const m = results.machine;
const versions = Object.entries(results.packages)
  .map(([name, info]) => `${name} ${info.version}${info.commit ? ` (${info.commit}${info.srcChanged ? ', uncommitted changes in src/' : ''})` : ''}`)
  .join(', ');
console.log(
  `Run of ${results.startedAt.slice(0, 10)}, ${results.mode} mode, ` +
    (Object.keys(results.workloads).some((id) => id !== 'W8') ? `${results.repetitions} repetitions, ` : '') +
    `${results.durationSeconds < 120 ? `${Math.round(results.durationSeconds)} s` : `${Math.round(results.durationSeconds / 60)} min`}: ` +
    `${m.cpus} × ${m.cpuModel}, ` +
    `${Math.round(m.memoryBytes / 2 ** 30)} GiB, Node.js ${m.node}, PostgreSQL ${m.postgres.server_version}, ` +
    `Redis ${m.redis?.version ?? 'not reachable'}; ${versions}.` +
    (results.label ? ` Label: ${results.label}.` : '') +
    '\n',
);
const summary = summaryRows(results.workloads, systems);
if (summary.length > 1) {
  console.log(renderMarkdown(summary));
  const notes = summaryNotes(results.workloads);
  if (notes.length) console.log(`\n${notes.map((n) => `- ${n}`).join('\n')}`);
  console.log('\nMin–max over the repetitions:\n');
  console.log(renderMarkdown(spreadRows()));
}
if (results.workloads.W8) {
  const w8 = results.workloads.W8;
  const reps = w8.repetitions ?? Math.max(...Object.values(w8.rows).map((r) => r.samples.length + r.failures.length));
  console.log(`\nW8 ${w8.title}, ${reps} repetition${reps === 1 ? '' : 's'}: ${w8.description}.\n`);
  console.log(steadyMarkdown(w8));
}

function spreadRows() {
const spread = [['measurement', ...systems]];
for (const [id, w] of Object.entries(results.workloads)) {
  if (id === 'W8') continue;
  const key = w.unit === 'ms' ? 'p50' : 'summary';
  const fmt = (x) => (w.unit === 'ms' ? x.toFixed(1) : Math.round(x).toLocaleString('en-US'));
  const label = `${id} ${w.unit === 'ms' ? 'p50 (ms)' : `(${w.unit})`}`;
  if (id === 'W7') {
    for (const entry of Object.values(w.rows)) {
      const s = entry.summary;
      spread.push([`W7 ${entry.label}`, ...systems.map((name) => (name === 'proletarian' && s.n ? `${fmt(s.min)}–${fmt(s.max)}` : ''))]);
    }
    continue;
  }
  spread.push([
    label,
    ...systems.map((name) => {
      const s = w.rows[name]?.[key];
      return s && s.n ? `${fmt(s.min)}–${fmt(s.max)}` : '';
    }),
  ]);
}
return spread;
}
