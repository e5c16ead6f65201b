// BullMQ on Redis: a queue per trial under its own key prefix, one Worker
// with `concurrency` jobs in flight, completed jobs removed at once.

import { SYSTEMS } from '../config.mjs';
import { packageInfo, redisOptions, redisUrl } from '../lib/env.mjs';
import { deleteRedisPrefix } from '../lib/namespaces.mjs';

const cfg = SYSTEMS.bullmq;
const QUEUE = 'noop';
const JOB_NAME = 'noop';

async function newRedis(extra = {}) {
  const { Redis } = await import('ioredis');
  const redis = new Redis({ ...redisOptions(), lazyConnect: true, ...extra });
  redis.on('error', () => {}); // failures surface through the commands
  return redis;
}

async function newQueue(ns) {
  const { Queue } = await import('bullmq');
  const queue = new Queue(QUEUE, { connection: redisOptions(), prefix: ns });
  queue.on('error', () => {});
  await queue.waitUntilReady();
  return queue;
}

async function addBulkChunks(queue, n) {
  const size = Math.min(n, cfg.addBulkChunk);
  let calls = 0;
  for (let from = 0; from < n; from += size) {
    const jobs = [];
    for (let i = from; i < Math.min(n, from + size); i++) jobs.push({ name: JOB_NAME, data: { i }, opts: cfg.jobOptions });
    await queue.addBulk(jobs);
    calls += 1;
  }
  return { calls, jobsPerCall: size };
}

/** Runs fn(client) on a fresh Redis connection, closed afterwards. */
export async function withRedis(fn) {
  const redis = await newRedis();
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** Redis's version and the settings that matter here, or null when Redis cannot be reached. */
export async function redisInfo() {
  let redis;
  try {
    redis = await newRedis({ maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000, enableOfflineQueue: false });
    await redis.connect();
    await redis.ping();
    const server = await redis.info('server');
    const info = { url: redisUrl(), version: /redis_version:(\S+)/.exec(server)?.[1] ?? null };
    for (const name of ['maxmemory-policy', 'appendonly', 'appendfsync', 'save']) {
      try {
        info[name] = (await redis.config('GET', name))[1] ?? null;
      } catch {
        info[name] = null; // CONFIG may be disabled
      }
    }
    return info;
  } catch {
    return null;
  } finally {
    redis?.disconnect();
  }
}

export default {
  name: 'bullmq',
  packages: () => ({ bullmq: packageInfo('bullmq'), ioredis: packageInfo('ioredis') }),
  settings: () => cfg,

  async available() {
    const { host, port } = redisOptions();
    return (await redisInfo()) ? true : `skipped: no Redis at ${host}:${port}`;
  },

  async admin(ns) {
    const queue = await newQueue(ns);
    return {
      install: async () => {},
      seed: (n) => addBulkChunks(queue, n),
      async pending() {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused', 'waiting-children');
        return Object.values(counts).reduce((a, b) => a + b, 0);
      },
      completed: async () => null, // removed on completion
      // W8: due jobs not finished (waiting or active); delayed ones are not due.
      async due() {
        const counts = await queue.getJobCounts('waiting', 'active', 'prioritized', 'paused');
        return Object.values(counts).reduce((a, b) => a + b, 0);
      },
      // W8: failed for good (the last 1,000 are kept) and waiting for a retry (delayed).
      async failures() {
        const counts = await queue.getJobCounts('failed', 'delayed');
        return { failed: counts.failed, retrying: counts.delayed };
      },
      jobTables: [], // not in PostgreSQL
      async close() {
        try {
          await queue.obliterate({ force: true });
        } finally {
          await queue.close();
          await withRedis((redis) => deleteRedisPrefix(redis, ns));
        }
      },
    };
  },

  async producer(ns) {
    const queue = await newQueue(ns);
    return {
      info: { addBulkChunk: cfg.addBulkChunk },
      enqueueBulk: (n) => addBulkChunks(queue, n),
      enqueueOne: (i) => queue.add(JOB_NAME, { i }, cfg.jobOptions),
      enqueuePayloads: (payloads) => queue.addBulk(payloads.map((data) => ({ name: JOB_NAME, data, opts: cfg.jobOptions }))),
      close: () => queue.close(),
    };
  },

  async worker(ns, handle, opts = {}) {
    const { Worker } = await import('bullmq');
    const concurrency = opts.concurrency ?? cfg.concurrency;
    const worker = new Worker(QUEUE, (job) => handle(job.data.i, undefined, job.data), {
      connection: { ...redisOptions(), maxRetriesPerRequest: null },
      prefix: ns,
      concurrency,
      autorun: false,
    });
    const errors = [];
    worker.on('error', (error) => errors.push(error));
    await worker.waitUntilReady();
    let running;
    return {
      info: { concurrency },
      report: () => (errors.length ? { logged: { error: errors.length }, firstProblem: errors[0].message } : null),
      async start() {
        running = worker.run().catch((error) => errors.push(error));
      },
      async stop({ tolerateErrors = false } = {}) {
        await worker.close();
        await running;
        if (errors.length && !tolerateErrors) throw errors[0];
      },
    };
  },
};
