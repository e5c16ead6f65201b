import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { cancelJob, createWorker, enqueue, enqueueMany, listSchedules, pauseQueue, silentLogger } from 'proletarian';
import {
  basicAuth,
  createDashboard,
  tokenAuth,
  type ActionAnswer,
  type JobCount,
  type ScheduleList,
  type DashboardMeta,
  type DashboardOptions,
  type JobDetail,
  type JobPage,
  type Overview,
  type WorkerInfo,
} from 'proletarian/dashboard';
import { createTestDatabase, deferred, untilListening, waitFor, type TestDatabase } from './helpers/database.js';
import { startChildWorker } from './helpers/processes.js';

/** Serves `handler` on a free local port; `close` stops it. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('the dashboard', () => {
  let db: TestDatabase;
  const closers: (() => Promise<void>)[] = [];
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    for (const close of closers) await close();
    await db.close();
  });

  /** The dashboard on node:http under /admin/jobs; resolves to its base URL (with the slash). */
  async function dashboard(options: DashboardOptions = {}): Promise<string> {
    const handler = createDashboard(db.pool, { ...db.tables, basePath: '/admin/jobs', ...options });
    const server = await serve((req, res) => handler(req, res));
    closers.push(server.close);
    return `${server.url}/admin/jobs/`;
  }

  async function json<T>(url: string, init?: RequestInit): Promise<T> {
    const response = await fetch(url, init);
    assert.equal(response.status, 200, `${url}: ${response.status} ${await response.clone().text()}`);
    return (await response.json()) as T;
  }

  it('serves its page with a strict Content-Security-Policy, and redirects the bare base path', async () => {
    const base = await dashboard();
    const bare = await fetch(base.slice(0, -1), { redirect: 'manual' });
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.get('location'), '/admin/jobs/');

    const page = await fetch(base);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.doesNotMatch(html, /<script>|<style>|\son\w+=|style="/, 'no inline script, style or handler');
    assert.doesNotMatch(html, /https?:\/\//, 'nothing loaded from elsewhere');

    for (const asset of ['app.js', 'app.css', 'uPlot.iife.min.js', 'uPlot.min.css']) {
      const response = await fetch(`${base}assets/${asset}`);
      assert.equal(response.status, 200, asset);
      const etag = response.headers.get('etag');
      assert.ok(etag);
      const again = await fetch(`${base}assets/${asset}`, { headers: { 'If-None-Match': etag } });
      assert.equal(again.status, 304);
    }
    assert.equal((await fetch(`${base}assets/..%2Fpackage.json`)).status, 404);
    assert.equal((await fetch(`${base.replace('/admin/jobs/', '/elsewhere')}`)).status, 404);
  });

  it('answers the overview with counts per queue and state, and the finished jobs per minute', async () => {
    const base = await dashboard();
    await enqueueMany(
      db.pool,
      [
        { jobType: 'ov-a', payload: 1, queue: 'ov' },
        { jobType: 'ov-a', payload: 2, queue: 'ov' },
        { jobType: 'ov-b', payload: 3, queue: 'ov', processIn: 3_600_000 },
        { jobType: 'ov-ok', payload: 4, queue: 'ov-done' },
        { jobType: 'ov-bad', payload: 5, queue: 'ov-done' },
      ],
      db.tables,
    );
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue: 'ov-done',
      log: silentLogger,
      pollInterval: 20,
      retryStrategy: { retries: 0 },
      handlers: {
        'ov-ok': () => {},
        'ov-bad': () => {
          throw new Error('no');
        },
      },
    });
    await worker.start();
    try {
      const overview = await waitFor(async () => {
        const data = await json<Overview>(`${base}api/overview`);
        const done = data.queues.find((q) => q.queue === 'ov-done');
        // The windows are read by separate queries at once: wait until both have seen both jobs.
        return done && done.succeededLastHour + done.failedLastHour === 2 && done.succeededLastDay + done.failedLastDay === 2 ? data : null;
      });
      const ov = overview.queues.find((q) => q.queue === 'ov')!;
      assert.equal(ov.waiting, 2);
      assert.equal(ov.scheduled, 1);
      assert.ok(ov.oldestDueAgeMs !== null && ov.oldestDueAgeMs >= 0);
      const done = overview.queues.find((q) => q.queue === 'ov-done')!;
      assert.deepEqual([done.succeededLastHour, done.failedLastHour, done.succeededLastDay, done.failedLastDay], [1, 1, 1, 1]);
      assert.equal(overview.lastHour.start.length, 61);
      assert.equal(overview.lastHour.succeeded.reduce((a, b) => a + b, 0), 1);
      assert.equal(overview.lastDay.failed.reduce((a, b) => a + b, 0), 1);
    } finally {
      await worker.stop();
    }
  });

  it('pages through a state by keyset, in order, with every job exactly once', async () => {
    const base = await dashboard();
    const queue = 'paged';
    const ids = await enqueueMany(
      db.pool,
      Array.from({ length: 120 }, (_, i) => ({ jobType: 'page', payload: { i }, queue })),
      db.tables,
    );
    const seen: string[] = [];
    let next: string | null = '';
    let pages = 0;
    while (next !== null) {
      const page: JobPage = await json<JobPage>(`${base}api/jobs?state=waiting&queue=${queue}${next ? `&after=${next}` : ''}`);
      seen.push(...page.jobs.map((job) => job.id));
      next = page.next;
      pages++;
    }
    assert.equal(pages, 3);
    // One enqueueMany: one due time, so the ids (UUIDv7, increasing) give the order.
    assert.deepEqual(seen, ids);
    const newestFirst = await json<JobPage>(`${base}api/jobs?state=waiting&queue=${queue}&order=desc`);
    assert.equal(newestFirst.jobs[0]?.id, ids[ids.length - 1]);

    const filtered = await json<JobPage>(`${base}api/jobs?state=waiting&queue=${queue}&q=${encodeURIComponent('"i": 117')}`);
    assert.deepEqual(filtered.jobs.map((job) => job.id), [ids[117]]);
    const wrongType = await json<JobPage>(`${base}api/jobs?state=waiting&queue=${queue}&type=other`);
    assert.equal(wrongType.jobs.length, 0);
    const future = await json<JobPage>(`${base}api/jobs?state=waiting&queue=${queue}&from=${new Date(Date.now() + 60_000).toISOString()}`);
    assert.equal(future.jobs.length, 0);

    assert.equal((await fetch(`${base}api/jobs?state=nonsense`)).status, 400);
    assert.equal((await fetch(`${base}api/jobs?state=waiting&after=1_2`)).status, 400);
  });

  it("shows a failed job's payload, its error with the stack, priority and unique key", async () => {
    const base = await dashboard();
    const queue = 'failing';
    const jobId = await enqueue(db.pool, 'explode', { user: 7, note: '<script>alert(1)</script>' }, {
      ...db.tables,
      queue,
      priority: 3,
      uniqueKey: 'explode:7',
    });
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      retryStrategy: { retries: 0 },
      handlers: {
        explode: function explodeHandler() {
          throw new TypeError('<img src=x onerror=alert(2)> went wrong');
        },
      },
    });
    await worker.start();
    try {
      const job = await waitFor(async () => {
        const detail = await json<JobDetail>(`${base}api/jobs/${jobId}`);
        return detail.state === 'failed' ? detail : null;
      });
      assert.deepEqual(job.payload, { user: 7, note: '<script>alert(1)</script>' });
      assert.equal(job.priority, 3);
      assert.equal(job.uniqueKey, 'explode:7');
      assert.equal(job.attempts, 1);
      assert.equal(job.lastError?.name, 'TypeError');
      assert.match(job.lastError?.stack ?? '', /explodeHandler/);
      assert.deepEqual(job.timeline.map((entry) => entry.what.split(':')[0]), ['Enqueued', 'Last due', 'Attempt 1 failed', 'Finished']);
      assert.deepEqual(job.errors, [job.lastError], 'one failed attempt: its error is the last');
      assert.ok(job.lastError?.failedAt && job.timeline[2]!.at === job.lastError.failedAt, 'the failure has its time');
      const failed = await json<JobPage>(`${base}api/jobs?state=failed&queue=${queue}`);
      assert.deepEqual(failed.jobs.map((j) => j.id), [jobId]);
      assert.equal(failed.jobs[0]?.errorMessage, '<img src=x onerror=alert(2)> went wrong');
    } finally {
      await worker.stop();
    }
    assert.equal((await fetch(`${base}api/jobs/00000000-0000-7000-8000-000000000000`)).status, 404);
    assert.equal((await fetch(`${base}api/jobs/not-an-id`)).status, 404);
  });

  it('lists running workers with the jobs they run now; a stopped worker leaves the list', async () => {
    const base = await dashboard();
    const queue = 'working';
    const release = deferred();
    const started = deferred();
    const jobId = await enqueue(db.pool, 'hold', {}, { ...db.tables, queue });
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      workerId: 'dash-worker',
      concurrency: 2,
      log: silentLogger,
      pollInterval: 20,
      heartbeatInterval: 100,
      handlers: {
        hold: async () => {
          started.resolve();
          await release.promise;
        },
      },
    });
    await worker.start();
    try {
      await started.promise;
      const seen = await waitFor(async () => {
        const { workers } = await json<{ workers: WorkerInfo[] }>(`${base}api/workers`);
        return workers.find((w) => w.workerId === 'dash-worker' && w.runningJobs.includes(jobId));
      });
      assert.equal(seen.queue, queue);
      assert.equal(seen.concurrency, 2);
      assert.equal(seen.pid > 0, true);
      const running = await json<JobPage>(`${base}api/jobs?state=running&queue=${queue}`);
      assert.deepEqual(running.jobs.map((job) => job.id), [jobId]);
      const overview = await json<Overview>(`${base}api/overview`);
      assert.equal(overview.queues.find((q) => q.queue === queue)?.running, 1);
      release.resolve();
      await waitFor(async () => {
        const { workers } = await json<{ workers: WorkerInfo[] }>(`${base}api/workers`);
        return workers.find((w) => w.workerId === 'dash-worker' && w.jobsDone === 1 && w.runningJobs.length === 0);
      });
    } finally {
      release.resolve();
      await worker.stop();
    }
    const { workers } = await json<{ workers: WorkerInfo[] }>(`${base}api/workers`);
    assert.equal(workers.some((w) => w.workerId === 'dash-worker'), false);
  });

  it('hides secrets through redact, in lists and on the job page', async () => {
    const base = await dashboard({
      redact: (job) => ({
        ...job,
        payload: typeof job.payload === 'object' && job.payload !== null ? { ...job.payload, password: '[hidden]' } : job.payload,
      }),
    });
    const jobId = await enqueue(db.pool, 'login', { user: 'ann', password: 'hunter2' }, { ...db.tables, queue: 'secret' });
    const detail = await json<JobDetail>(`${base}api/jobs/${jobId}`);
    assert.deepEqual(detail.payload, { user: 'ann', password: '[hidden]' });
    const page = await json<JobPage>(`${base}api/jobs?state=waiting&queue=secret`);
    assert.doesNotMatch(page.jobs[0]?.payloadPreview ?? '', /hunter2/);
    assert.match(page.jobs[0]?.payloadPreview ?? '', /\[hidden\]/);
  });

  it("shows every failed attempt's error, each through redact", async () => {
    const base = await dashboard({
      redact: (job) => {
        const error = job.lastError as { message?: string; stack?: string } | null;
        const hide = (text?: string) => text?.replace(/token=\w+/g, 'token=[hidden]');
        return error ? { ...job, lastError: { ...error, message: hide(error.message), stack: hide(error.stack) } } : job;
      },
    });
    const queue = 'flaky-secret';
    const jobId = await enqueue(db.pool, 'call', {}, { ...db.tables, queue });
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      retryStrategy: { retries: 2, delays: [0] },
      handlers: {
        call: (_payload, ctx) => {
          // A secret no job id can contain (ids are hex).
          throw new Error(`attempt ${ctx.attempt} refused token=sekrit${ctx.attempt}`);
        },
      },
    });
    await worker.start();
    try {
      const job = await waitFor(async () => {
        const detail = await json<JobDetail>(`${base}api/jobs/${jobId}`);
        return detail.state === 'failed' ? detail : null;
      });
      assert.deepEqual(
        job.errors.map((error) => [error.attempt, error.message]),
        [1, 2, 3].map((attempt) => [attempt, `attempt ${attempt} refused token=[hidden]`]),
      );
      assert.doesNotMatch(JSON.stringify(job), /sekrit/, 'no secret anywhere, stack traces included');
      const failures = job.timeline.filter((entry) => entry.what.startsWith('Attempt'));
      assert.equal(failures.length, 3);
      assert.ok(failures.every((entry) => entry.at !== null), 'each failure has its time');
    } finally {
      await worker.stop();
    }
  });

  it('refuses actions without the CSRF token, from another origin, and when read-only', async () => {
    const base = await dashboard();
    const meta = await json<DashboardMeta>(`${base}api/meta`);
    assert.deepEqual(meta.jobActions, ['delete', 'cancel', 'retry', 'run-now']);
    assert.deepEqual(meta.queueActions, ['pause', 'resume']);
    assert.deepEqual(Object.keys(meta.bulkActions), ['retry', 'cancel', 'delete']);
    const token = meta.csrfToken!;
    const jobId = await enqueue(db.pool, 'doomed', {}, { ...db.tables, queue: 'actions' });
    const host = new URL(base).host;
    const post = (headers: Record<string, string>) =>
      fetch(`${base}api/jobs/${jobId}/delete`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });

    const noToken = await post({});
    assert.equal(noToken.status, 403);
    assert.match(((await noToken.json()) as { message: string }).message, /CSRF token is missing/);
    assert.equal((await post({ 'x-proletarian-csrf': 'x'.repeat(token.length) })).status, 403);
    const crossSite = await post({ 'x-proletarian-csrf': token, origin: 'https://evil.example' });
    assert.equal(crossSite.status, 403);
    assert.match(((await crossSite.json()) as { message: string }).message, /cross-origin/);
    assert.equal((await post({ 'x-proletarian-csrf': token, 'sec-fetch-site': 'cross-site' })).status, 403);
    // A form post from another site: no token, a foreign origin, not JSON.
    const form = await fetch(`${base}api/jobs/${jobId}/delete`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: 'a=1',
    });
    assert.equal(form.status, 403);
    assert.equal((await db.rows(`SELECT 1 FROM "${db.schema}".job WHERE job_id = $1`, [jobId])).length, 1);

    const ok = await post({ 'x-proletarian-csrf': token, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal((await db.rows(`SELECT 1 FROM "${db.schema}".job WHERE job_id = $1`, [jobId])).length, 0);
    assert.equal((await post({ 'x-proletarian-csrf': token })).status, 409); // gone now

    const readOnly = await dashboard({ readOnly: true });
    const readOnlyMeta = await json<DashboardMeta>(`${readOnly}api/meta`);
    assert.deepEqual(
      [readOnlyMeta.readOnly, readOnlyMeta.csrfToken, readOnlyMeta.jobActions, readOnlyMeta.queueActions, readOnlyMeta.bulkActions],
      [true, null, [], [], {}],
    );
    const refused = await fetch(`${readOnly}api/jobs/${jobId}/delete`, { method: 'POST', headers: { 'x-proletarian-csrf': token } });
    assert.equal(refused.status, 403);
    // Every kind of action is refused alike: without the token, cross-site, or read-only.
    const kept = await enqueue(db.pool, 'kept', {}, { ...db.tables, queue: 'actions' });
    for (const path of [`api/jobs/${kept}/cancel`, `api/jobs/${kept}/retry`, `api/jobs/${kept}/run-now`, 'api/queues/actions/pause', 'api/bulk/delete?state=waiting&queue=actions', 'api/bulk/cancel?state=waiting']) {
      assert.equal((await fetch(`${base}${path}`, { method: 'POST' })).status, 403, path);
      const cross = await fetch(`${base}${path}`, { method: 'POST', headers: { 'x-proletarian-csrf': token, origin: 'https://evil.example' } });
      assert.equal(cross.status, 403, path);
      assert.equal((await fetch(`${readOnly}${path}`, { method: 'POST', headers: { 'x-proletarian-csrf': token } })).status, 403, path);
    }
    assert.equal((await db.rows(`SELECT 1 FROM "${db.schema}".job WHERE job_id = $1`, [kept])).length, 1);
    assert.equal((await db.rows(`SELECT 1 FROM "${db.schema}".job_queue_states WHERE queue = 'actions' AND paused`)).length, 0);
  });

  it('asks for credentials through authorize, basicAuth and tokenAuth', async () => {
    const basic = await dashboard({ authorize: basicAuth('ops', 'correct horse') });
    const refused = await fetch(basic);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /^Basic/);
    const credentials = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    assert.equal((await fetch(`${basic}api/meta`, { headers: { authorization: credentials('ops', 'wrong') } })).status, 401);
    assert.equal((await fetch(`${basic}api/meta`, { headers: { authorization: credentials('ops', 'correct horse') } })).status, 200);

    const token = 'a-token-of-32-characters-or-so!!';
    const tokened = await dashboard({ authorize: tokenAuth(token) });
    assert.equal((await fetch(`${tokened}api/overview`)).status, 401);
    assert.equal((await fetch(`${tokened}api/overview`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await fetch(`${tokened}api/overview`, { headers: { authorization: credentials('anyone', token) } })).status, 200);

    const custom = await dashboard({ authorize: async (req) => req.headers['x-user'] === 'admin' });
    assert.equal((await fetch(`${custom}api/meta`)).status, 401);
    assert.equal((await fetch(`${custom}api/meta`, { headers: { 'x-user': 'admin' } })).status, 200);
  });

  it('mounts in Express under a path, and passes other requests on', async () => {
    const app = express();
    app.use('/jobs', createDashboard(db.pool, db.tables));
    app.get('/health', (_req, res) => void res.send('fine'));
    const server = await serve(app);
    closers.push(server.close);
    const bare = await fetch(`${server.url}/jobs`, { redirect: 'manual' });
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.get('location'), '/jobs/');
    assert.match(await (await fetch(`${server.url}/jobs/`)).text(), /<title>Proletarian<\/title>/);
    const meta = await json<DashboardMeta>(`${server.url}/jobs/api/meta`);
    assert.equal(meta.readOnly, false);
    assert.equal(await (await fetch(`${server.url}/health`)).text(), 'fine');

    // Mounted at the root with a basePath, it leaves other paths to the next handler.
    const rootApp = express();
    rootApp.use(createDashboard(db.pool, { ...db.tables, basePath: '/ops/queue' }));
    rootApp.get('/other', (_req, res) => void res.send('other'));
    const rootServer = await serve(rootApp);
    closers.push(rootServer.close);
    assert.equal((await fetch(`${rootServer.url}/ops/queue/api/meta`)).status, 200);
    assert.equal(await (await fetch(`${rootServer.url}/other`)).text(), 'other');
  });

  /** A dashboard, and a way to post its actions as its page does. */
  async function acting(options: DashboardOptions = {}) {
    const base = await dashboard(options);
    const meta = await json<DashboardMeta>(`${base}api/meta`);
    const post = async (path: string) => {
      const response = await fetch(`${base}${path}`, { method: 'POST', headers: { 'x-proletarian-csrf': meta.csrfToken!, 'content-type': 'application/json' }, body: '{}' });
      return { status: response.status, ...((await response.json()) as ActionAnswer) };
    };
    return { base, post };
  }
  const stateOf = async (base: string, jobId: string) => (await json<JobDetail>(`${base}api/jobs/${jobId}`)).state;

  it('cancels a waiting job and a running one, through cancelJob', async () => {
    const { base, post } = await acting();
    const queue = 'cancel-actions';
    const waiting = await enqueue(db.pool, 'wait', {}, { ...db.tables, queue: `${queue}-idle` });
    const answer = await post(`api/jobs/${waiting}/cancel`);
    assert.deepEqual([answer.status, answer.ok, answer.message], [200, true, 'Job cancelled.']);
    assert.equal(await stateOf(base, waiting), 'cancelled');
    assert.equal((await post(`api/jobs/${waiting}/cancel`)).status, 409, 'finished already');

    const started = deferred();
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      log: silentLogger,
      pollInterval: 20,
      handlers: {
        hold: async (_payload, ctx) => {
          started.resolve();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          ctx.signal.throwIfAborted();
        },
      },
    });
    await worker.start();
    let running = '';
    try {
      await untilListening(db);
      running = await enqueue(db.pool, 'hold', {}, { ...db.tables, queue });
      await started.promise;
      const cancelling = await post(`api/jobs/${running}/cancel`);
      assert.equal(cancelling.status, 200);
      assert.match(cancelling.message, /asked to cancel/);
      await waitFor(async () => (await stateOf(base, running)) === 'cancelled', { what: 'the running job cancelled' });
    } finally {
      await worker.stop();
    }
    const cancelled = await json<JobPage>(`${base}api/jobs?state=cancelled&queue=${queue}`);
    assert.deepEqual(cancelled.jobs.map((job) => job.id), [running]);
  });

  it('retries a failed, a cancelled and a discarded job, through retryJob, and refuses a waiting one', async () => {
    const { base, post } = await acting();
    const queue = 'retry-actions';
    const ids = await enqueueMany(db.pool, [1, 2, 3].map((n) => ({ jobType: 'r', payload: { n }, queue })), db.tables);
    for (const [id, status] of [[ids[0], 'failure'], [ids[1], 'cancelled'], [ids[2], 'discarded']] as const) {
      await db.pool.query(
        `WITH moved AS (DELETE FROM "${db.schema}".job WHERE job_id = $1 RETURNING *)
         INSERT INTO "${db.schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at, last_error)
         SELECT job_id, queue, job_type, payload, 1, enqueued_at, process_at, $2, now(), '{"message":"no"}' FROM moved`,
        [id, status],
      );
    }
    assert.equal(await stateOf(base, ids[2]!), 'discarded');
    assert.deepEqual((await json<JobPage>(`${base}api/jobs?state=discarded&queue=${queue}`)).jobs.map((job) => job.id), [ids[2]]);
    for (const id of ids) {
      const answer = await post(`api/jobs/${id}/retry`);
      assert.deepEqual([answer.status, answer.ok], [200, true], answer.message);
      assert.equal(await stateOf(base, id), 'retrying', 'due now, its attempts kept');
    }
    const again = await post(`api/jobs/${ids[0]}/retry`);
    assert.equal(again.status, 409);
    assert.match(again.message, /Only a failed, cancelled or discarded job/);
    assert.equal((await post('api/jobs/00000000-0000-7000-8000-000000000000/nonsense')).status, 404);
  });

  it('runs a scheduled job now, through runJobNow', async () => {
    const { base, post } = await acting();
    const later = await enqueue(db.pool, 'later', {}, { ...db.tables, queue: 'run-now', processIn: 3_600_000 });
    assert.equal(await stateOf(base, later), 'scheduled');
    const answer = await post(`api/jobs/${later}/run-now`);
    assert.deepEqual([answer.status, answer.message], [200, 'The job is due now.']);
    assert.equal(await stateOf(base, later), 'waiting');
    assert.match((await post(`api/jobs/${later}/run-now`)).message, /due already/);
  });

  it('pauses and resumes a queue, through pauseQueue and resumeQueue, and shows it on the overview', async () => {
    const { base, post } = await acting();
    const queue = 'pause me/please';
    await enqueue(db.pool, 'p', {}, { ...db.tables, queue });
    const path = `api/queues/${encodeURIComponent(queue)}`;
    const paused = await post(`${path}/pause`);
    assert.deepEqual([paused.status, paused.message], [200, `Queue ${queue} paused: its workers claim none of its jobs until it is resumed.`]);
    assert.match((await post(`${path}/pause`)).message, /paused already/);
    let overview = await json<Overview>(`${base}api/overview`);
    assert.equal(overview.queues.find((q) => q.queue === queue)?.paused, true);
    // A paused queue without jobs is listed too.
    await pauseQueue(db.pool, 'empty-paused', db.tables);
    overview = await json<Overview>(`${base}api/overview`);
    assert.equal(overview.queues.find((q) => q.queue === 'empty-paused')?.paused, true);
    assert.equal((await post(`${path}/resume`)).status, 200);
    overview = await json<Overview>(`${base}api/overview`);
    assert.equal(overview.queues.find((q) => q.queue === queue)?.paused, false);
    assert.equal((await post(`api/queues/${encodeURIComponent(' padded ')}/pause`)).status, 400);
    assert.equal((await post('api/queues/x/explode')).status, 404);
  });

  it('counts the jobs a filter matches, and bulk retries, cancels and deletes exactly those', async () => {
    const { base, post } = await acting();
    const queue = 'bulk';
    const count = async (filter: string) => (await json<JobCount>(`${base}api/jobs/count?${filter}`)).count;
    // 1,100 waiting jobs: more than one batch of the keyset walk.
    const ids = await enqueueMany(
      db.pool,
      Array.from({ length: 1100 }, (_, i) => ({ jobType: i % 2 ? 'odd' : 'even', payload: { i, tag: i < 10 ? 'first-ten' : 'rest' }, queue })),
      db.tables,
    );
    assert.equal(await count(`state=waiting&queue=${queue}`), 1100);
    assert.equal(await count(`state=waiting&queue=${queue}&type=odd`), 550);
    assert.equal(await count(`state=waiting&queue=${queue}&q=first-ten`), 10);

    const cancelled = await post(`api/bulk/cancel?state=waiting&queue=${queue}&type=odd`);
    assert.deepEqual([cancelled.status, cancelled.count, cancelled.message], [200, 550, '550 jobs cancelled.']);
    assert.equal(await count(`state=waiting&queue=${queue}`), 550);
    assert.equal(await count(`state=cancelled&queue=${queue}`), 550);

    // Retry by text (job by job) and by the library's filter (one statement).
    const byText = await post(`api/bulk/retry?state=cancelled&queue=${queue}&q=first-ten`);
    assert.equal(byText.count, 5);
    const rest = await post(`api/bulk/retry?state=cancelled&queue=${queue}&type=odd`);
    assert.equal(rest.count, 545);
    assert.equal(await count(`state=cancelled&queue=${queue}`), 0);
    assert.equal(await count(`state=waiting&queue=${queue}`), 1100, 'back, due now (never attempted, so waiting rather than retrying)');

    const deleted = await post(`api/bulk/delete?state=waiting&queue=${queue}&type=even`);
    assert.deepEqual([deleted.status, deleted.count], [200, 550]);
    assert.equal(await count(`state=waiting&queue=${queue}`), 550);
    assert.equal((await db.rows(`SELECT 1 FROM "${db.schema}".job WHERE job_id = $1`, [ids[0]])).length, 0);

    // Each bulk action only where it applies.
    const misplaced = await post(`api/bulk/retry?state=waiting&queue=${queue}`);
    assert.equal(misplaced.status, 400);
    assert.match(misplaced.message, /retry applies to jobs in these states: failed, cancelled, discarded/);
    assert.equal((await post(`api/bulk/delete?state=running&queue=${queue}`)).status, 400);
    assert.equal((await post('api/bulk/explode?state=waiting')).status, 404);
    assert.equal((await fetch(`${base}api/jobs/count?state=nonsense`)).status, 400);
    await cancelJob(db.pool, ids[1]!, db.tables);
  });

  it('searches finished jobs by text, queue or type a stretch at a time: says how far it went, and goes on from there', async () => {
    const queue = 'stretch';
    // 3,500 succeeded jobs, one a second over the last hour; every 500th holds the needle.
    await db.pool.query(
      `INSERT INTO "${db.schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at)
       SELECT gen_random_uuid(), $1, 'hay', jsonb_build_object('i', i, 'tag', CASE WHEN i % 500 = 0 THEN 'needle' ELSE 'straw' END),
              1, f - interval '2 seconds', f - interval '1 second', 'success', f
       FROM (SELECT i, now() - i * interval '1 second' AS f FROM generate_series(1, 3500) i) s`,
      [queue],
    );
    // Every succeeded job of the schema, newest first: a search reads them all, whatever their queue.
    const succeeded = await db.rows<{ job_id: string; finished_at: Date; needle: boolean }>(
      `SELECT job_id, finished_at, payload->>'tag' = 'needle' AS needle FROM "${db.schema}".archived_job
       WHERE status = 'success' ORDER BY finished_at DESC, job_id DESC`,
    );
    const needles = succeeded.filter((job) => job.needle).map((job) => job.job_id);
    assert.equal(needles.length, 7);

    // With time enough, one request finds them all, and says it searched to the end.
    const patient = await dashboard({ searchTime: 10_000 });
    const all = await json<JobPage>(`${patient}api/jobs?state=succeeded&q=needle`);
    assert.deepEqual([all.jobs.map((job) => job.id), all.next, all.searched], [needles, null, null]);
    assert.deepEqual(await json<JobCount>(`${patient}api/jobs/count?state=succeeded&q=needle`), { count: 7, searched: null });
    assert.deepEqual(await json<JobCount>(`${patient}api/jobs/count?state=succeeded`), { count: succeeded.length, searched: null });

    // With none, each request reads one first stretch: 1,000 succeeded jobs.
    const hasty = await dashboard({ searchTime: 0 });
    const walk = async (order: 'asc' | 'desc') => {
      const found: string[] = [];
      const searches: NonNullable<JobPage['searched']>[] = [];
      let next: string | null = '';
      while (next !== null) {
        const page: JobPage = await json<JobPage>(`${hasty}api/jobs?state=succeeded&q=needle&order=${order}${next ? `&after=${next}` : ''}`);
        found.push(...page.jobs.map((job) => job.id));
        if (page.searched) {
          searches.push(page.searched);
          assert.ok(page.next, 'a search that stopped for want of time says where to go on');
        }
        next = page.next;
      }
      return { found, searches };
    };
    const newestFirst = await walk('desc');
    assert.deepEqual(newestFirst.found, needles, 'each needle once, in order, searching on and on');
    assert.ok(newestFirst.searches.length >= 3, `${newestFirst.searches.length} searches stopped`);
    assert.ok(newestFirst.searches.every((searched) => searched.jobs === 1000));
    // The first stopped at the 1,000th newest succeeded job.
    const reached = Date.parse(newestFirst.searches[0]!.until);
    assert.ok(Math.abs(reached - succeeded[999]!.finished_at.getTime()) <= 1, `${newestFirst.searches[0]!.until}`);
    assert.ok(newestFirst.searches.every((searched, i) => i === 0 || searched.until < newestFirst.searches[i - 1]!.until), 'further back each time');
    const oldestFirst = await walk('asc');
    assert.deepEqual(oldestFirst.found, [...needles].reverse());

    // A queue and type no job has: nothing found in the stretch, and a way on.
    const none = await json<JobPage>(`${hasty}api/jobs?state=succeeded&queue=${queue}&type=nothing`);
    assert.deepEqual([none.jobs, none.searched?.jobs, typeof none.next], [[], 1000, 'string']);

    // Counts of finished jobs say how far they counted.
    const newest = succeeded.slice(0, 1000);
    assert.deepEqual(await json<JobCount>(`${hasty}api/jobs/count?state=succeeded&q=needle`), {
      count: newest.filter((job) => job.needle).length,
      searched: newestFirst.searches[0],
    });
    assert.deepEqual(await json<JobCount>(`${hasty}api/jobs/count?state=succeeded`), { count: 1000, searched: newestFirst.searches[0] });
    // Jobs of the job table are counted whole, time or not.
    assert.deepEqual(await json<JobCount>(`${hasty}api/jobs/count?state=waiting&queue=${queue}`), { count: 0, searched: null });
    // An unfiltered list of finished jobs reads its page off the index: never a search.
    const plain = await json<JobPage>(`${hasty}api/jobs?state=succeeded`);
    assert.deepEqual([plain.jobs.length, plain.searched], [50, null]);
  });

  it('drops a worker that vanished without stopping (killed) once its heartbeat is 30 s old', async () => {
    const base = await dashboard();
    const child = startChildWorker({ SCHEMA: db.schema, QUEUE: 'vanishing', JOB_MS: 0 });
    const pid = child.child.pid!;
    const listed = async () => (await json<{ workers: WorkerInfo[] }>(`${base}api/workers`)).workers.some((w) => w.pid === pid);
    try {
      await child.waitForLine(/^ready$/);
      await waitFor(listed, { what: 'the child worker listed' });
    } finally {
      child.child.kill('SIGKILL');
    }
    assert.equal((await child.exited).signal, 'SIGKILL');
    // Killed, it removed nothing: its row stays, and counts while its last heartbeat is recent.
    const row = `"${db.schema}".job_workers`;
    assert.equal(await listed(), true, 'listed while its last heartbeat is under 30 s old');
    // Its heartbeat ages (the online window is 30 s, in SQL; a worker beats at least every 20 s).
    await db.pool.query(`UPDATE ${row} SET last_seen_at = now() - interval '25 seconds' WHERE pid = $1`, [pid]);
    assert.equal(await listed(), true, 'still listed 25 s after its last heartbeat');
    await db.pool.query(`UPDATE ${row} SET last_seen_at = now() - interval '31 seconds' WHERE pid = $1`, [pid]);
    assert.equal(await listed(), false, 'gone 31 s after its last heartbeat: within a minute of its death');
    assert.equal((await db.rows(`SELECT 1 FROM ${row} WHERE pid = $1`, [pid])).length, 1, 'its row is still there');
  });

  it('lists the schedules with their next runs', async () => {
    const base = await dashboard();
    assert.deepEqual((await json<ScheduleList>(`${base}api/schedules`)).schedules, []);
    const worker = createWorker(db.pool, {
      ...db.tables,
      queue: 'scheduled-q',
      log: silentLogger,
      handlers: { nightly: () => {} },
      schedules: { nightly: { cron: '0 3 * * *', timezone: 'Europe/Paris', jobType: 'nightly', payload: {} } },
    });
    await worker.start();
    try {
      await waitFor(async () => (await listSchedules(db.pool, db.tables)).length === 1, { what: 'the schedule stored' });
    } finally {
      await worker.stop();
    }
    const { schedules } = await json<ScheduleList>(`${base}api/schedules`);
    assert.equal(schedules.length, 1);
    const [nightly] = schedules;
    assert.deepEqual([nightly?.name, nightly?.cron, nightly?.timezone, nightly?.jobType, nightly?.queue], ['nightly', '0 3 * * *', 'Europe/Paris', 'nightly', 'scheduled-q']);
    assert.equal(nightly?.nextRuns.length, 5);
    const first = new Date(nightly!.nextRuns[0]!).getTime();
    assert.ok(first > Date.now() && first <= Date.now() + 86_400_000 + 3_600_000);
  });

  it('rejects unknown options and a malformed basePath', () => {
    assert.throws(() => createDashboard(db.pool, { basePath: 'no-slash' }), /basePath/);
    assert.throws(() => createDashboard(db.pool, { colour: 'red' } as DashboardOptions), /unknown createDashboard option/);
    assert.throws(() => createDashboard(db.pool, { csrfSecret: 'short' }), /csrfSecret/);
    assert.throws(() => createDashboard(db.pool, { searchTime: -1 }), /searchTime/);
  });
});
