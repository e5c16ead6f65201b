// Every setting of the benchmark in one place, so it is easy to tune.
// `npm run bench` uses `full`, `npm run bench -- --quick` uses `quick`.
// docs/benchmarks.md explains each workload and why each system is set up
// the way it is.

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Job counts and repetitions per mode. */
export const MODES = {
  full: {
    repetitions: 3,
    W1: { jobs: 100_000, warmup: 100 },
    W2: { jobs: 5_000, warmup: 50 },
    W3: { jobs: 100_000 },
    W4: { jobs: 500, warmup: 10 },
    W5: { jobs: 20_000 },
    W6: { jobs: 100_000, archived: 1_000_000, future: 1_000_000, otherQueue: 100_000 },
    W7: { jobs: 100_000 },
    // W9: W3's drain with its jobs spread over `priorities` priorities, beside
    // jobs scheduled later (of the same priorities) and unique-keyed ones.
    W9: { jobs: 100_000, priorities: 5, future: 100_000, keyed: 100_000 },
    // W10: W3's drain while the dashboard's overview, two job lists and the
    // workers page refresh every `refreshMs` (an open page refreshes every
    // 5 s: this is five of each open).
    W10: { jobs: 100_000, refreshMs: 1_000 },
    // W8: seconds of each phase, in this order (0 leaves a phase out); then up
    // to drainSeconds for the worker to finish what is left. W8 runs one
    // repetition unless --reps is given: each cell takes minutes.
    W8: {
      repetitions: 1,
      phases: { warmup: 20, clean: 60, held: 120, kills: 30, burst: 15, recovery: 45 },
      drainSeconds: 30,
    },
    // A trial (one system, one repetition) that takes longer is stopped and reported as failed.
    trialTimeoutMs: 10 * 60_000,
  },
  quick: {
    repetitions: 3,
    W1: { jobs: 10_000, warmup: 100 },
    W2: { jobs: 300, warmup: 50 },
    W3: { jobs: 5_000 },
    W4: { jobs: 30, warmup: 3 },
    W5: { jobs: 1_000 },
    W6: { jobs: 3_000, archived: 20_000, future: 20_000, otherQueue: 3_000 },
    W7: { jobs: 3_000 },
    W9: { jobs: 5_000, priorities: 5, future: 5_000, keyed: 5_000 },
    W10: { jobs: 5_000, refreshMs: 1_000 },
    W8: {
      repetitions: 1,
      phases: { warmup: 5, clean: 10, held: 15, kills: 10, burst: 5, recovery: 10 },
      drainSeconds: 10,
    },
    trialTimeoutMs: 60_000,
  },
};

/** Per-system settings: what each system is given to go as fast as it documents. */
export const SYSTEMS = {
  proletarian: {
    // Loops of the worker; its pool gets concurrency + 2 connections.
    concurrency: 4,
    // Options newer builds of the worker accept. Each is passed only if
    // createWorker accepts it (an InvalidOptionError naming it drops it),
    // and the results say which were in effect.
    optional: {
      batchSize: 500, // max jobs claimed per transaction
      listen: true, // LISTEN/NOTIFY wake-ups (the default where supported)
    },
    // Poll interval of idle loops; undefined = the library's default.
    pollInterval: undefined,
    // enqueueMany: jobs per call in W1 (and when seeding the queue for W3/W5/W6/W7).
    enqueueChunk: 10_000,
  },
  'graphile-worker': {
    // As in graphile-worker's performance documentation (concurrentJobs 24,
    // maxPoolSize 25, a local queue, batched completion), with a larger local
    // queue than its example (500): on this machine 2,000 was faster for
    // no-op jobs, as its docs suggest for very fast tasks.
    concurrency: 24,
    maxPoolSize: 25,
    localQueueSize: 2_000,
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
    // addJobs: jobs per call.
    addJobsChunk: 10_000,
  },
  'pg-boss': {
    // work() options: localConcurrency polling workers, each fetching batchSize
    // jobs and completing them in one statement, fetching again at once while
    // batches come back full.
    // Tuned on this machine: 8 × 500 (tried localConcurrency 2–16, batchSize 100–2,000).
    localConcurrency: 8,
    batchSize: 500,
    burstWhenBatchFull: true,
    pollingIntervalSeconds: 0.5, // the minimum pg-boss allows
    // Wake-ups by LISTEN/NOTIFY (instance option + queue option), for W4.
    useListenNotify: true,
    notify: true,
    // Pool size of the pg-boss instance: one per local worker, plus its own needs.
    max: 12,
    // insert(): jobs per call.
    insertChunk: 10_000,
  },
  bullmq: {
    // BullMQ's documented example concurrency (25–1,000 tried: 50 and up were alike).
    concurrency: 50,
    // addBulk: jobs per call.
    addBulkChunk: 10_000,
    // Job options for every job: completed jobs are deleted at once (keeps Redis small).
    jobOptions: { removeOnComplete: true, removeOnFail: 1000 },
  },
};

/** Settings of individual workloads. */
export const WORKLOADS = {
  // W4: after each job's handler has started and returned, wait a random
  // time in this range before enqueueing the next one, so that enqueues do not
  // line up with a polling worker's cycle.
  W4: { gapMinMs: 5, gapMaxMs: 50, settleMs: 500 },
  // W5: rows of the app table the handlers update (id = job index % rows),
  // and the size of the pg pool the peers' handlers use for it.
  W5: { rows: 1_000, appPoolMax: 20 },
  // W7: jobs claimed per transaction by the raw-SQL loop; 'batchSize' means
  // proletarian's optional batchSize above. Concurrency is proletarian's.
  W7: { batches: [1, 'batchSize'] },
  // W8, steady state: a producer process and a worker process side by side,
  // through phases of trouble (see docs/benchmarks.md). One cell per
  // producer × concurrency × system.
  W8: {
    producers: ['fixed', 'depth'],
    // How many handlers run at once: proletarian's and graphile-worker's
    // `concurrency`, BullMQ's `concurrency`, pg-boss's `localConcurrency`
    // (each of its workers runs its batch's handlers one after another).
    concurrency: [4, 16],
    handlerMs: 1, // each handler awaits a timer of this many ms
    payloadBytes: 256, // the JSON payload, enqueue time and index included
    // fixed: enqueue `rate` jobs/s, one batched call every tickMs (a slow call
    // makes the next one larger); burstFactor × rate during the burst phase.
    rate: 800,
    burstFactor: 1.5,
    tickMs: 20,
    // depth: every topUpMs, enqueue what brings the jobs enqueued and not yet
    // finished (by the counts of the producer and of the worker) up to `depth`.
    depth: 4_000,
    topUpMs: 75,
    maxBatch: 1_000, // jobs per enqueue call at most
    killEveryMs: 500, // kills phase: pg_terminate_backend this often
    sampleEveryMs: 1_000, // completed, produced and due jobs, sampled this often
    // Settings that differ from the other workloads', per system.
    systems: {
      // 500 jobs a batch (W3's) would leave workers idle (16 × 500 > 4,000
      // jobs queued) and make a job wait behind up to 499 handlers of 1 ms.
      // 20 jobs ≈ 20 ms of work, the least proletarian's loops size their claims to.
      'pg-boss': { batchSize: 20 },
    },
    // What the team tracks (printed as met / missed).
    targets: {
      depthRatio: 2, // depth cells, concurrency 16: completion rate ≥ this × pg-boss's and graphile-worker's
      depthP99Ms: 1_000, // … and pickup p99 below this
      fixedBacklog: 1_000, // fixed cells: due backlog below this in every phase
      fixedHeld: 0.95, // … completion rate ≥ this share of the producer's rate while the horizon is held
      fixedKills: 0.8, // … and while backends are killed; and no job failed because of the kills
    },
  },
};

/**
 * Overrides from the command line, `--set=systems.pg-boss.batchSize=200`:
 * a dotted path below `modes`, `systems` or `workloads`, and a value (JSON if
 * it parses, else a string). Trial processes get them through BENCH_SET.
 */
export function applyOverrides(overrides) {
  const roots = { modes: MODES, systems: SYSTEMS, workloads: WORKLOADS };
  for (const [path, value] of overrides) {
    const [root, ...keys] = path.split('.');
    let target = roots[root];
    if (!target || keys.length === 0) throw new Error(`--set: "${path}" must start with modes., systems. or workloads.`);
    for (const key of keys.slice(0, -1)) {
      if (target[key] === null || typeof target[key] !== 'object') throw new Error(`--set: no setting "${path}"`);
      target = target[key];
    }
    const last = keys[keys.length - 1];
    if (!(last in target)) throw new Error(`--set: no setting "${path}"`);
    target[last] = value;
  }
}

/** Parses "path=value" as given to --set. */
export function parseOverride(text) {
  const at = text.indexOf('=');
  if (at < 1) throw new Error(`--set needs path=value; got "${text}"`);
  const raw = text.slice(at + 1);
  let value;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return [text.slice(0, at), value];
}

if (process.env.BENCH_SET) applyOverrides(JSON.parse(process.env.BENCH_SET));
