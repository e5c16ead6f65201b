// W8's results: per cell (producer kind × concurrency × system) and phase
// the medians over the repetitions, the ratios proletarian ÷ peer, and the
// targets the team tracks — as text tables for the runner and as Markdown for
// docs/benchmarks.md (bench/markdown.mjs).

import { WORKLOADS as SETTINGS_BY_WORKLOAD } from '../config.mjs';
import { ms, rate, render, renderMarkdown, times } from './report.mjs';
import { PHASES } from './steady.mjs';
import { ratio, summarize } from './stats.mjs';

const OURS = 'proletarian';
const PEERS = ['graphile-worker', 'pg-boss'];

/** What each phase's numbers are made of, per sample. */
const METRICS = {
  rate: (p) => p.rate,
  producedRate: (p) => p.producedRate,
  share: (p) => p.share,
  p50: (p) => p.pickup?.p50,
  p99: (p) => p.pickup?.p99,
  backlogMax: (p) => p.backlog.max,
  backlogMean: (p) => p.backlog.mean,
  failed: (p) => p.failed,
  deadTuples: (p) => p.table?.deadTuples,
  tableBytes: (p) => p.table?.bytes,
  autovacuums: (p) => p.table?.autovacuums,
  autoanalyzes: (p) => p.table?.autoanalyzes,
  stalledSeconds: (p) => p.stalledSeconds,
  dueQueryMs: (p) => p.dueQueryMs,
  enqueueErrors: (p) => p.enqueueErrors.jobs,
  repeats: (p) => p.repeats,
  terminated: (p) => p.fault?.terminated,
};

/** The rows W8 runs: one per producer kind × concurrency × system. */
export function steadyRows(systems) {
  const w8 = SETTINGS_BY_WORKLOAD.W8;
  const rows = [];
  for (const producer of w8.producers) {
    for (const concurrency of w8.concurrency) {
      for (const system of systems) {
        rows.push({ key: `${producer}-${concurrency}-${system}`, label: `${system}, ${producer} c${concurrency}`, system, producer, concurrency });
      }
    }
  }
  return rows;
}

/** The problems with W8's settings (after --set), as messages; none when it can run. */
export function validateSteady(size, w8 = SETTINGS_BY_WORKLOAD.W8) {
  const problems = [];
  const positive = (x) => typeof x === 'number' && Number.isFinite(x) && x > 0;
  if (!Array.isArray(w8.producers) || w8.producers.length === 0 || w8.producers.some((p) => p !== 'fixed' && p !== 'depth')) {
    problems.push(`workloads.W8.producers must be a list of "fixed" and/or "depth", e.g. --set='workloads.W8.producers=["depth"]'`);
  }
  if (!Array.isArray(w8.concurrency) || w8.concurrency.length === 0 || w8.concurrency.some((c) => !Number.isInteger(c) || c < 1)) {
    problems.push('workloads.W8.concurrency must be a list of whole numbers ≥ 1, e.g. --set=workloads.W8.concurrency=[4,16]');
  }
  for (const key of ['rate', 'burstFactor', 'tickMs', 'depth', 'topUpMs', 'maxBatch', 'killEveryMs', 'sampleEveryMs', 'payloadBytes']) {
    if (!positive(w8[key])) problems.push(`workloads.W8.${key} must be a number > 0`);
  }
  if (!(typeof w8.handlerMs === 'number' && w8.handlerMs >= 0)) problems.push('workloads.W8.handlerMs must be a number ≥ 0');
  if (!size?.phases || typeof size.phases !== 'object') {
    problems.push('the mode has no W8 phases');
  } else {
    for (const name of Object.keys(size.phases)) {
      if (!PHASES.includes(name)) problems.push(`unknown W8 phase "${name}"; known: ${PHASES.join(', ')}`);
    }
    for (const name of PHASES) {
      const seconds = size.phases[name];
      if (!(typeof seconds === 'number' && seconds >= 0)) problems.push(`W8 phase ${name}: seconds must be a number ≥ 0 (--set=modes.<mode>.W8.phases.${name}=N)`);
    }
    if (PHASES.every((name) => !(size.phases[name] > 0))) problems.push('every W8 phase has 0 seconds');
  }
  if (!(typeof size?.drainSeconds === 'number' && size.drainSeconds >= 0)) problems.push('W8 drainSeconds must be a number ≥ 0');
  if (!(Number.isInteger(size?.repetitions) && size.repetitions >= 1)) problems.push('W8 repetitions must be a whole number ≥ 1');
  return problems;
}

/** The results of W8: medians per cell and phase, ratios, targets. */
export function summarizeSteady(workload, size, rows, samples, failures) {
  const w8 = SETTINGS_BY_WORKLOAD.W8;
  const out = {
    title: workload.title,
    description: workload.describe(size),
    unit: workload.unit,
    higherIsBetter: true,
    size,
    settings: w8,
    phases: PHASES.filter((name) => rows.some((row) => samples[row.key].some((s) => s.phases[name]))),
    repetitions: Math.max(0, ...rows.map((row) => samples[row.key].length + failures[row.key].length)),
    rows: {},
  };
  for (const row of rows) {
    const list = samples[row.key];
    const phases = {};
    for (const name of out.phases) {
      const present = list.map((s) => s.phases[name]).filter(Boolean);
      if (present.length === 0) continue;
      phases[name] = Object.fromEntries(Object.entries(METRICS).map(([key, get]) => [key, summarize(present.map(get))]));
      phases[name].events = sumCounts(present.map((p) => p.events));
    }
    out.rows[row.key] = {
      label: row.label,
      system: row.system,
      producer: row.producer,
      concurrency: row.concurrency,
      phases,
      failedSinceKills: summarize(list.map((s) => s.failedSinceKills)),
      drainLeft: summarize(list.map((s) => s.drain.left)),
      exits: list.flatMap((s) => s.exits),
      stoppedProcessing: list.map((s) => s.stoppedProcessing).filter(Boolean),
      // The first phase in which the worker died or stopped processing, in any repetition.
      stoppedIn: firstPhase([...list.flatMap((s) => s.exits.filter((e) => e.process === 'worker')), ...list.map((s) => s.stoppedProcessing).filter(Boolean)].map((e) => e.phase)),
      options: list[0]?.info,
      summary: summarize(list.map((s) => s.value)),
      samples: list,
      failures: failures[row.key],
    };
  }
  out.ratios = steadyRatios(out);
  out.targets = steadyTargets(out, w8);
  return out;
}

function firstPhase(names) {
  const order = [...PHASES, 'drain'];
  const known = names.filter((name) => order.includes(name)).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  return known[0] ?? null;
}

function sumCounts(list) {
  const total = {};
  for (const counts of list) for (const [key, n] of Object.entries(counts ?? {})) total[key] = (total[key] ?? 0) + n;
  return total;
}

/** The cells of one producer kind and concurrency, as { key, title, entries: { system: entry } }. */
function groups(result) {
  const out = new Map();
  for (const entry of Object.values(result.rows)) {
    const key = `${entry.producer}-${entry.concurrency}`;
    if (!out.has(key)) out.set(key, { key, producer: entry.producer, concurrency: entry.concurrency, title: groupTitle(result.settings, entry), entries: {} });
    out.get(key).entries[entry.system] = entry;
  }
  return [...out.values()];
}

function groupTitle(w8, { producer, concurrency }) {
  const what = producer === 'fixed' ? `fixed rate ${fmtInt(w8.rate)} jobs/s` : `depth target ${fmtInt(w8.depth)}`;
  return `${what}, concurrency ${concurrency}`;
}

/** Per group and phase, proletarian ÷ each other system: completion rate and pickup p99. */
function steadyRatios(result) {
  const ratios = {};
  for (const group of groups(result)) {
    const ours = group.entries[OURS];
    if (!ours) continue;
    ratios[group.key] = {};
    for (const phase of result.phases) {
      const mine = ours.phases[phase];
      if (!mine) continue;
      ratios[group.key][phase] = {};
      for (const [system, entry] of Object.entries(group.entries)) {
        const theirs = entry.phases[phase];
        if (system === OURS || !theirs) continue;
        ratios[group.key][phase][system] = { rate: ratio(mine.rate.median, theirs.rate.median), p99: ratio(mine.p99.median, theirs.p99.median) };
      }
    }
  }
  return ratios;
}

/**
 * The targets, for proletarian, on the medians: met (true), missed (false),
 * or null when a number is missing (a system not run, a phase left out).
 */
function steadyTargets(result, w8) {
  const t = w8.targets;
  const targets = [];
  const order = [...PHASES, 'drain'];
  for (const group of groups(result)) {
    const ours = group.entries[OURS];
    if (!ours) continue;
    // A number missing because proletarian's worker had stopped is a miss, not n/a.
    const stopped = (phase) => ours.stoppedIn !== null && order.indexOf(ours.stoppedIn) <= order.indexOf(phase.split(' ')[0]);
    const add = (cell, phase, what, value, met) =>
      targets.push(met === null && stopped(phase) ? { cell, phase, what, value: `no number: the worker stopped in ${ours.stoppedIn}`, met: false } : { cell, phase, what, value, met });
    const phases = result.phases.filter((p) => p !== 'warmup' && ours.phases[p]);
    if (group.producer === 'depth' && group.concurrency === 16) {
      for (const phase of phases) {
        const mine = ours.phases[phase];
        for (const peer of PEERS) {
          const theirs = group.entries[peer]?.phases[phase]?.rate.median;
          const what = `completion rate ≥ ${t.depthRatio}× ${peer}'s`;
          if (theirs === 0 && mine.rate.median > 0) add(group.title, phase, what, `${peer} completed none`, true);
          else {
            const r = ratio(mine.rate.median, theirs);
            add(group.title, phase, what, Number.isFinite(r) ? times(r) : 'n/a', Number.isFinite(r) ? r >= t.depthRatio : null);
          }
        }
        const p99 = mine.p99.median;
        add(group.title, phase, `pickup p99 < ${ms(t.depthP99Ms)} ms`, `${ms(p99)} ms`, Number.isFinite(p99) ? p99 < t.depthP99Ms : null);
      }
    }
    if (group.producer === 'fixed') {
      for (const phase of phases) {
        const max = ours.phases[phase].backlogMax.median;
        add(group.title, phase, `due backlog < ${fmtInt(t.fixedBacklog)}`, `max ${fmtInt(max)}`, Number.isFinite(max) ? max < t.fixedBacklog : null);
      }
      for (const [phase, share] of [['held', t.fixedHeld], ['kills', t.fixedKills]]) {
        const s = ours.phases[phase]?.share.median;
        add(group.title, phase, `completion rate ≥ ${Math.round(share * 100)}% of the producer's`, Number.isFinite(s) ? `${Math.round(s * 100)}%` : 'n/a', Number.isFinite(s) ? s >= share : null);
      }
      const failed = ours.failedSinceKills.median;
      add(group.title, 'kills → end', 'no job failed because of the kills', Number.isFinite(failed) ? `${fmtInt(failed)} failed` : 'n/a', Number.isFinite(failed) ? failed === 0 : null);
    }
  }
  return targets;
}

/** One line per trial, for the runner's progress output. */
export function describeSteadySample(s) {
  const short = { warmup: 'warm', clean: 'clean', held: 'held', kills: 'kills', burst: 'burst', recovery: 'recov' };
  const parts = Object.entries(s.phases).map(([name, p]) => `${short[name] ?? name} ${rate(p.rate)}/s p99 ${ms(p.pickup?.p99)}`);
  const trouble = [];
  const failed = s.final.failures.failed;
  if (failed) trouble.push(`${fmtInt(failed)} failed`);
  if (s.totals.enqueueErrors.jobs) trouble.push(`${fmtInt(s.totals.enqueueErrors.jobs)} enqueue errors`);
  if (s.drain.left) trouble.push(`${fmtInt(s.drain.left)} left after the drain`);
  for (const exit of s.exits) trouble.push(`${exit.process} exited in ${exit.phase}`);
  return parts.join(' · ') + (trouble.length ? ` | ${trouble.join(', ')}` : '');
}

/** The tables of one W8 result: [{ title, table, notes }], table[0] the header. */
function steadyTables(result) {
  const out = [];
  for (const group of groups(result)) {
    const header = ['phase', 'system', 'done/s', 'of enqueued', 'pickup p50 / p99 ms', 'due max (mean)', 'failed', 'dead tuples', 'job table MB', 'notes'];
    const table = [header];
    for (const phase of result.phases) {
      let first = true;
      for (const [system, entry] of Object.entries(group.entries)) {
        const p = entry.phases[phase];
        if (!p) continue;
        table.push([
          first ? phase : '',
          system + (entry.failures.length ? ` (${entry.failures.length} failed)` : ''),
          rate(p.rate.median),
          Number.isFinite(p.share.median) ? `${Math.round(p.share.median * 100)}%` : '–',
          `${ms(p.p50.median)} / ${ms(p.p99.median)}`,
          `${fmtInt(p.backlogMax.median)} (${fmtInt(p.backlogMean.median)})`,
          fmtInt(p.failed.median),
          fmtInt(p.deadTuples.median),
          Number.isFinite(p.tableBytes.median) ? (p.tableBytes.median / 2 ** 20).toFixed(1) : '–',
          phaseNotes(phase, p, entry),
        ]);
        first = false;
      }
    }
    const notes = [];
    for (const [system, entry] of Object.entries(group.entries)) {
      for (const exit of entry.exits) notes.push(`${system}: the ${exit.process} process stopped during ${exit.phase} (${exit.second} s): ${exit.reason}`);
      if (entry.exits.every((e) => e.process !== 'worker')) {
        for (const stop of entry.stoppedProcessing) {
          notes.push(`${system}: the worker stopped processing during ${stop.phase} (its last job finished at ${stop.second} s) and did not recover; its process kept running`);
        }
      }
      const left = entry.drainLeft.median;
      if (left > 0) notes.push(`${system}: ${fmtInt(left)} jobs still unfinished after the final drain`);
      for (const failure of entry.failures) notes.push(`${system}: trial failed: ${failure}`);
    }
    const ratioRows = ratioTable(result, group);
    out.push({ title: group.title, table, notes, ratios: ratioRows });
  }
  return out;
}

function phaseNotes(phase, p, entry) {
  const notes = [];
  if (p.enqueueErrors.median > 0) notes.push(`${fmtInt(p.enqueueErrors.median)} enqueue errors`);
  if (p.stalledSeconds.median >= 2) notes.push(`stalled ${fmtInt(p.stalledSeconds.median)} s`);
  if (p.repeats.median > 0) notes.push(`${fmtInt(p.repeats.median)} ran again`);
  if (phase === 'kills') notes.push(entry.system === 'bullmq' ? 'unaffected (Redis)' : `${fmtInt(p.terminated.median)} backends killed`);
  if (phase === 'held' && entry.system === 'bullmq') notes.push('unaffected (Redis)');
  const events = Object.entries(p.events).sort((a, b) => b[1] - a[1]).slice(0, 3);
  if (events.length) notes.push(events.map(([event, n]) => `${fmtInt(n)}× ${event}`).join(', '));
  if (p.autoanalyzes.median === 0 && entry.system !== 'bullmq') notes.push('not analyzed yet');
  return notes.join('; ');
}

function ratioTable(result, group) {
  const ratios = result.ratios[group.key];
  const others = Object.keys(group.entries).filter((s) => s !== OURS);
  if (!ratios || others.length === 0) return null;
  const table = [['phase', ...others.map((s) => `÷ ${s}: rate (p99)`)]];
  for (const [phase, bySystem] of Object.entries(ratios)) {
    table.push([phase, ...others.map((s) => (bySystem[s] ? `${times(bySystem[s].rate)} (${times(bySystem[s].p99)})` : '–'))]);
  }
  return table;
}

function targetLines(result) {
  return result.targets.map((t) => `${t.met === null ? '[n/a]   ' : t.met ? '[met]   ' : '[missed]'} ${t.cell}, ${t.phase}: ${t.what} — ${t.value}`);
}

const LEGEND = [
  'done/s: jobs whose handler finished, counted once per job, per second of the phase; of enqueued: done ÷ jobs enqueued in the phase.',
  'pickup: from the enqueue call to the handler’s start. due: jobs due and not finished (waiting or in flight), sampled every second.',
  'failed: jobs failed for good or set aside during the phase. dead tuples and size: the job table at the end of the phase.',
];

/** Prints W8's tables, ratios and targets. */
export function printSteady(workload, result) {
  for (const { title, table, notes, ratios } of steadyTables(result)) {
    console.log(`\n  ${title}`);
    console.log(render(table, [0, 1, table[0].length - 1]));
    for (const note of notes) console.log(`  ! ${note}`);
    if (ratios) {
      console.log('  proletarian ÷ system: completion rate (> 1: proletarian completes more) and pickup p99 (< 1: proletarian picks up sooner)');
      console.log(render(ratios));
    }
  }
  for (const line of LEGEND) console.log(`  ${line}`);
  if (result.targets.length) {
    console.log('\n  Targets (proletarian, medians):');
    for (const line of targetLines(result)) console.log(`    ${line}`);
  }
}

/** W8 as Markdown, for docs/benchmarks.md. */
export function steadyMarkdown(result) {
  const parts = [];
  for (const { title, table, notes, ratios } of steadyTables(result)) {
    parts.push(`**${title}**`, renderMarkdown(table, [0, 1, table[0].length - 1]));
    if (notes.length) parts.push(notes.map((n) => `- ${n}`).join('\n'));
    if (ratios) parts.push('Proletarian ÷ system: completion rate (pickup p99)', renderMarkdown(ratios));
  }
  if (result.targets.length) {
    parts.push('Targets (Proletarian, medians):', targetLines(result).map((l) => `- ${l.replace(/^\[(\w+\/?\w*)\]\s*/, '**$1** ')}`).join('\n'));
  }
  return parts.join('\n\n');
}

/** A line for the run's summary: how many targets were met. */
export function steadyNote(result) {
  const met = result.targets.filter((t) => t.met === true).length;
  const missed = result.targets.filter((t) => t.met === false).length;
  return `W8 ${result.title}: proletarian met ${met} of ${met + missed} targets (see W8's table of targets above)`;
}

function fmtInt(x) {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–';
}
