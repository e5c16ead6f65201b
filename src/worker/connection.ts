import type pg from 'pg';
import { connectionEnded, sessionTerminated } from '../database-errors.js';
import { ProletarianError, toError } from '../errors.js';
import { errorData } from '../log.js';
import type { WorkerRuntime } from './runtime.js';

// Errors of connections that turned out to have ended while lent (see onlyItsConnectionEnded).
const endedWhileLent = new WeakSet<object>();

/**
 * Whether `error` tells only of the end of the connection it came from, not
 * of the server: the server ended that session (`pg_terminate_backend`; at
 * a shutdown, new connections are then refused, which does tell), or a
 * connection the pool lent turned out to have ended, in use or while idle in
 * the pool. Another connection may work at once.
 */
export function onlyItsConnectionEnded(error: unknown): boolean {
  return sessionTerminated(error) || (typeof error === 'object' && error !== null && endedWhileLent.has(error));
}

/**
 * Lends `work` a connection from the pool. While it holds it, the
 * connection's 'error' events are logged: unheard, they would crash the
 * process (the failing query reports the same error to `work`). A connection
 * `work` threw on, or called `discard` for, is destroyed rather than reused,
 * and the server rolls back whatever it still held.
 */
export async function withConnection<T>(
  runtime: WorkerRuntime,
  slot: number,
  work: (client: pg.PoolClient, discard: (reason: Error) => void) => Promise<T>,
): Promise<T> {
  const client = await runtime.pool.connect();
  const onConnectionError = (error: Error) => runtime.emit('connection-error', { slot, ...errorData(error) });
  client.on('error', onConnectionError);
  let broken: Error | undefined;
  try {
    return await work(client, (reason) => (broken = reason));
  } catch (error) {
    broken = toError(error);
    if (connectionEnded(broken)) endedWhileLent.add(broken);
    throw broken;
  } finally {
    client.off('error', onConnectionError);
    client.release(broken);
  }
}

/**
 * COMMIT on an aborted transaction "succeeds" as a ROLLBACK; work that
 * silently rolls back would run again forever, so that is an error here.
 */
export function requireCommitted(command: string): void {
  if (command !== 'COMMIT') {
    throw new ProletarianError(`the transaction was rolled back at commit (${command})`);
  }
}
