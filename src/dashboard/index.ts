import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidOptionError } from '../errors.js';
import { queryableOf } from '../db/adapt.js';
import { resolveTables, type TableOptions } from '../tables.js';
import type { Queryable } from '../types.js';
import { optionalBoolean, optionalFunction, rejectUnknownKeys, requireObject, milliseconds } from '../validate.js';
import {
  BULK_ACTIONS,
  BULK_ACTION_STATES,
  isBulkAction,
  isJobAction,
  isQueueAction,
  JOB_ACTIONS,
  JOB_ACTION_STATES,
  QUEUE_ACTIONS,
} from './actions.js';
import { InvalidNameError } from '../errors.js';
import { validateName } from '../payload.js';
import { BadRequest, DashboardData, DEFAULT_SEARCH_TIME_MS, isJobId, parseJobQuery, type Redact } from './api.js';
import type { ActionAnswer, DashboardMeta, JobCount } from './api-types.js';
import { isAssetName, loadAsset } from './assets.js';
import type { Authorize } from './auth.js';
import { CsrfGuard } from './csrf.js';
import { ARCHIVED_STATES, LIVE_STATES } from '../sql/dashboard.js';

export { basicAuth, tokenAuth, isLoopbackHost, type Authorize } from './auth.js';
export type { RedactableJob, Redact } from './api.js';
export type * from './api-types.js';

/** Options of {@link createDashboard} (plus `TableOptions`). */
export interface DashboardOptions extends TableOptions {
  /** The path the dashboard lives under, e.g. `'/admin/jobs'`. @defaultValue `''` (the root) */
  basePath?: string;
  /** Decides who may see it; without it, anyone who reaches the handler may. */
  authorize?: Authorize;
  /** Hide and refuse every action. @defaultValue `false` */
  readOnly?: boolean;
  /** Hides secrets: called with every job's payload and last error before they leave the server. */
  redact?: Redact;
  /** Shared by every process serving the dashboard, so a page's token works on each; random by default. */
  csrfSecret?: string;
  /** How often open pages refresh, in ms. @defaultValue `5000` */
  pollInterval?: number;
  /** Shown in the page's title. @defaultValue `'Proletarian'` */
  title?: string;
  /**
   * How long one request may search finished jobs by queue, job type or text
   * (or count them), in ms: the archive's indexes find them by state and
   * time only, so a search reads them a stretch at a time, and when this
   * time is spent answers with what it found so far and where it stopped;
   * the page offers to search on. @defaultValue `100`
   */
  searchTime?: number;
}

/** A Node request handler; `next` is called for requests outside `basePath`, as Express and Connect expect. */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

const KNOWN_OPTIONS = new Set([
  'basePath',
  'authorize',
  'readOnly',
  'redact',
  'csrfSecret',
  'pollInterval',
  'title',
  'searchTime',
  'schema',
  'jobTable',
  'archivedJobTable',
]);

// No inline script or style, nothing from elsewhere: a payload rendered by
// mistake as HTML could still not run.
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const MAX_BODY_BYTES = 16 * 1024;

/**
 * The dashboard as a plain Node request handler: mount it in `node:http`,
 * Express, Fastify (through its Node server) or Hono's Node server. It
 * serves the page, its assets and a JSON API under `basePath`; see the
 * README for what each page shows.
 */
export function createDashboard(db: Queryable, options: DashboardOptions = {}): DashboardHandler {
  queryableOf(db, 'a pg.Pool');
  requireObject(options as unknown, 'createDashboard: options must be an object');
  rejectUnknownKeys(options, KNOWN_OPTIONS, 'unknown createDashboard option');
  const basePath = normalizeBasePath(options.basePath);
  const authorize = optionalFunction('authorize', options.authorize);
  const redact = optionalFunction('redact', options.redact);
  const readOnly = optionalBoolean('readOnly', options.readOnly, false);
  const pollIntervalMs = milliseconds('pollInterval', options.pollInterval ?? 5000, { min: 500 });
  const searchTimeMs = milliseconds('searchTime', options.searchTime ?? DEFAULT_SEARCH_TIME_MS, { min: 0, max: 60_000 });
  if (options.csrfSecret !== undefined && (typeof options.csrfSecret !== 'string' || options.csrfSecret.length < 16)) {
    throw new InvalidOptionError('csrfSecret must be a string of at least 16 characters');
  }
  const title = options.title ?? 'Proletarian';
  if (typeof title !== 'string') throw new InvalidOptionError('title must be a string');
  const tables = resolveTables(options);
  const tableOptions: TableOptions = { schema: tables.schemaName, jobTable: tables.jobTableName, archivedJobTable: tables.archivedJobTableName };
  const data = new DashboardData(db, tables, redact, searchTimeMs);
  const csrf = new CsrfGuard(options.csrfSecret);
  const meta: DashboardMeta = {
    title,
    csrfToken: readOnly ? null : csrf.token,
    readOnly,
    jobActions: readOnly ? [] : Object.keys(JOB_ACTIONS),
    jobActionStates: readOnly ? {} : copyLists(JOB_ACTION_STATES),
    bulkActions: readOnly ? {} : copyLists(BULK_ACTION_STATES),
    queueActions: readOnly ? [] : Object.keys(QUEUE_ACTIONS),
    liveStates: [...LIVE_STATES],
    archivedStates: [...ARCHIVED_STATES],
    pollIntervalMs,
  };

  async function handle(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const mountedBy = (req as { originalUrl?: unknown }).originalUrl;
    let path = url.pathname;
    // Express and Connect strip their mount path from req.url; node:http does not.
    const stripped = typeof mountedBy === 'string' && mountedBy !== req.url;
    if (basePath && !stripped) {
      if (path === basePath) return redirect(res, `${basePath}/${url.search}`);
      if (!path.startsWith(`${basePath}/`)) return notOurs(res, next);
      path = path.slice(basePath.length);
    } else if (stripped && path === '/' && typeof mountedBy === 'string' && !new URL(mountedBy, 'http://x').pathname.endsWith('/')) {
      // Mounted at /jobs and asked for /jobs: the page's relative links need the slash.
      const original = new URL(mountedBy, 'http://dashboard.invalid');
      return redirect(res, `${original.pathname}/${original.search}`);
    }

    securityHeaders(res);
    if (authorize && !(await authorize(req))) {
      if (authorize.wwwAuthenticate) res.setHeader('WWW-Authenticate', authorize.wwwAuthenticate);
      return sendJson(res, 401, { ok: false, message: 'Not authorized.' } satisfies ActionAnswer);
    }

    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/') return sendAsset(req, res, 'index.html');
      const assetName = path.startsWith('/assets/') ? path.slice('/assets/'.length) : '';
      if (isAssetName(assetName) && assetName !== 'index.html') return sendAsset(req, res, assetName);
      if (path === '/api/meta') return sendJson(res, 200, meta);
      if (path === '/api/overview') return sendJson(res, 200, await data.overview());
      if (path === '/api/workers') return sendJson(res, 200, { workers: await data.workers() });
      if (path === '/api/names') return sendJson(res, 200, await data.names());
      if (path === '/api/jobs') return sendJson(res, 200, await data.jobs(parseJobQuery(url.searchParams)));
      if (path === '/api/jobs/count') return sendJson(res, 200, (await data.count(parseJobQuery(url.searchParams))) satisfies JobCount);
      if (path === '/api/schedules') return sendJson(res, 200, { schedules: await data.schedules() });
      const jobPath = /^\/api\/jobs\/([^/]+)$/.exec(path);
      if (jobPath) {
        const id = jobPath[1]!;
        const job = isJobId(id) ? await data.job(id) : null;
        return job ? sendJson(res, 200, job) : sendJson(res, 404, { ok: false, message: 'No such job.' });
      }
      return sendJson(res, 404, { ok: false, message: 'Not found.' });
    }

    if (req.method === 'POST') {
      const jobAction = /^\/api\/jobs\/([^/]+)\/([a-z-]+)$/.exec(path);
      const queueAction = /^\/api\/queues\/([^/]+)\/([a-z-]+)$/.exec(path);
      const bulkAction = /^\/api\/bulk\/([a-z-]+)$/.exec(path);
      if (!jobAction && !queueAction && !bulkAction) return sendJson(res, 404, { ok: false, message: 'Not found.' });
      if (readOnly) return sendJson(res, 403, { ok: false, message: 'This dashboard is read-only.' });
      const refusal = csrf.refusal(req);
      if (refusal) return sendJson(res, 403, { ok: false, message: `Refused: ${refusal}.` });
      await readBody(req);
      let result: ActionAnswer;
      if (jobAction) {
        const id = jobAction[1]!;
        const name = jobAction[2]!;
        if (!isJobId(id)) return sendJson(res, 404, { ok: false, message: 'No such job.' });
        if (!isJobAction(name)) return sendJson(res, 404, { ok: false, message: `No action "${name}".` });
        result = await JOB_ACTIONS[name](db, tableOptions, id);
      } else if (queueAction) {
        const queue = queueName(queueAction[1]!);
        const name = queueAction[2]!;
        if (!isQueueAction(name)) return sendJson(res, 404, { ok: false, message: `No action "${name}".` });
        result = await QUEUE_ACTIONS[name](db, tableOptions, queue);
      } else {
        const name = bulkAction![1]!;
        if (!isBulkAction(name)) return sendJson(res, 404, { ok: false, message: `No action "${name}".` });
        const filter = parseJobQuery(url.searchParams);
        if (!BULK_ACTION_STATES[name].includes(filter.state)) {
          throw new BadRequest(`${name} applies to jobs in these states: ${BULK_ACTION_STATES[name].join(', ')}`);
        }
        result = await BULK_ACTIONS[name](db, tables, filter);
      }
      return sendJson(res, result.ok ? 200 : 409, result);
    }
    res.setHeader('Allow', 'GET, HEAD, POST');
    return sendJson(res, 405, { ok: false, message: 'Method not allowed.' });
  }

  return (req, res, next) => {
    handle(req, res, next).catch((error: unknown) => {
      if (error instanceof BadRequest) {
        sendJson(res, 400, { ok: false, message: error.message });
        return;
      }
      // The database's message may name tables, never payloads; the stack stays on the server.
      if (!res.headersSent) {
        sendJson(res, 500, { ok: false, message: `The dashboard failed: ${error instanceof Error ? error.message : String(error)}` });
      } else {
        res.destroy();
      }
    });
  };
}

function normalizeBasePath(value: unknown): string {
  if (value === undefined || value === '' || value === '/') return '';
  if (typeof value !== 'string' || !/^(\/[A-Za-z0-9._~-]+)+\/?$/.test(value)) {
    throw new InvalidOptionError(`basePath must be a path such as "/admin/jobs"; got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/$/, '');
}

function copyLists(record: Readonly<Record<string, readonly string[]>>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(record).map(([key, list]) => [key, [...list]]));
}

/** A queue's name from a path segment, checked as the library checks it. */
function queueName(segment: string): string {
  let queue: string;
  try {
    queue = decodeURIComponent(segment);
  } catch {
    throw new BadRequest('the queue name is not valid URL encoding');
  }
  try {
    return validateName('queue', queue);
  } catch (error) {
    if (error instanceof InvalidNameError) throw new BadRequest(error.message);
    throw error;
  }
}

function notOurs(res: ServerResponse, next?: (error?: unknown) => void): void {
  if (next) next();
  else sendJson(res, 404, { ok: false, message: 'Not found.' });
}

function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

function redirect(res: ServerResponse, location: string): void {
  res.statusCode = 308;
  res.setHeader('Location', location);
  res.end();
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

function sendAsset(req: IncomingMessage, res: ServerResponse, name: Parameters<typeof loadAsset>[0]): void {
  const asset = loadAsset(name);
  res.setHeader('ETag', asset.etag);
  res.setHeader('Cache-Control', 'no-cache');
  if (req.headers['if-none-match'] === asset.etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('Content-Type', asset.type);
  res.setHeader('Content-Length', asset.body.length);
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

/** Drains the request body (actions take their arguments from the path), refusing a large one. */
async function readBody(req: IncomingMessage): Promise<void> {
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest('request body too large');
  }
}
