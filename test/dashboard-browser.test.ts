import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { cancelJobs, createWorker, enqueue, enqueueMany, resumeQueue, type Worker } from 'proletarian';
import { basicAuth, createDashboard } from 'proletarian/dashboard';
import { createTestDatabase, deferred, recordingLogger, untilListening, waitFor, type TestDatabase } from './helpers/database.js';

// The dashboard as a person uses it: Debian's Chromium driven by Playwright,
// a real PostgreSQL, a real worker. Every wait is on a selector, an event or
// a row, never on the clock.

// Debian's Chromium (`apt-get install chromium`, done by .ci/run): Playwright's
// own browser downloads are neither wanted nor reachable.
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// With PROLETARIAN_SCREENSHOTS=1 the tests save the README's screenshots in docs/.
const SCREENSHOTS = process.env['PROLETARIAN_SCREENSHOTS'] === '1';
const docs = fileURLToPath(new URL('../../docs/', import.meta.url));
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const USER = 'ops';
const PASSWORD = 'browser-test-password';
const HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface AxeResult {
  violations: { id: string; impact: string | null; help: string; nodes: { target: unknown }[] }[];
}

/** Runs axe-core in the page and fails on serious or critical violations. */
async function checkAccessibility(page: Page, what: string): Promise<void> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const result = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")) as AxeResult;
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(
    serious.map((v) => `${v.id}: ${v.help} (${JSON.stringify(v.nodes.map((n) => n.target))})`),
    [],
    `accessibility of ${what}`,
  );
}

/** Accepts the next confirmation the page asks for, resolving to its question. */
function acceptNextDialog(page: Page): Promise<string> {
  return new Promise((resolve) => {
    page.once('dialog', (dialog) => {
      resolve(dialog.message());
      void dialog.accept();
    });
  });
}

describe('the dashboard in a browser', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let base: string;
  let evilOrigin: string;
  const servers: Server[] = [];
  let browser: Browser;
  let context: BrowserContext;
  let worker: Worker;
  const log = recordingLogger();
  const holding = deferred();
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  const queue = 'browser';
  /** Whether `flaky` jobs fail; they succeed once it is false. */
  let flakyFails = true;
  let failedId: string;
  let flakyId: string;
  let heldId: string;

  const stateOf = async (jobId: string) =>
    (
      await db.rows<{ state: string }>(
        `SELECT 'queued' AS state FROM "${db.schema}".job WHERE job_id = $1
         UNION ALL SELECT status FROM "${db.schema}".archived_job WHERE job_id = $1`,
        [jobId],
      )
    )[0]?.state;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (as .ci/run does)`);
    db = await createTestDatabase();
    const dashboard = createDashboard(db.pool, { ...db.tables, basePath: '/jobs', authorize: basicAuth(USER, PASSWORD), pollInterval: 500 });
    const server = createServer((req, res) => dashboard(req, res));
    servers.push(server);
    base = `${await listen(server)}/jobs/`;
    // Another site, whose page tries to act on the dashboard.
    const evil = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end('<!doctype html><title>elsewhere</title><p>elsewhere</p>');
    });
    servers.push(evil);
    evilOrigin = await listen(evil);

    worker = createWorker(db.pool, {
      ...db.tables,
      queue,
      workerId: 'browser-worker',
      log,
      pollInterval: 50,
      heartbeatInterval: 200,
      concurrency: 2,
      retryStrategy: { retries: 0 },
      schedules: { 'nightly-report': { cron: '0 3 * * *', timezone: 'UTC', jobType: 'report', payload: { kind: 'nightly' } } },
      handlers: {
        fine: () => {},
        report: () => {},
        explode: function explodingHandler() {
          throw new Error(`could not process ${HOSTILE}`);
        },
        flaky: function flakyHandler() {
          if (flakyFails) throw new Error('the service was down');
        },
        hold: async (_payload, ctx) => {
          holding.resolve();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          ctx.signal.throwIfAborted();
        },
      },
    });
    await worker.start();
    await untilListening(db);
    failedId = await enqueue(db.pool, 'explode', { note: HOSTILE, user: 42 }, { ...db.tables, queue, priority: -5, uniqueKey: 'explode:42' });
    flakyId = await enqueue(db.pool, 'flaky', { attempt: 'first' }, { ...db.tables, queue });
    const fine = await enqueueMany(db.pool, Array.from({ length: 5 }, (_, i) => ({ jobType: 'fine', payload: { i }, queue })), db.tables);
    await enqueue(db.pool, 'fine', { when: 'tomorrow' }, { ...db.tables, queue, processIn: 86_400_000 });
    await waitFor(async () => (await stateOf(failedId)) === 'failure' && (await stateOf(flakyId)) === 'failure', { what: 'the failures' });
    await waitFor(async () => (await Promise.all(fine.map(stateOf))).every((state) => state === 'success'), { what: 'the successes' });
    // Then, alone in its batch, a job that runs until it is cancelled.
    heldId = await enqueue(db.pool, 'hold', { long: true }, { ...db.tables, queue });
    await holding.promise;

    // launch() gives the browser a fresh, temporary user-data-dir of its own, removed at close.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, viewport: { width: 1280, height: 860 } });
    context.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    context.on('weberror', (error) => pageErrors.push(String(error.error())));
  });

  after(async () => {
    await browser?.close();
    await worker?.stop();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    await db?.close();
  });

  async function open(hash: string, theme: 'light' | 'dark' = 'light'): Promise<Page> {
    const page = await context.newPage();
    await page.emulateMedia({ colorScheme: theme });
    await page.goto(`${base}${hash}`);
    await page.waitForSelector('html[data-ready="true"]');
    return page;
  }

  it('shows the overview with every queue, live, and its charts', async () => {
    const page = await open('#/');
    const row = page.locator('#queues tr[data-queue="browser"]');
    await row.waitFor();
    assert.equal(await row.locator('td').nth(5).textContent(), '2'); // failed, 1 h
    assert.equal(await row.locator('td').nth(4).textContent(), '5'); // succeeded, 1 h
    // Live: a job that finishes now appears without reloading.
    await enqueue(db.pool, 'fine', { live: true }, { ...db.tables, queue });
    await row.locator('td').nth(4).getByText('6', { exact: true }).waitFor();
    assert.equal(await row.locator('td').nth(2).textContent(), '1'); // running: the held job
    assert.equal(await row.locator('td').nth(1).textContent(), '1'); // scheduled
    assert.match((await row.locator('td.queue-state').textContent()) ?? '', /Running/);
    assert.equal(await page.locator('.chart canvas').count() >= 2, true);
    await checkAccessibility(page, 'the overview');
    if (SCREENSHOTS) await page.screenshot({ path: path.join(docs, 'dashboard-overview.png'), fullPage: true });
    await page.close();
  });

  it('lists failed jobs, shows hostile payloads and errors as text, and opens a job by keyboard with its stack', async () => {
    const page = await open(`#/jobs?state=failed&queue=${queue}`);
    const row = page.locator(`#jobs tr[data-job-id="${failedId}"]`);
    await row.waitFor();
    assert.match((await row.locator('code.payload').textContent()) ?? '', /<script>window.__pwned = 1<\/script>/);
    assert.match((await row.locator('td.bad').textContent()) ?? '', /<img src=x onerror=/);
    assert.equal(await page.evaluate('window.__pwned'), undefined);
    assert.equal(await page.locator('main script, main img').count(), 0);
    await checkAccessibility(page, 'a job list');
    if (SCREENSHOTS) await page.screenshot({ path: path.join(docs, 'dashboard-jobs.png'), fullPage: true });

    // By keyboard: focus the job's link, press Enter.
    await row.getByRole('link').focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('#error-stack');
    assert.match((await page.locator('#error-stack').textContent()) ?? '', /explodingHandler/);
    assert.match((await page.locator('#error-message').textContent()) ?? '', /Error: could not process <script>/);
    assert.match((await page.locator('#payload').textContent()) ?? '', /"note": "<script>window.__pwned = 1<\/script>/);
    assert.match((await page.locator('dl.fields').textContent()) ?? '', /explode:42/);
    assert.match((await page.locator('dl.fields').textContent()) ?? '', /Priority-5/);
    assert.equal(await page.evaluate('window.__pwned'), undefined);
    await page.locator('#retry-job').waitFor();
    await checkAccessibility(page, "a job's page");
    if (SCREENSHOTS) await page.screenshot({ path: path.join(docs, 'dashboard-job.png'), fullPage: true });
    await page.close();
  });

  it('retries a failed job from its page, and it succeeds', async () => {
    flakyFails = false;
    const page = await open(`#/jobs/${flakyId}`);
    assert.match((await page.locator('#error-message').textContent()) ?? '', /the service was down/);
    await page.locator('#retry-job').click();
    await page.locator('#status', { hasText: 'Job put back on its queue' }).waitFor();
    await waitFor(async () => (await stateOf(flakyId)) === 'success', { what: 'the retried job to succeed' });
    await page.reload();
    await page.locator('#job-state', { hasText: 'Succeeded' }).waitFor();
    await page.close();
  });

  it('shows the workers and the job each runs now', async () => {
    const page = await open('#/workers');
    const row = page.locator('#workers tr[data-worker-id="browser-worker"]');
    await row.locator(`a[href="#/jobs/${heldId}"]`).waitFor();
    await checkAccessibility(page, 'the workers page');
    await page.close();
  });

  it('shows the schedules with their next runs', async () => {
    const page = await open('#/schedules');
    const row = page.locator('#schedules tr[data-schedule="nightly-report"]');
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /0 3 \* \* \*/);
    assert.equal(await row.locator('ul.runs li').count(), 5);
    assert.equal(await page.locator('nav a[data-section="schedules"]').getAttribute('aria-current'), 'page');
    await checkAccessibility(page, 'the schedules page');
    await page.close();
  });

  it('draws the view navigated to last, however late the one before it answers', async () => {
    const page = await open('#/workers');
    // The job page's data is held back until the page has moved on to the schedules.
    const jobData = `${base}api/jobs/${failedId}`;
    const fate = new Promise<string>((resolve) => {
      page.on('requestfailed', (request) => request.url() === jobData && resolve('abandoned'));
      page.on('requestfinished', (request) => request.url() === jobData && resolve('answered'));
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = deferred();
    await page.route(jobData, async (route) => {
      held.resolve();
      await released;
      await route.continue().catch(() => {}); // the page may have given up on it already
    });
    await page.evaluate(`location.hash = '#/jobs/${failedId}'`);
    await held.promise;
    await page.evaluate("location.hash = '#/schedules'");
    await page.locator('#schedules tr[data-schedule="nightly-report"]').waitFor();
    release();
    assert.equal(await fate, 'abandoned', "the job page's request ends when the page moves on");
    assert.equal(await page.locator('#job-state').count(), 0);
    assert.equal(await page.locator('nav a[data-section="schedules"]').getAttribute('aria-current'), 'page');
    await page.close();
  });

  it('cancels a running job from its page; it shows under cancelled', async () => {
    const page = await open(`#/jobs/${heldId}`);
    await page.locator('#job-state', { hasText: 'Running' }).waitFor();
    const question = acceptNextDialog(page);
    await page.locator('#cancel-job').click();
    assert.match(await question, /^Cancel job/);
    await page.locator('#status', { hasText: 'asked to cancel' }).waitFor();
    await waitFor(async () => (await stateOf(heldId)) === 'cancelled', { what: 'the running job cancelled' });
    await page.goto(`${base}#/jobs?state=cancelled&queue=${queue}`);
    await page.locator(`#jobs tr[data-job-id="${heldId}"]`).waitFor();
    assert.equal(await page.locator('nav[aria-label="Job states"] a[aria-current="page"]').textContent(), 'Cancelled');
    await checkAccessibility(page, 'the cancelled jobs');
    await page.close();
  });

  it('runs a scheduled job now from its page', async () => {
    const later = await enqueue(db.pool, 'fine', { run: 'now' }, { ...db.tables, queue, processIn: 86_400_000 });
    const page = await open(`#/jobs/${later}`);
    await page.locator('#job-state', { hasText: 'Scheduled' }).waitFor();
    await page.locator('#run-now-job').click();
    await page.locator('#status', { hasText: 'The job is due now.' }).waitFor();
    await waitFor(async () => (await stateOf(later)) === 'success', { what: 'the job run now' });
    await page.close();
  });

  it('pauses a queue from the overview: the worker stops claiming its jobs until it is resumed', async () => {
    const page = await open('#/');
    const row = page.locator('#queues tr[data-queue="browser"]');
    await row.getByRole('button', { name: 'Pause queue browser' }).click();
    await row.locator('td.queue-state', { hasText: 'Paused' }).waitFor();
    await waitFor(() => log.names().includes('queue-paused'), { what: 'the worker to hear of the pause' });
    const waiting = await enqueue(db.pool, 'fine', { while: 'paused' }, { ...db.tables, queue });
    // Read afresh, the overview shows the job waiting, not claimed while the queue is paused.
    await page.reload();
    await page.waitForSelector('html[data-ready="true"]');
    assert.equal(await row.locator('td').nth(0).textContent(), '1');
    assert.match((await row.locator('td.queue-state').textContent()) ?? '', /Paused/);
    assert.equal(await stateOf(waiting), 'queued', 'not claimed while paused');
    // Resumed by keyboard: the button keeps its focus across refreshes.
    await row.getByRole('button', { name: 'Resume queue browser' }).focus();
    await page.keyboard.press('Enter');
    await row.locator('td.queue-state', { hasText: 'Running' }).waitFor();
    await waitFor(async () => (await stateOf(waiting)) === 'success', { what: 'the job to run once resumed' });
    await page.close();
  });

  it('bulk retries the failed jobs a filter matches, after a confirmation that counts them', async () => {
    await resumeQueue(db.pool, queue, db.tables); // in case the test before failed while it was paused
    flakyFails = true;
    const ids = await enqueueMany(db.pool, [1, 2, 3].map((n) => ({ jobType: 'flaky', payload: { n }, queue })), db.tables);
    await waitFor(async () => (await Promise.all(ids.map(stateOf))).every((state) => state === 'failure'), { what: 'three failures' });
    flakyFails = false;
    const page = await open(`#/jobs?state=failed&queue=${queue}&type=flaky`);
    assert.equal(await page.locator('#jobs tbody tr').count(), 3);
    const question = acceptNextDialog(page);
    await page.locator('#bulk-retry').click();
    assert.equal(await question, 'Retry 3 failed jobs that match this filter?');
    await page.locator('#status', { hasText: '3 jobs put back on their queues.' }).waitFor();
    await page.locator('#no-jobs').waitFor();
    await waitFor(async () => (await Promise.all(ids.map(stateOf))).every((state) => state === 'success'), { what: 'the retried jobs to succeed' });
    // The job that always fails was not in the filter.
    assert.equal(await stateOf(failedId), 'failure');
    await page.close();
  });

  it('deletes a waiting job from its page, after a confirmation', async () => {
    const doomed = await enqueue(db.pool, 'doomed', { x: 1 }, { ...db.tables, queue: 'elsewhere' });
    const page = await open(`#/jobs/${doomed}`);
    const question = acceptNextDialog(page);
    await page.locator('#delete-job').click();
    assert.match(await question, /^Delete job .* for good\?$/);
    await page.waitForURL(/#\/jobs\?state=waiting&queue=elsewhere/);
    await page.locator('#no-jobs').waitFor();
    assert.equal(await stateOf(doomed), undefined);
    await page.close();
  });

  it('cancels a waiting job from its page, after a confirmation; it can then be retried', async () => {
    const waiting = await enqueue(db.pool, 'idle', { x: 1 }, { ...db.tables, queue: 'no-worker' });
    const page = await open(`#/jobs/${waiting}`);
    await page.locator('#job-state', { hasText: 'Waiting' }).waitFor();
    const question = acceptNextDialog(page);
    await page.locator('#cancel-job').click();
    assert.equal(await question, `Cancel job ${waiting}?`);
    await page.locator('#status', { hasText: 'Job cancelled.' }).waitFor();
    // The page is drawn afresh: the job is cancelled, and offers what a cancelled job allows.
    await page.locator('#job-state', { hasText: 'Cancelled' }).waitFor();
    assert.equal(await stateOf(waiting), 'cancelled');
    assert.equal(await page.locator('#cancel-job').count(), 0);
    await page.locator('#retry-job').waitFor();
    await page.close();
  });

  it('bulk cancels the waiting jobs a filter matches, after a confirmation that counts them', async () => {
    const bulkQueue = 'bulk-cancel';
    const ids = await enqueueMany(db.pool, [1, 2, 3].map((n) => ({ jobType: 'stale', payload: { n }, queue: bulkQueue })), db.tables);
    const other = await enqueue(db.pool, 'fresh', {}, { ...db.tables, queue: bulkQueue });
    const page = await open(`#/jobs?state=waiting&queue=${bulkQueue}&type=stale`);
    assert.equal(await page.locator('#jobs tbody tr').count(), 3);
    const question = acceptNextDialog(page);
    await page.locator('#bulk-cancel').click();
    assert.equal(await question, 'Cancel 3 waiting jobs that match this filter?');
    await page.locator('#status', { hasText: '3 jobs cancelled.' }).waitFor();
    await page.locator('#no-jobs').waitFor();
    assert.deepEqual(await Promise.all(ids.map(stateOf)), ['cancelled', 'cancelled', 'cancelled']);
    assert.equal(await stateOf(other), 'queued', 'a job of another type is left alone');
    await page.close();
  });

  it('bulk deletes the cancelled jobs a filter matches, after a confirmation that counts them', async () => {
    const bulkQueue = 'bulk-delete';
    const ids = await enqueueMany(db.pool, [1, 2].map((n) => ({ jobType: 'doomed', payload: { n }, queue: bulkQueue })), db.tables);
    const kept = await enqueue(db.pool, 'doomed', { n: 3 }, { ...db.tables, queue: bulkQueue });
    await cancelJobs(db.pool, ids, db.tables);
    const page = await open(`#/jobs?state=cancelled&queue=${bulkQueue}`);
    assert.equal(await page.locator('#jobs tbody tr').count(), 2);
    const question = acceptNextDialog(page);
    await page.locator('#bulk-delete').click();
    assert.equal(await question, 'Delete 2 cancelled jobs that match this filter?');
    await page.locator('#status', { hasText: '2 jobs deleted.' }).waitFor();
    await page.locator('#no-jobs').waitFor();
    assert.deepEqual(await Promise.all(ids.map(stateOf)), [undefined, undefined]);
    assert.equal(await stateOf(kept), 'queued', 'a waiting job of the queue is not in the filter');
    await page.close();
  });

  it('read-only, shows everything and offers no action; a search of finished jobs says how far it went and goes on', async () => {
    // A second dashboard on the same tables: read-only, and searching one stretch (1,000 jobs) per request.
    const readOnly = createDashboard(db.pool, { ...db.tables, basePath: '/ro', readOnly: true, searchTime: 0 });
    const server = createServer((req, res) => readOnly(req, res));
    servers.push(server);
    const roBase = `${await listen(server)}/ro/`;
    const openReadOnly = async (hash: string) => {
      const page = await context.newPage();
      await page.goto(`${roBase}${hash}`);
      await page.waitForSelector('html[data-ready="true"]');
      return page;
    };

    const page = await openReadOnly('#/');
    await page.locator('#queues tr[data-queue="browser"]').waitFor();
    assert.equal(await page.locator('main button').count(), 0, 'no pause or resume');
    await page.evaluate("location.hash = '#/jobs?state=failed&queue=browser'");
    await page.locator(`#jobs tr[data-job-id="${failedId}"]`).waitFor();
    assert.equal(await page.locator('main button:not([type="submit"])').count(), 0, 'no bulk action');
    assert.equal(await page.locator('.actions').count(), 0);
    await page.evaluate(`location.hash = '#/jobs/${failedId}'`);
    await page.locator('#error-stack').waitFor();
    assert.match((await page.locator('#payload').textContent()) ?? '', /"user": 42/);
    assert.equal(await page.locator('main button').count(), 0, 'no retry or delete');
    const waiting = await enqueue(db.pool, 'idle', {}, { ...db.tables, queue: 'no-worker' });
    await page.evaluate(`location.hash = '#/jobs/${waiting}'`);
    await page.locator('#job-state', { hasText: 'Waiting' }).waitFor();
    assert.equal(await page.locator('main button').count(), 0, 'no cancel or delete');
    await checkAccessibility(page, "a job's page, read-only");

    // 1,200 jobs that succeeded two days ago, older than any other; only the 1,100th newest of them holds the text.
    await db.pool.query(
      `INSERT INTO "${db.schema}".archived_job (job_id, queue, job_type, payload, attempts, enqueued_at, process_at, status, finished_at)
       SELECT gen_random_uuid(), 'archive', 'old', jsonb_build_object('i', i, 'tag', CASE WHEN i = 1100 THEN 'needle' ELSE 'straw' END),
              1, f, f, 'success', f
       FROM (SELECT i, now() - interval '2 days' - i * interval '1 second' AS f FROM generate_series(1, 1200) i) s`,
    );
    await page.evaluate("location.hash = '#/jobs?state=succeeded&q=needle'");
    const note = page.locator('#search-note');
    await note.waitFor();
    assert.match((await note.textContent()) ?? '', /^Searched 1,000 succeeded jobs, back to those finished 2 d ago: none of them matches\. Older ones are not searched yet\.$/);
    assert.equal(await page.locator('#jobs').count(), 0);
    await checkAccessibility(page, 'a search that stopped');
    await page.locator('#search-on', { hasText: 'Search further back' }).click();
    // The rest of the archive, searched to its end: the needle, and nothing more to search.
    await page.locator('#jobs tbody tr').waitFor();
    assert.match((await page.locator('#jobs code.payload').textContent()) ?? '', /"tag": "needle"/);
    assert.equal(await page.locator('#search-note').count(), 0);
    assert.equal(await page.locator('a[rel="next"]').count(), 0);
    await page.close();
  });

  it('is usable by keyboard: a skip link first, then the sections', async () => {
    const page = await open('#/');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement?.id'), 'skip-link');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate('document.activeElement?.id'), 'main');
    await page.locator('nav a[data-section="workers"]').focus();
    await page.keyboard.press('Enter');
    await page.waitForURL(/#\/workers$/);
    await page.locator('h1', { hasText: 'Workers' }).waitFor();
    assert.equal(await page.locator('nav a[data-section="workers"]').getAttribute('aria-current'), 'page');
    await page.close();
  });

  it('has light and dark themes, from the system or chosen, both accessible', async () => {
    const page = await open(`#/jobs?state=failed&queue=${queue}`, 'dark');
    await page.locator('#jobs').waitFor();
    const background = () => page.evaluate('getComputedStyle(document.body).backgroundColor');
    const dark = await background();
    await checkAccessibility(page, 'a job list in the dark theme');
    await page.locator('#theme-toggle').press('Enter'); // auto -> light
    assert.equal(await page.evaluate('document.documentElement.dataset.theme'), 'light');
    assert.notEqual(await background(), dark);
    await page.locator('#theme-toggle').press('Enter'); // light -> dark
    assert.equal(await background(), dark);
    await page.close();
  });

  it('refuses without credentials, and refuses a cross-site POST', async () => {
    const anonymous = await browser.newContext();
    // The browser, asked for credentials it does not have, shows nothing of the dashboard.
    await assert.rejects(anonymous.newPage().then((page) => page.goto(base)), /ERR_INVALID_AUTH_CREDENTIALS/);
    for (const path of ['', 'api/overview', 'assets/app.js']) {
      const response = await anonymous.request.get(`${base}${path}`);
      assert.equal(response.status(), 401, path);
      assert.match(response.headers()['www-authenticate'] ?? '', /^Basic/);
    }
    await anonymous.close();

    const target = await enqueue(db.pool, 'target', {}, { ...db.tables, queue: 'elsewhere' });
    const page = await context.newPage();
    await page.goto(evilOrigin);
    // A cross-site form post, and a cross-site fetch with credentials: both refused.
    const action = JSON.stringify(`${base}api/jobs/${target}/delete`);
    await Promise.all([
      page.waitForNavigation(),
      page.evaluate(`(() => { const f = document.createElement('form'); f.method = 'POST'; f.action = ${action}; document.body.append(f); f.submit(); })()`),
    ]);
    assert.match(await page.content(), /Refused: cross-origin request/);
    await page.goto(evilOrigin);
    await page.evaluate(
      (url) => fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'include', body: '{}' }).then(() => 'sent', () => 'failed'),
      `${base}api/jobs/${target}/delete`,
    );
    const bulk = JSON.stringify(`${base}api/bulk/delete?state=waiting&queue=elsewhere`);
    await Promise.all([
      page.waitForNavigation(),
      page.evaluate(`(() => { const f = document.createElement('form'); f.method = 'POST'; f.action = ${bulk}; document.body.append(f); f.submit(); })()`),
    ]);
    assert.match(await page.content(), /Refused: cross-origin request/);
    assert.equal(await stateOf(target), 'queued');
    await page.close();
  });

  it('broke no rule of its Content-Security-Policy, and threw no error, on any page', () => {
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
  });
});
