// Turning samples into summaries, and summaries into tables.

import { ratio, summarize } from './stats.mjs';

const OURS = 'proletarian';

/**
 * The results of one workload: per row (system or variant) every sample, the
 * median with min and max, and the ratio proletarian ÷ row. For W6 the ratio
 * to proletarian's W3, for W7 proletarian's W3 as a fraction of each ceiling.
 */
export function summarizeWorkload(workload, size, rows, samples, failures, earlier) {
  const out = {
    title: workload.title,
    description: workload.describe(size),
    unit: workload.unit,
    higherIsBetter: workload.higherIsBetter,
    size,
    rows: {},
  };
  for (const row of rows) {
    const list = samples[row.key];
    const entry = {
      label: row.label,
      system: row.system,
      summary: summarize(list.map((s) => s.value)),
      samples: list,
      failures: failures[row.key],
    };
    if (workload.percentiles) {
      for (const p of ['p50', 'p95', 'p99', 'enqueueP50', 'enqueueP99']) entry[p] = summarize(list.map((s) => s[p]));
    }
    if (list.some((s) => s.maxRssKb)) entry.peakRssMB = summarize(list.map((s) => s.maxRssKb / 1024));
    if (list.some((s) => s.cpu)) {
      entry.cpuUsPerJob = {
        worker: summarize(list.map((s) => s.cpu?.workerUsPerJob)),
        rest: summarize(list.map((s) => s.cpu?.restUsPerJob)),
      };
    }
    const applied = list.find((s) => s.info?.applied)?.info;
    if (applied) entry.options = { applied: applied.applied, unsupported: applied.unsupported };
    out.rows[row.key] = entry;
  }
  const ours = out.rows[OURS];
  if (ours) {
    for (const entry of Object.values(out.rows)) {
      if (entry === ours) continue;
      entry.ratio = ratio(ours.summary.median, entry.summary.median);
      if (workload.percentiles) {
        entry.ratios = Object.fromEntries(['p50', 'p95', 'p99'].map((p) => [p, ratio(ours[p].median, entry[p].median)]));
      }
    }
  }
  if (workload.relativeTo && ours) {
    const base = earlier[workload.relativeTo]?.rows?.[OURS];
    out.relativeTo = { workload: workload.relativeTo, ratio: base ? ratio(ours.summary.median, base.summary.median) : NaN };
  }
  if (workload.ceilingFor) {
    const base = earlier[workload.ceilingFor]?.rows?.[OURS];
    out.ceilingFor = { workload: workload.ceilingFor, fractions: {} };
    for (const [key, entry] of Object.entries(out.rows)) {
      out.ceilingFor.fractions[key] = base ? ratio(base.summary.median, entry.summary.median) : NaN;
    }
  }
  return out;
}

/** Prints one workload's table. */
export function printWorkload(workload, result) {
  const rows = Object.values(result.rows);
  const hasOurs = Boolean(result.rows[OURS]);
  const header = ['system'];
  if (workload.percentiles) header.push('p50 ms (min–max)', 'p95 ms', 'p99 ms', 'of which enqueue p50 / p99');
  else header.push(`${result.unit} median`, 'min–max');
  if (hasOurs && rows.length > 1) header.push(workload.percentiles ? 'proletarian ÷ system (p50)' : 'proletarian ÷ system');
  if (workload.showRss) header.push('peak RSS MB');
  if (workload.showCpu) header.push('CPU µs/job: worker + rest');
  if (workload.ceilingFor) header.push(`proletarian ${workload.ceilingFor} ÷ this`);

  const table = [header];
  for (const [key, entry] of Object.entries(result.rows)) {
    const line = [entry.label];
    if (workload.percentiles) {
      line.push(
        `${ms(entry.p50.median)} (${ms(entry.p50.min)}–${ms(entry.p50.max)})`,
        ms(entry.p95.median),
        ms(entry.p99.median),
        `${ms(entry.enqueueP50.median)} / ${ms(entry.enqueueP99.median)}`,
      );
    } else {
      line.push(rate(entry.summary.median), `${rate(entry.summary.min)}–${rate(entry.summary.max)}`);
    }
    if (hasOurs && rows.length > 1) line.push(entry.system === OURS ? '–' : times(entry.ratio));
    if (workload.showRss) line.push(entry.peakRssMB ? String(Math.round(entry.peakRssMB.median)) : '–');
    if (workload.showCpu) line.push(cpuSplit(entry));
    if (workload.ceilingFor) line.push(percent(result.ceilingFor.fractions[key]));
    if (entry.failures.length) line[0] += ` (${entry.failures.length} failed)`;
    table.push(line);
  }
  console.log(render(table));
  if (result.relativeTo) console.log(`  ${workload.id} ÷ ${result.relativeTo.workload} (proletarian): ${times(result.relativeTo.ratio)}`);
  if (hasOurs && rows.length > 1) {
    console.log(
      workload.higherIsBetter
        ? '  (ratio > 1: proletarian is faster)'
        : '  (ratio < 1: proletarian is faster)',
    );
  }
}

/** The table as fixed-width text; numbers right-aligned, and the columns listed in `left` (the first) left-aligned. */
export function render(table, left = [0]) {
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => String(row[c] ?? '').length)));
  return table
    .map((row, r) =>
      '  ' +
      row
        .map((cell, c) => {
          const text = String(cell ?? '');
          return left.includes(c) || r === 0 ? text.padEnd(widths[c]) : text.padStart(widths[c]);
        })
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

/** Median CPU per job of a drain: the worker process + the rest of the machine, in µs. */
export function cpuSplit(entry) {
  const cpu = entry.cpuUsPerJob;
  if (!cpu || !Number.isFinite(cpu.worker.median)) return '–';
  const us = (x) => (x < 10 ? x.toFixed(1) : Math.round(x).toString());
  return `${us(cpu.worker.median)} + ${us(cpu.rest.median)}`;
}

export function rate(x) {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
}

export function ms(x) {
  if (!Number.isFinite(x)) return '–';
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
}

export function times(x) {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : '–';
}

export function percent(x) {
  return Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–';
}

/**
 * One line per measurement of W1–W5 and one column per system: medians, with
 * the ratio proletarian ÷ system in parentheses. Used for the summary at the
 * end of a run and for docs/benchmarks.md (bench/markdown.mjs).
 */
export function summaryRows(results, systemNames) {
  const header = ['measurement', ...systemNames];
  const lines = [header];
  const cell = (entry, value, ratioValue, fmt) => {
    if (!entry || !Number.isFinite(value)) return '–';
    return entry.system === OURS || !Number.isFinite(ratioValue) ? fmt(value) : `${fmt(value)} (${times(ratioValue)})`;
  };
  for (const [id, result] of Object.entries(results)) {
    if (id === 'W6' || id === 'W7' || id === 'W8') continue; // W6, W7: summaryNotes; W8: bench/lib/steady-report.mjs
    if (result.unit === 'ms') {
      for (const p of ['p50', 'p95', 'p99']) {
        lines.push([
          `${id} ${result.title}, ${p} (ms)`,
          ...systemNames.map((name) => cell(result.rows[name], result.rows[name]?.[p]?.median, result.rows[name]?.ratios?.[p], ms)),
        ]);
      }
      continue;
    }
    lines.push([
      `${id} ${result.title} (${result.unit})`,
      ...systemNames.map((name) => cell(result.rows[name], result.rows[name]?.summary.median, result.rows[name]?.ratio, rate)),
    ]);
    if (id === 'W3' || id === 'W5') {
      lines.push([
        `${id} CPU per job, µs: worker process + rest of the machine`,
        ...systemNames.map((name) => (result.rows[name] ? cpuSplit(result.rows[name]) : '–')),
      ]);
      lines.push([
        `${id} peak RSS of the worker process (MB)`,
        ...systemNames.map((name) => {
          const rss = result.rows[name]?.peakRssMB?.median;
          return Number.isFinite(rss) ? String(Math.round(rss)) : '–';
        }),
      ]);
    }
  }
  return lines;
}

/** W6 and W7, which concern proletarian alone, as sentences. */
export function summaryNotes(results) {
  const notes = [];
  const w6 = results.W6?.rows?.[OURS];
  if (w6) {
    const r = results.W6.relativeTo?.ratio;
    notes.push(
      `W6 ${results.W6.title}: ${rate(w6.summary.median)} jobs/s` +
        (Number.isFinite(r) ? `, ${times(r)} proletarian's W3` : ''),
    );
  }
  for (const [key, entry] of Object.entries(results.W7?.rows ?? {})) {
    const fraction = results.W7.ceilingFor?.fractions?.[key];
    notes.push(
      `W7 ${entry.label}: ${rate(entry.summary.median)} jobs/s` +
        (Number.isFinite(fraction) ? `; proletarian's W3 is ${percent(fraction)} of it` : ''),
    );
  }
  return notes;
}

/** A table as GitHub Markdown; numbers right-aligned, and the columns listed in `left` (the first) left-aligned. */
export function renderMarkdown(table, left = [0]) {
  const [header, ...rows] = table;
  const align = header.map((_, c) => (left.includes(c) ? ':--' : '--:'));
  return [header, align, ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}
