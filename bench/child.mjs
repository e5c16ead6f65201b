// A trial process: runs the timed part of one trial for one system, so that
// each trial starts from a fresh Node.js process and its peak RSS is its own.
//
// Protocol (IPC with the runner, bench/lib/child.mjs):
//   runner → { type: 'spec', spec }     what to run (see below)
//   child  → { type: 'ready', info }    prepared; nothing timed has run yet
//   runner → { type: 'go' }
//   kind 'enqueue-bulk' | 'enqueue-one' | 'latency' (timed here):
//     child → { type: 'result', result }
//   kind 'drain' (timed by the runner, which polls the queue until it is empty):
//     child → { type: 'all-handled', handled }  as soon as `spec.jobs` handler calls have started
//     runner → { type: 'stop' }
//   kind 'steady-worker' | 'steady-producer' (W8): see bench/lib/steady-child.mjs
//   child  → { type: 'done', maxRssKb, handled, cpuMicros, report }, then exits
//   child  → { type: 'error', message, stack } on failure, or on an error
//            nothing caught (then the process exits, as an app would)
//
// spec: { system, kind, ns, jobs, warmup, handler: 'noop' | 'update', workerOptions, w4, w5,
//         appName (PGAPPNAME for every connection), w8, producer, concurrency, settings }

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { newPool, ident } from './lib/pg.mjs';
import { steadyProducer, steadyWorker } from './lib/steady-child.mjs';
import { getSystem } from './systems/index.mjs';

// The runner gone (killed, crashed): do not linger.
process.on('disconnect', () => process.exit(2));
process.on('SIGTERM', () => process.exit(143));

// An error nothing caught (a library's, after its connection was killed, say)
// ends the process as it would end an app, but the runner learns why.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (error) => {
    send({ type: 'error', message: `${event}: ${error?.message ?? String(error)}`, stack: error?.stack }).finally(() => process.exit(1));
  });
}

const inbox = [];
const waiters = new Map();
const subscribers = new Map();
process.on('message', (message) => {
  const subscriber = subscribers.get(message?.type);
  if (subscriber) return subscriber(message);
  const waiter = waiters.get(message?.type);
  if (waiter) {
    waiters.delete(message.type);
    waiter(message);
  } else inbox.push(message);
});

/** Calls fn for every message of this type from now on (W8's phases and relayed counts). */
function on(type, fn) {
  subscribers.set(type, fn);
}

function next(type) {
  const index = inbox.findIndex((m) => m.type === type);
  if (index >= 0) return Promise.resolve(inbox.splice(index, 1)[0]);
  return new Promise((resolve) => waiters.set(type, resolve));
}

function send(message) {
  return new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send(message, () => resolve());
  });
}

async function main() {
  const { spec } = await next('spec');
  // Read by pg for every connection it opens: W8 kills the backends by this name.
  if (spec.appName) process.env.PGAPPNAME = spec.appName;
  const system = getSystem(spec.system);
  let result;
  switch (spec.kind) {
    case 'enqueue-bulk':
      result = await enqueueBulk(system, spec);
      break;
    case 'enqueue-one':
      result = await enqueueOne(system, spec);
      break;
    case 'latency':
      result = await latency(system, spec);
      break;
    case 'drain':
      result = await drain(system, spec);
      break;
    case 'steady-worker':
      result = await steadyWorker(system, spec, { send, next, on });
      break;
    case 'steady-producer':
      result = await steadyProducer(system, spec, { send, next, on });
      break;
    default:
      throw new Error(`unknown trial kind ${spec.kind}`);
  }
  await send({ type: 'done', ...result, maxRssKb: process.resourceUsage().maxRSS });
}

// W1: one bulk enqueue of spec.jobs jobs, timed from the first call to the last commit
// (after an untimed warm-up of spec.warmup jobs).
async function enqueueBulk(system, spec) {
  const producer = await system.producer(spec.ns);
  if (spec.warmup) await producer.enqueueBulk(spec.warmup);
  await send({ type: 'ready', info: producer.info ?? {} });
  await next('go');
  const started = performance.now();
  const how = await producer.enqueueBulk(spec.jobs);
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  await send({ type: 'result', result: { seconds, how } });
  return {};
}

// W2: spec.jobs single enqueues, each awaited before the next (after spec.warmup untimed ones).
async function enqueueOne(system, spec) {
  const producer = await system.producer(spec.ns);
  for (let i = 0; i < (spec.warmup ?? 0); i++) await producer.enqueueOne(-1 - i);
  await send({ type: 'ready', info: producer.info ?? {} });
  await next('go');
  const started = performance.now();
  for (let i = 0; i < spec.jobs; i++) await producer.enqueueOne(i);
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  await send({ type: 'result', result: { seconds } });
  return {};
}

// W4: an idle worker and a producer in this process; for each job, the time
// from just before the enqueue call to the start of its handler.
async function latency(system, spec) {
  const { gapMinMs, gapMaxMs, settleMs } = spec.w4;
  const started = new Map(); // job index → { at, resolve }
  const finished = new Map();
  const expect = (map, i) => {
    let entry = map.get(i);
    if (!entry) {
      let resolve;
      const promise = new Promise((r) => (resolve = r));
      entry = { promise, resolve, at: NaN };
      map.set(i, entry);
    }
    return entry;
  };
  const handle = async (i) => {
    const at = performance.now();
    const s = expect(started, i);
    s.at = at;
    s.resolve();
    // Returning lets the job finish; the next enqueue waits for that below.
    queueMicrotask(() => expect(finished, i).resolve());
  };
  const worker = await system.worker(spec.ns, handle, spec.workerOptions ?? {});
  const producer = await system.producer(spec.ns);
  await send({ type: 'ready', info: { ...(worker.info ?? {}), ...(producer.info ?? {}) } });
  await next('go');
  await worker.start();
  await sleep(settleMs); // let the worker reach its idle state (listeners, first empty poll)

  const total = spec.warmup + spec.jobs;
  const latencies = [];
  const enqueueTimes = []; // of the latency, how long the enqueue call itself took
  for (let k = 0; k < total; k++) {
    const s = expect(started, k);
    const before = performance.now();
    await producer.enqueueOne(k);
    const returned = performance.now();
    await s.promise;
    if (k >= spec.warmup) {
      latencies.push(s.at - before);
      enqueueTimes.push(returned - before);
    }
    await expect(finished, k).promise;
    started.delete(k);
    finished.delete(k);
    await sleep(gapMinMs + Math.random() * (gapMaxMs - gapMinMs));
  }
  await producer.close();
  await worker.stop();
  await send({ type: 'result', result: { latenciesMs: latencies, enqueueMs: enqueueTimes } });
  return { report: worker.report?.() ?? null };
}

// W3, W5, W6, W7: the queue was filled beforehand; start the worker and keep
// it running until the runner has seen the queue empty (all jobs committed).
async function drain(system, spec) {
  let handled = 0;
  let appPool = null;
  let update = null;
  if (spec.handler === 'update') {
    appPool = newPool(spec.w5.appPoolMax);
    update = `UPDATE ${ident(spec.ns)}.bench_counter SET n = n + 1 WHERE id = $1`;
  }
  const rows = spec.w5?.rows ?? 1;
  const counted = () => {
    handled += 1;
    if (handled === spec.jobs) process.send({ type: 'all-handled', handled });
  };
  // `db` is the job's own transaction where the system offers one (proletarian's ctx.db).
  const handle =
    spec.handler === 'update'
      ? async (i, db) => {
          await (db ?? appPool).query(update, [i % rows]);
          counted();
        }
      : () => counted();

  const worker = await system.worker(spec.ns, handle, spec.workerOptions ?? {});
  await send({ type: 'ready', info: worker.info ?? {} });
  await next('go');
  const cpuAtGo = process.cpuUsage();
  await worker.start();
  await next('stop');
  const cpu = process.cpuUsage(cpuAtGo);
  await worker.stop();
  await appPool?.end();
  // CPU this process used while the drain ran (until the runner saw the queue empty), in µs.
  return { handled, cpuMicros: cpu.user + cpu.system, report: worker.report?.() ?? null };
}

main().then(
  () => process.exit(0),
  async (error) => {
    await send({ type: 'error', message: error?.message ?? String(error), stack: error?.stack }).catch(() => {});
    process.exit(1);
  },
);
