import net from 'node:net';
import type pg from 'pg';
import { cancelKeyOf } from '../db/pg-driver.js';

// The protocol's CancelRequest code (1234 << 16 | 5678).
const CANCEL_REQUEST_CODE = 80877102;

/**
 * Asks PostgreSQL to cancel the statement `client` is running, the way psql's
 * Ctrl-C does: a CancelRequest on a short-lived socket of its own. Unlike
 * `pg_cancel_backend()`, it needs no pool connection — the pool may be
 * exhausted by the very jobs that are stuck. Best effort: resolves either way.
 */
export function cancelRunningQuery(client: pg.ClientBase, timeoutMs = 2_000): Promise<void> {
  const key = cancelKeyOf(client);
  if (key === null) return Promise.resolve();
  const { processID, secretKey, host, port } = key;
  return new Promise((resolve) => {
    const socket = host.startsWith('/') ? net.connect(`${host}/.s.PGSQL.${port}`) : net.connect(port, host);
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.setTimeout(timeoutMs, done);
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => {
      const request = Buffer.alloc(16);
      request.writeInt32BE(16, 0);
      request.writeInt32BE(CANCEL_REQUEST_CODE, 4);
      request.writeInt32BE(processID, 8);
      request.writeInt32BE(secretKey, 12);
      // The server closes the socket once it has read the request.
      socket.end(request);
    });
  });
}
