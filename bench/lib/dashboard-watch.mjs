// W10's open dashboard: the build under test's own request handler, served
// from the bench runner, asked for what an open overview page and a job list
// ask for, over and over, while a worker drains the queue.

import { createServer } from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { proletarianRoot } from './env.mjs';
import { newPool } from './pg.mjs';

/** What one refresh of the open pages requests. */
const REFRESH = ['api/overview', 'api/jobs?state=waiting', 'api/jobs?state=succeeded', 'api/workers'];

/**
 * Serves the dashboard of `schema` and refreshes its pages every
 * `intervalMs` until `stop()`, which resolves to how many refreshes ran and
 * the slowest one (ms).
 */
export async function watchDashboard(schema, intervalMs) {
  const file = path.join(proletarianRoot(), 'dist', 'dashboard', 'index.js');
  let createDashboard;
  try {
    ({ createDashboard } = await import(pathToFileURL(file).href));
  } catch (error) {
    throw new Error(`this build has no dashboard (${file}): ${error.message}`);
  }
  const pool = newPool(2);
  const handler = createDashboard(pool, { schema });
  const server = createServer((req, res) => handler(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}/`;
  let stopped = false;
  let refreshes = 0;
  let slowestMs = 0;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      for (const page of REFRESH) {
        const response = await fetch(base + page);
        if (!response.ok) throw new Error(`${page}: ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
      }
      const ms = performance.now() - started;
      refreshes += 1;
      slowestMs = Math.max(slowestMs, ms);
      if (!stopped) await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - ms)));
    }
  })();
  return {
    async stop() {
      stopped = true;
      try {
        await loop;
      } finally {
        await new Promise((resolve) => server.close(resolve));
        await pool.end();
      }
      return { refreshes, slowestMs };
    },
  };
}
