// W8's two trial processes (started by bench/child.mjs): a worker running
// jobs whose handler takes handlerMs, and a producer enqueueing them at a
// steady pace. The runner (bench/lib/steady.mjs) tells both when a phase
// begins, so that each phase's numbers are its own.
//
// Messages, besides bench/child.mjs's ready / go / stop / done:
//   runner → child   { type: 'phase', name }
//   worker → runner  { type: 'progress', finished, started, repeats }   every 25 ms
//                    { type: 'phase-summary', phase, pickup, events }   every second (so far,
//                      should the process die) and when a phase ends
//   producer → runner { type: 'progress', produced, calls, errorCalls, errorJobs, lastError }   every 100 ms
//   runner → producer { type: 'finished', n }   (depth) the worker's count, relayed
//                     { type: 'rate', factor }  (fixed) the burst begins or ends

import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Histogram } from './histogram.mjs';

const WORKER_PROGRESS_MS = 25; // the depth producer tops up from this count
const PRODUCER_PROGRESS_MS = 100;
const SUMMARY_MS = 1_000;

/** Wall-clock ms with a fraction, comparable between the two processes. */
const now = () => performance.timeOrigin + performance.now();

/**
 * The worker: counts each job once when its handler first finishes (a job run
 * again after a rolled-back batch counts as a repeat), and records the wait
 * from its enqueue (payload.t) to its handler's start, per phase.
 */
export async function steadyWorker(system, spec, io) {
  const { handlerMs } = spec.w8;
  const seen = new Bitmap();
  let finished = 0;
  let started = 0;
  let repeats = 0;
  let phase = null;
  let pickup = new Histogram();
  let eventsAtPhaseStart = {};

  const handle = async (i, db, payload) => {
    started += 1;
    pickup.record(now() - payload.t);
    await sleep(handlerMs);
    if (seen.testAndSet(payload.i)) repeats += 1;
    else finished += 1;
  };
  const worker = await system.worker(spec.ns, handle, { concurrency: spec.concurrency, settings: spec.settings });
  const loggedNow = () => ({ ...(worker.report?.()?.logged ?? {}) });

  // The phase so far: its pickup waits, and the events the worker logged in it.
  const summarizePhase = () => {
    const logged = loggedNow();
    const events = {};
    for (const [event, n] of Object.entries(logged)) {
      const delta = n - (eventsAtPhaseStart[event] ?? 0);
      if (delta) events[event] = delta;
    }
    io.send({ type: 'phase-summary', phase, pickup: pickup.summary(), events });
    return logged;
  };
  const endPhase = () => {
    if (phase === null) return;
    eventsAtPhaseStart = summarizePhase();
    pickup = new Histogram();
  };
  io.on('phase', ({ name }) => {
    endPhase();
    phase = name;
  });

  await io.send({ type: 'ready', info: worker.info ?? {} });
  const go = await io.next('go');
  phase = go.phase;
  const ticker = setInterval(() => io.send({ type: 'progress', finished, started, repeats }), WORKER_PROGRESS_MS);
  const summaries = setInterval(summarizePhase, SUMMARY_MS);
  await worker.start();
  await io.next('stop');
  clearInterval(ticker);
  clearInterval(summaries);
  endPhase();
  io.send({ type: 'progress', finished, started, repeats });
  let stopError = null;
  try {
    // Errors seen while connections were being killed are the point of W8; they are in the report.
    await worker.stop({ tolerateErrors: true });
  } catch (error) {
    stopError = error.message;
  }
  const report = worker.report?.() ?? null;
  return { finished, started, repeats, stopError, firstProblem: report?.firstProblem ?? null };
}

/**
 * The producer: `fixed` enqueues rate jobs/s in one batched call per tick;
 * `depth` keeps the jobs enqueued and not finished at `depth`. A failed call
 * (its connection killed) is counted, and its jobs are not sent again: the
 * next call goes on with new ones, on a new connection.
 */
export async function steadyProducer(system, spec, io) {
  const w8 = spec.w8;
  const producer = await system.producer(spec.ns);
  const pad = 'x'.repeat(Math.max(0, w8.payloadBytes - JSON.stringify({ i: 1_000_000, t: now(), pad: '' }).length));
  let nextId = 0;
  let produced = 0;
  let calls = 0;
  let errorCalls = 0;
  let errorJobs = 0;
  let lastError = null;

  // One batched call of n jobs, all stamped with the moment it is made. Resolves to whether it succeeded.
  const enqueue = async (n) => {
    const t = now();
    const payloads = [];
    for (let k = 0; k < n; k++) payloads.push({ i: nextId++, t, pad });
    try {
      await producer.enqueuePayloads(payloads);
      produced += n;
      calls += 1;
      return true;
    } catch (error) {
      errorCalls += 1;
      errorJobs += n;
      lastError = error.message;
      return false;
    }
  };
  const progress = () => ({ type: 'progress', produced, calls, errorCalls, errorJobs, lastError });

  let stopping = false;
  let factor = 1;
  let finished = 0;
  io.on('rate', (m) => (factor = m.factor));
  io.on('finished', (m) => (finished = m.n));

  async function fixedRate() {
    let owed = 0; // jobs due by the schedule so far
    let sent = 0; // jobs sent, failed calls included
    let last = performance.now();
    while (!stopping) {
      const tick = performance.now();
      owed += (w8.rate * factor * (tick - last)) / 1000;
      last = tick;
      const n = Math.min(w8.maxBatch, Math.floor(owed) - sent);
      if (n > 0) {
        sent += n;
        await enqueue(n);
      }
      await sleep(Math.max(0, w8.tickMs - (performance.now() - tick)));
    }
  }

  async function depthTarget() {
    while (!stopping) {
      const tick = performance.now();
      let need = w8.depth - (produced - finished);
      while (need > 0 && !stopping) {
        const n = Math.min(w8.maxBatch, need);
        if (!(await enqueue(n))) break; // try again at the next top-up
        need -= n;
      }
      await sleep(Math.max(0, w8.topUpMs - (performance.now() - tick)));
    }
  }

  await io.send({ type: 'ready', info: producer.info ?? {} });
  await io.next('go');
  const ticker = setInterval(() => io.send(progress()), PRODUCER_PROGRESS_MS);
  const loop = spec.producer === 'fixed' ? fixedRate() : depthTarget();
  await io.next('stop');
  stopping = true;
  await loop;
  clearInterval(ticker);
  io.send(progress());
  let closeError = null;
  try {
    await producer.close();
  } catch (error) {
    closeError = error.message;
  }
  return { produced, calls, errorCalls, errorJobs, lastError, closeError };
}

/** A set of job indexes (0, 1, 2, …), one bit each. */
class Bitmap {
  constructor() {
    this.bytes = new Uint8Array(1 << 16);
  }

  /** Adds i; returns whether it was there already. */
  testAndSet(i) {
    const byte = i >>> 3;
    if (byte >= this.bytes.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    const bit = 1 << (i & 7);
    const had = (this.bytes[byte] & bit) !== 0;
    this.bytes[byte] |= bit;
    return had;
  }
}
