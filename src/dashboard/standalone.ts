import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import type { TableOptions } from '../tables.js';
import { basicAuth, isLoopbackHost, tokenAuth, type Authorize } from './auth.js';
import { createDashboard } from './index.js';

/** What `proletarian dashboard` is started with. */
export interface StandaloneOptions {
  databaseUrl: string;
  host: string;
  port: number;
  readOnly: boolean;
  tables: TableOptions;
  /** Where the credentials come from: the environment, so they stay out of `ps` and shell history. */
  env: NodeJS.ProcessEnv;
}

export class StartRefused extends Error {}

/** The built-in auth the environment asks for, or null for none. */
export function authFromEnv(env: NodeJS.ProcessEnv): Authorize | null {
  const token = env['PROLETARIAN_DASHBOARD_TOKEN'];
  const user = env['PROLETARIAN_DASHBOARD_USER'];
  const password = env['PROLETARIAN_DASHBOARD_PASSWORD'];
  if (token) return tokenAuth(token);
  if (user || password) {
    if (!user || !password) {
      throw new StartRefused('set both PROLETARIAN_DASHBOARD_USER and PROLETARIAN_DASHBOARD_PASSWORD, or neither');
    }
    return basicAuth(user, password);
  }
  return null;
}

/** Starts the dashboard's own HTTP server; resolves once it listens. */
export async function startStandalone(options: StandaloneOptions): Promise<{ server: Server; pool: pg.Pool; url: string }> {
  const authorize = authFromEnv(options.env);
  if (!authorize && !isLoopbackHost(options.host)) {
    throw new StartRefused(
      `refusing to serve the dashboard on ${options.host} without authentication: anyone who can reach it could see ` +
        'every payload. Set PROLETARIAN_DASHBOARD_TOKEN (at least 16 characters), or PROLETARIAN_DASHBOARD_USER and ' +
        'PROLETARIAN_DASHBOARD_PASSWORD, or listen on 127.0.0.1 and reach it through an SSH tunnel.',
    );
  }
  // Few connections: pages read with a handful of short queries.
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4, application_name: 'proletarian dashboard' });
  pool.on('error', () => {});
  const handler = createDashboard(pool, { ...options.tables, readOnly: options.readOnly, ...(authorize ? { authorize } : {}) });
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { server, pool, url: `http://${host}:${address.port}/` };
}
