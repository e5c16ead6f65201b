// The workloads W1–W8: what each trial does, and what it measures.
//
// A trial = one workload, one system (or variant), one repetition, in a
// namespace of its own (schema / Redis key prefix) that is dropped afterwards.
// Untimed preparation (installing, filling the queue) happens in the runner;
// the timed part runs in a fresh child process (bench/child.mjs).

import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { SYSTEMS as SETTINGS, WORKLOADS as SETTINGS_BY_WORKLOAD } from './config.mjs';
import { startChild } from './lib/child.mjs';
import { watchDashboard } from './lib/dashboard-watch.mjs';
import { newNamespace } from './lib/namespaces.mjs';
import { dropSchema, ident, settle } from './lib/pg.mjs';
import { percentile } from './lib/stats.mjs';
import { phasesOf, runSteadyCell } from './lib/steady.mjs';
import { describeSteadySample, printSteady, steadyRows, summarizeSteady, validateSteady } from './lib/steady-report.mjs';
import { getSystem } from './systems/index.mjs';

const READY_TIMEOUT_MS = 120_000;
const DONE_TIMEOUT_MS = 60_000;

/**
 * Each workload: id, title, unit, whether higher is better, the rows it has
 * (systems or variants) given the systems selected, and `trial(ctx, row)`
 * returning a sample `{ value, ...details }`.
 */
/** What the Proletarian-only variants of W3 (W6, W9, W10) share: their unit, columns, and the ratio to W3. */
const BESIDE_W3 = {
  unit: 'jobs/s',
  higherIsBetter: true,
  showRss: true,
  showCpu: true,
  relativeTo: 'W3',
  rows: (systems) => (systems.includes('proletarian') ? [systemRow('proletarian')] : []),
};

export const WORKLOADS = [
  {
    id: 'W1',
    title: 'bulk enqueue',
    describe: (size) => `${fmtCount(size.jobs)} jobs enqueued in bulk, one call after another (after ${size.warmup} untimed)`,
    unit: 'jobs/s',
    higherIsBetter: true,
    rows: (systems) => systems.map(systemRow),
    trial: (ctx, row) =>
      inNamespace(ctx, row.system, async (ns, admin) => {
        const { jobs: n, warmup } = ctx.size.W1;
        const { result, info, maxRssKb } = await runTimedChild(ctx, { system: row.system, kind: 'enqueue-bulk', ns, jobs: n, warmup });
        const queued = await admin.pending();
        if (queued !== n + warmup) throw new Error(`expected ${n + warmup} queued jobs after the bulk enqueue, found ${queued}`);
        return { value: n / result.seconds, seconds: result.seconds, how: result.how, info, maxRssKb };
      }),
  },
  {
    id: 'W2',
    title: 'sequential single enqueues',
    describe: (size) => `${fmtCount(size.jobs)} single enqueues, each awaited before the next (after ${size.warmup} untimed)`,
    unit: 'jobs/s',
    higherIsBetter: true,
    rows: (systems) => systems.map(systemRow),
    trial: (ctx, row) =>
      inNamespace(ctx, row.system, async (ns, admin) => {
        const { jobs: n, warmup } = ctx.size.W2;
        const { result, maxRssKb } = await runTimedChild(ctx, { system: row.system, kind: 'enqueue-one', ns, jobs: n, warmup });
        const queued = await admin.pending();
        if (queued !== n + warmup) throw new Error(`expected ${n + warmup} queued jobs, found ${queued}`);
        return { value: n / result.seconds, seconds: result.seconds, meanMs: (result.seconds * 1000) / n, maxRssKb };
      }),
  },
  {
    id: 'W3',
    title: 'process no-op jobs',
    describe: (size) => `${fmtCount(size.jobs)} queued no-op jobs processed to completion`,
    unit: 'jobs/s',
    higherIsBetter: true,
    showRss: true,
    showCpu: true,
    rows: (systems) => systems.map(systemRow),
    trial: (ctx, row) =>
      inNamespace(ctx, row.system, async (ns, admin) => {
        const n = ctx.size.W3.jobs;
        await admin.seed(n);
        await settle(ctx.pg, ns);
        const run = await runDrain(ctx, admin, { system: row.system, kind: 'drain', ns, jobs: n, handler: 'noop' });
        return { value: n / run.seconds, ...run, completed: await checkCompleted(admin, n) };
      }),
  },
  {
    id: 'W4',
    title: 'enqueue → handler start latency',
    describe: (size) => `${fmtCount(size.jobs)} jobs one at a time on an idle worker (after ${size.warmup} warm-up jobs)`,
    unit: 'ms',
    higherIsBetter: false,
    percentiles: true,
    rows: (systems) => systems.map(systemRow),
    trial: (ctx, row) =>
      inNamespace(ctx, row.system, async (ns) => {
        const { jobs, warmup } = ctx.size.W4;
        const { result, info, maxRssKb } = await runTimedChild(ctx, {
          system: row.system,
          kind: 'latency',
          ns,
          jobs,
          warmup,
          w4: SETTINGS_BY_WORKLOAD.W4,
        });
        const l = result.latenciesMs;
        return {
          value: percentile(l, 50),
          p50: percentile(l, 50),
          p95: percentile(l, 95),
          p99: percentile(l, 99),
          max: Math.max(...l),
          // The part of it the enqueue call took (its commit included), p50 and p99.
          enqueueP50: result.enqueueMs ? percentile(result.enqueueMs, 50) : undefined,
          enqueueP99: result.enqueueMs ? percentile(result.enqueueMs, 99) : undefined,
          latenciesMs: l.map((x) => Math.round(x * 1000) / 1000),
          info,
          maxRssKb,
        };
      }),
  },
  {
    id: 'W5',
    title: 'process jobs that update an app row',
    describe: (size) =>
      `${fmtCount(size.jobs)} jobs, each handler runs one UPDATE of an app table (${fmtCount(SETTINGS_BY_WORKLOAD.W5.rows)} rows)`,
    unit: 'jobs/s',
    higherIsBetter: true,
    showRss: true,
    showCpu: true,
    rows: (systems) => systems.map(systemRow),
    trial: (ctx, row) =>
      inNamespace(ctx, row.system, async (ns, admin) => {
        const n = ctx.size.W5.jobs;
        const { rows } = SETTINGS_BY_WORKLOAD.W5;
        const table = `${ident(ns)}.bench_counter`;
        await ctx.pg.query(`CREATE SCHEMA IF NOT EXISTS ${ident(ns)}`);
        await ctx.pg.query(`CREATE TABLE ${table} (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0)`);
        await ctx.pg.query(`INSERT INTO ${table} (id) SELECT g FROM generate_series(0, $1::int - 1) AS g`, [rows]);
        await admin.seed(n);
        await settle(ctx.pg, ns);
        const run = await runDrain(ctx, admin, {
          system: row.system,
          kind: 'drain',
          ns,
          jobs: n,
          handler: 'update',
          w5: SETTINGS_BY_WORKLOAD.W5,
        });
        const updates = Number((await ctx.pg.query(`SELECT coalesce(sum(n), 0) AS s FROM ${table}`)).rows[0].s);
        if (updates < n) throw new Error(`only ${updates} of ${n} updates committed`);
        // More than n: some job ran twice (at-least-once delivery).
        return { value: n / run.seconds, ...run, updates, repeatedUpdates: updates - n };
      }),
  },
  {
    id: 'W6',
    title: 'W3 beside large tables',
    describe: (size) =>
      `W3 with ${fmtCount(size.jobs)} jobs, beside ${fmtCount(size.archived)} archived rows, ` +
      `${fmtCount(size.future)} jobs scheduled later in the same queue and ${fmtCount(size.otherQueue)} due jobs in another queue`,
    ...BESIDE_W3,
    trial: (ctx, row) =>
      drainAfterSeeding(ctx, row, ctx.size.W6.jobs, async (admin) => {
        await admin.seedLargeTables(ctx.size.W6);
        await admin.seed(ctx.size.W6.jobs);
      }),
  },
  {
    id: 'W7',
    title: 'raw-SQL ceiling',
    describe: (size) =>
      `${fmtCount(size.jobs)} jobs drained by ${SETTINGS.proletarian.concurrency} loops of ` +
      `BEGIN; claim+delete+archive N jobs (one statement); COMMIT`,
    unit: 'jobs/s',
    higherIsBetter: true,
    showCpu: true,
    ceilingFor: 'W3',
    rows: (systems) =>
      systems.includes('proletarian')
        ? [...new Set(SETTINGS_BY_WORKLOAD.W7.batches.map(resolveBatch))].map((batch) => ({
            key: `raw-sql-${batch}`,
            label: `raw SQL, ${batch} job${batch === 1 ? '' : 's'}/tx`,
            system: 'raw-sql',
            batch,
          }))
        : [],
    trial: (ctx, row) =>
      inNamespace(ctx, row.system, async (ns, admin) => {
        const n = ctx.size.W7.jobs;
        await admin.seed(n);
        await settle(ctx.pg, ns);
        const run = await runDrain(ctx, admin, {
          system: row.system,
          kind: 'drain',
          ns,
          jobs: n,
          handler: 'noop',
          workerOptions: { batch: row.batch },
        });
        return { value: n / run.seconds, ...run, completed: await checkCompleted(admin, n) };
      }),
  },
  {
    id: 'W8',
    title: 'steady state',
    describe: (size) => {
      const w8 = SETTINGS_BY_WORKLOAD.W8;
      const phases = phasesOf(size, 'fixed').map((name) => `${name} ${size.phases[name]} s`).join(', ');
      return (
        `${w8.handlerMs} ms jobs from a producer process (${w8.producers.map((p) => (p === 'fixed' ? `fixed ${fmtCount(w8.rate)} jobs/s` : `depth ${fmtCount(w8.depth)}`)).join(' and ')}), ` +
        `concurrency ${w8.concurrency.join(' and ')}, fresh tables never vacuumed by us; phases: ${phases}; then a drain of up to ${size.drainSeconds} s`
      );
    },
    unit: 'jobs/s',
    higherIsBetter: true,
    rows: steadyRows,
    validate: validateSteady,
    // Each cell installs its namespace and runs for minutes; no settle(): the point is the untended table.
    trial: (ctx, row) => inNamespace(ctx, row.system, (ns, admin) => runSteadyCell(ctx, row, ns, admin)),
    summarize: summarizeSteady,
    print: printSteady,
    describeSample: describeSteadySample,
  },
  {
    id: 'W9',
    title: 'W3 with priorities, scheduled and unique jobs',
    describe: (size) =>
      `W3 with ${fmtCount(size.jobs)} jobs of ${size.priorities} priorities, beside ${fmtCount(size.future)} jobs ` +
      `of those priorities scheduled later and ${fmtCount(size.keyed)} scheduled jobs with unique keys`,
    ...BESIDE_W3,
    trial: (ctx, row) => drainAfterSeeding(ctx, row, ctx.size.W9.jobs, (admin) => admin.seedLifecycleMix(ctx.size.W9)),
  },
  {
    id: 'W10',
    title: 'W3 with the dashboard open',
    describe: (size) =>
      `W3's drain of ${fmtCount(size.jobs)} jobs while the dashboard's overview and job lists refresh every ${size.refreshMs} ms`,
    ...BESIDE_W3,
    trial: (ctx, row) =>
      drainAfterSeeding(ctx, row, ctx.size.W10.jobs, (admin) => admin.seed(ctx.size.W10.jobs), (ns) =>
        watchDashboard(ns, ctx.size.W10.refreshMs),
      ),
  },
];

/**
 * A no-op drain of `jobs` jobs after `seed(admin)` filled the namespace (W6,
 * W9, W10); the seeding is timed apart. `during(ns)`, if given, starts
 * something that runs beside the drain and resolves to its handle, whose
 * `stop()` ends it and resolves to what it adds to the sample (W10's open
 * dashboard).
 */
function drainAfterSeeding(ctx, row, jobs, seed, during = null) {
  return inNamespace(ctx, row.system, async (ns, admin) => {
    const seeding = performance.now();
    await seed(admin);
    await settle(ctx.pg, ns);
    const seedSeconds = (performance.now() - seeding) / 1000;
    const beside = during ? await during(ns) : null;
    let run;
    try {
      run = await runDrain(ctx, admin, { system: row.system, kind: 'drain', ns, jobs, handler: 'noop' });
    } catch (error) {
      await beside?.stop().catch(() => {});
      throw error;
    }
    const extra = beside ? await beside.stop() : {};
    return { value: jobs / run.seconds, ...run, ...extra, seedSeconds, completed: await checkCompleted(admin, jobs) };
  });
}

function systemRow(name) {
  return { key: name, label: name, system: name };
}

function resolveBatch(batch) {
  return batch === 'batchSize' ? SETTINGS.proletarian.optional.batchSize ?? 1 : batch;
}

/** Runs `fn(ns, admin)` in a fresh namespace, installed; drops it afterwards whatever happens. */
async function inNamespace(ctx, systemName, fn) {
  const system = getSystem(systemName);
  const ns = newNamespace(systemName);
  ctx.live.add(ns);
  let admin;
  try {
    admin = await system.admin(ns);
    await admin.install();
    return await fn(ns, admin);
  } finally {
    await admin?.close().catch((error) => ctx.warn(`cleanup of ${ns}: ${error.message}`));
    await dropSchema(ctx.pg, ns).catch((error) => ctx.warn(`dropping schema ${ns}: ${error.message}`));
    ctx.live.delete(ns);
  }
}

/** Where the system keeps completed jobs, checks that all n are there (at least once). */
async function checkCompleted(admin, n) {
  const completed = await admin.completed();
  if (completed !== null && completed < n) throw new Error(`only ${completed} of ${n} jobs completed`);
  return completed;
}

function warnLogged(ctx, system, report) {
  if (!report) return;
  const counts = Object.entries(report.logged).map(([event, n]) => `${n} × ${event}`).join(', ');
  ctx.warn(`${system} logged ${counts}; the first: ${report.firstProblem}`);
}

/** A trial timed inside the child (W1, W2, W4). */
async function runTimedChild(ctx, spec) {
  const child = startChild(spec);
  try {
    const ready = await child.waitFor('ready', READY_TIMEOUT_MS);
    child.send({ type: 'go' });
    const { result } = await child.waitFor('result', ctx.timeoutMs);
    const done = await child.waitFor('done', DONE_TIMEOUT_MS);
    warnLogged(ctx, spec.system, done.report);
    return { result, info: ready.info, maxRssKb: done.maxRssKb, workerLog: done.report ?? undefined };
  } finally {
    await child.kill();
  }
}

/**
 * A drain (W3, W5, W6, W7), timed by the runner: from the moment it tells the
 * child to start its worker until a query sees no pending job of the queue.
 * Pending counts only reach 0 once the last job's completion has committed.
 * The queue is polled every 500 ms until the child reports that every job's
 * handler has run, then every 2 ms; the end time is when the query that saw
 * 0 was sent.
 */
async function runDrain(ctx, admin, spec) {
  const child = startChild(spec);
  try {
    const ready = await child.waitFor('ready', READY_TIMEOUT_MS);
    let allHandled = false;
    let wake = () => {};
    child.waitFor('all-handled', ctx.timeoutMs).then(
      () => {
        allHandled = true;
        wake();
      },
      () => {},
    );
    const machineAtGo = machineCpu();
    const started = performance.now();
    child.send({ type: 'go' });
    let ended;
    let polls = 0;
    for (;;) {
      const asked = performance.now();
      const pending = await admin.pending();
      polls += 1;
      if (pending === 0) {
        ended = asked;
        break;
      }
      const failure = child.failure();
      if (failure) throw new Error(`${failure} (${pending} jobs left)`);
      if (asked - started > ctx.timeoutMs) {
        throw new Error(`timed out after ${Math.round(ctx.timeoutMs / 1000)} s with ${pending} jobs left`);
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, allHandled ? 2 : 500);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const machineBusy = machineCpu();
    child.send({ type: 'stop' });
    const done = await child.waitFor('done', DONE_TIMEOUT_MS);
    const trouble = (await admin.diagnose?.()) ?? null;
    warnLogged(ctx, spec.system, done.report);
    if (done.handled < spec.jobs) {
      throw new Error(`the queue is empty, but only ${done.handled} of ${spec.jobs} handlers ran${trouble ? ` (${trouble})` : ''}`);
    }
    if (trouble) ctx.warn(`${spec.system}: ${trouble}`);
    return {
      seconds: (ended - started) / 1000,
      cpu: cpuPerJob(machineAtGo, machineBusy, done.cpuMicros, spec.jobs),
      handled: done.handled,
      polls,
      info: ready.info,
      maxRssKb: done.maxRssKb,
      trouble: trouble ?? undefined,
      workerLog: done.report ?? undefined,
    };
  } finally {
    await child.kill();
  }
}

/** Busy and total CPU time of the whole machine so far, in µs, from /proc/stat (null where there is none). */
function machineCpu() {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const tick = 1e6 / 100; // USER_HZ
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: (total - fields[3] - fields[4]) * tick };
  } catch {
    return null;
  }
}

/**
 * Where a drain's CPU went, per job: the worker process, and everything else
 * on the machine (PostgreSQL or Redis, the kernel's side of the sockets, the
 * runner's polls — and any other load the machine had).
 */
function cpuPerJob(atGo, atEnd, workerMicros, jobs) {
  if (!atGo || !atEnd || !Number.isFinite(workerMicros)) return undefined;
  const busy = atEnd.busy - atGo.busy;
  return { workerUsPerJob: workerMicros / jobs, restUsPerJob: Math.max(0, busy - workerMicros) / jobs };
}

export function fmtCount(n) {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}M`;
  if (n >= 1_000 && n % 1_000 === 0) return `${n / 1_000}k`;
  return String(n);
}
