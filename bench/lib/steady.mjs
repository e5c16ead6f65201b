// W8, steady state: one cell — a system, a producer kind, a concurrency — in
// a freshly installed namespace that nobody VACUUMs or ANALYZEs but
// autovacuum, through the phases of bench/config.mjs:
//
//   warmup    producer and worker running; not among the targets
//   clean     nothing else happens
//   held      a session sits idle in transaction, holding back the xmin horizon
//   kills     the trial processes' backends are terminated every killEveryMs
//   burst     (fixed-rate producer only) burstFactor × the rate
//   recovery  nothing else happens again
//
// then the producer stops and the worker gets up to drainSeconds to finish
// what is left. The producer and the worker are two trial processes
// (bench/lib/steady-child.mjs); the runner samples their counts and the due
// backlog every second, and the job table at the end of each phase.

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { WORKLOADS as SETTINGS_BY_WORKLOAD } from '../config.mjs';
import { startChild } from './child.mjs';
import { holdHorizon, killBackends } from './faults.mjs';
import { tableStats } from './pg.mjs';

export const PHASES = ['warmup', 'clean', 'held', 'kills', 'burst', 'recovery'];

const READY_TIMEOUT_MS = 120_000;
const DONE_TIMEOUT_MS = 60_000;

/** The phases a cell runs: those with a duration, the burst only for the fixed-rate producer. */
export function phasesOf(size, producer) {
  return PHASES.filter((name) => size.phases[name] > 0 && (name !== 'burst' || producer === 'fixed'));
}

/** Runs one cell in namespace `ns` (installed, through `admin`); returns its sample. */
export async function runSteadyCell(ctx, row, ns, admin) {
  const w8 = SETTINGS_BY_WORKLOAD.W8;
  const size = ctx.size.W8;
  const phases = phasesOf(size, row.producer);
  const spec = {
    system: row.system,
    ns,
    appName: ns, // every connection of both processes carries it; the kills match it
    w8,
    concurrency: row.concurrency,
    settings: w8.systems?.[row.system] ?? {},
  };
  const worker = startChild({ ...spec, kind: 'steady-worker' });
  const producer = startChild({ ...spec, kind: 'steady-producer', producer: row.producer });
  const children = { worker, producer };
  // Ended however the cell ends, and by the runner on Ctrl-C.
  const cleanups = new Set();
  const addCleanup = (fn) => {
    cleanups.add(fn);
    ctx.onInterrupt?.add(fn);
    return () => {
      cleanups.delete(fn);
      ctx.onInterrupt?.delete(fn);
    };
  };

  // The latest counts the two processes reported.
  const counts = { finished: 0, started: 0, repeats: 0, produced: 0, calls: 0, errorCalls: 0, errorJobs: 0, lastError: null };
  const phaseSummaries = {};
  worker.on('progress', (m) => {
    counts.finished = m.finished;
    counts.started = m.started;
    counts.repeats = m.repeats;
    if (row.producer === 'depth') producer.send({ type: 'finished', n: m.finished });
  });
  worker.on('phase-summary', (m) => (phaseSummaries[m.phase] = m));
  producer.on('progress', (m) => {
    for (const key of ['produced', 'calls', 'errorCalls', 'errorJobs', 'lastError']) counts[key] = m[key];
  });

  let t0 = performance.now();
  const clock = () => Math.round((performance.now() - t0) / 100) / 10;
  let current = 'start';
  let phaseIndex = -1;
  const expectedExit = { worker: false, producer: false };
  const exits = [];
  for (const [name, child] of Object.entries(children)) {
    child.exited.then(({ code, signal }) => {
      if (expectedExit[name]) return;
      const reason = child.failure() ?? `exited (${signal ?? code})`;
      const stack = child.errorStack()?.split('\n').slice(1, 9).map((l) => l.trim());
      exits.push({ process: name, phase: current, second: clock(), reason, stack });
      ctx.warn(`${row.label}: the ${name} process stopped during ${current}, at ${clock()} s: ${reason}`);
    });
  }

  const snapshot = async () => {
    const [failures, tables] = await Promise.all([
      admin.failures().catch((error) => ({ error: error.message })),
      tableStats(ctx.pg, ns, admin.jobTables).catch((error) => ({ error: error.message })),
    ]);
    return { failures, table: tables[admin.jobTables[0]] ?? null };
  };
  const mark = () => ({ at: performance.now(), ...counts });

  // On Ctrl-C the runner kills both processes: not worth a warning.
  addCleanup(() => {
    expectedExit.worker = expectedExit.producer = true;
  });
  let sampling = false;
  let sampler = Promise.resolve();
  try {
    const [workerReady, producerReady] = await Promise.all([
      worker.waitFor('ready', READY_TIMEOUT_MS),
      producer.waitFor('ready', READY_TIMEOUT_MS),
    ]);
    const initial = await snapshot();

    t0 = performance.now();
    phaseIndex = 0;
    current = phases[0];
    // Every second: [second, phase index, finished, produced, due jobs (null
    // when the count failed), ms the count took (what sampling costs the database)].
    const timeline = [];
    sampling = true;
    sampler = (async () => {
      let next = performance.now();
      while (sampling) {
        const sample = [clock(), phaseIndex, counts.finished, counts.produced];
        const asked = performance.now();
        sample.push(await admin.due().catch(() => null), Math.round(performance.now() - asked));
        timeline.push(sample);
        next = Math.max(next + w8.sampleEveryMs, performance.now());
        await sleep(next - performance.now());
      }
    })();

    worker.send({ type: 'go', phase: phases[0] });
    producer.send({ type: 'go' });
    const records = [];
    let begin = mark();
    for (const [index, name] of phases.entries()) {
      if (index > 0) {
        phaseIndex = index;
        current = name;
        worker.send({ type: 'phase', name });
      }
      const ends = begin.at + size.phases[name] * 1000;
      const fault = await startFault(name);
      await sleep(Math.max(0, ends - performance.now()));
      const faultStats = await fault?.stop();
      const end = mark();
      // Taken as the next phase begins; awaited at the end.
      records.push({ name, index, begin, end, fault: faultStats, snapshot: snapshot() });
      begin = end;
    }

    // The final drain: no more jobs; the worker finishes what is left, if it can.
    current = 'drain';
    phaseIndex = phases.length;
    worker.send({ type: 'phase', name: 'drain' });
    expectedExit.producer = true;
    producer.send({ type: 'stop' });
    const producerDone = await producer.waitFor('done', DONE_TIMEOUT_MS).catch((error) => ({ error: error.message }));
    const drainStarted = performance.now();
    const drainFrom = counts.finished;
    let left = null;
    while (performance.now() - drainStarted < size.drainSeconds * 1000 && !worker.failure()) {
      left = await admin.pending().catch(() => null);
      if (left === 0) break;
      await sleep(250);
    }
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    expectedExit.worker = !worker.failure();
    worker.send({ type: 'stop' });
    const workerDone = await worker.waitFor('done', DONE_TIMEOUT_MS).catch((error) => ({ error: error.message }));
    sampling = false;
    await sampler;
    const final = await snapshot();
    left = await admin.pending().catch(() => left);

    const every = w8.sampleEveryMs / 1000;
    const phaseResults = {};
    let failedBefore = initial.failures.failed ?? 0;
    for (const r of records) r.snapshot = await r.snapshot;
    for (const r of records) {
      const snap = r.snapshot;
      const seconds = (r.end.at - r.begin.at) / 1000;
      const completed = r.end.finished - r.begin.finished;
      const produced = r.end.produced - r.begin.produced;
      const inPhase = timeline.filter((s) => s[1] === r.index);
      const dues = inPhase.map((s) => s[4]).filter(Number.isFinite);
      const failed = snap.failures.failed ?? null;
      phaseResults[r.name] = {
        seconds: round(seconds, 2),
        completed,
        rate: completed / seconds,
        produced,
        producedRate: produced / seconds,
        share: produced > 0 ? completed / produced : NaN,
        enqueueErrors: { calls: r.end.errorCalls - r.begin.errorCalls, jobs: r.end.errorJobs - r.begin.errorJobs },
        repeats: r.end.repeats - r.begin.repeats,
        pickup: phaseSummaries[r.name]?.pickup ?? null,
        events: phaseSummaries[r.name]?.events ?? {},
        backlog: {
          max: dues.length ? Math.max(...dues) : NaN,
          mean: dues.length ? Math.round(dues.reduce((a, b) => a + b, 0) / dues.length) : NaN,
          end: dues.length ? dues[dues.length - 1] : NaN,
        },
        stalledSeconds: longestStall(timeline, r.index) * every,
        // The runner's count of due jobs takes longer as the table bloats: its cost, per second.
        dueQueryMs: inPhase.length ? Math.round(inPhase.reduce((sum, sample) => sum + sample[5], 0) / inPhase.length) : NaN,
        failed: failed === null ? null : failed - failedBefore,
        failures: snap.failures,
        table: snap.table,
        fault: r.fault,
      };
      if (failed !== null) failedBefore = failed;
    }
    // A worker that finished nothing in the drain while jobs were left has
    // stopped processing (whether or not its process still runs): since when.
    const names = [...phases, 'drain'];
    let stoppedProcessing = null;
    if (left > 0 && counts.finished === drainFrom) {
      const last = timeline.findLastIndex((sample, k) => k > 0 && sample[2] > timeline[k - 1][2]);
      stoppedProcessing = last > 0 ? { phase: names[timeline[last][1]], second: timeline[last][0] } : { phase: phases[0], second: 0 };
    }
    const kills = records.findIndex((r) => r.name === 'kills');
    const failedBeforeKills = kills > 0 ? records[kills - 1].snapshot.failures.failed : initial.failures.failed;
    return {
      value: phaseResults.clean?.rate ?? NaN,
      producer: row.producer,
      concurrency: row.concurrency,
      phases: phaseResults,
      // Failed from the first kill on (nothing else makes these jobs fail).
      failedSinceKills: kills >= 0 ? diff(final.failures.failed, failedBeforeKills) : null,
      drain: {
        seconds: round(drainSeconds, 2),
        completed: counts.finished - drainFrom,
        left,
        pickup: phaseSummaries.drain?.pickup ?? null,
        events: phaseSummaries.drain?.events ?? {},
      },
      final,
      totals: {
        produced: counts.produced,
        enqueueErrors: { calls: counts.errorCalls, jobs: counts.errorJobs, last: counts.lastError },
        finished: counts.finished,
        repeats: counts.repeats,
      },
      exits,
      stoppedProcessing,
      workerStop: workerDone.error ?? workerDone.stopError ?? null,
      workerLog: workerDone.firstProblem ?? null,
      producerStop: producerDone.error ?? producerDone.closeError ?? null,
      info: { worker: workerReady.info, producer: producerReady.info },
      timeline: { columns: ['second', 'phase', 'finished', 'produced', 'due', 'dueQueryMs'], phases: names, rows: timeline },
    };
  } finally {
    sampling = false;
    expectedExit.worker = expectedExit.producer = true;
    for (const cleanup of [...cleanups]) await cleanup();
    await sampler.catch(() => {});
    await Promise.all([worker.kill(), producer.kill()]);
  }

  // The phase's trouble, begun; stop() ends it and resolves to what it did.
  async function startFault(name) {
    if (name === 'held') {
      const held = await holdHorizon(size.phases.held * 1000);
      const remove = addCleanup(() => held.close());
      return {
        async stop() {
          await held.close();
          remove();
          return { xid: held.xid };
        },
      };
    }
    if (name === 'kills') {
      const killer = killBackends(ctx.pg, ns, w8.killEveryMs);
      const remove = addCleanup(() => killer.stop());
      return {
        async stop() {
          const stats = await killer.stop();
          remove();
          return stats;
        },
      };
    }
    if (name === 'burst') {
      producer.send({ type: 'rate', factor: w8.burstFactor });
      return {
        async stop() {
          producer.send({ type: 'rate', factor: 1 });
          return { factor: w8.burstFactor };
        },
      };
    }
    return null;
  }
}

/** The longest run of samples of phase `index` that saw no job finish while jobs were due. */
function longestStall(timeline, index) {
  let longest = 0;
  let run = 0;
  for (let k = 1; k < timeline.length; k++) {
    const [, phase, finished, , due] = timeline[k];
    if (phase !== index) continue;
    if (finished === timeline[k - 1][2] && due > 0) longest = Math.max(longest, ++run);
    else run = 0;
  }
  return longest;
}

function diff(a, b) {
  return Number.isFinite(a) && Number.isFinite(b) ? a - b : null;
}

function round(x, digits) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
