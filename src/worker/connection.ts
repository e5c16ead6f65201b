import type pg from 'pg';
import { ProletarianError, toError } from '../errors.js';
import { errorData } from '../log.js';
import type { WorkerRuntime } from './runtime.js';

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
