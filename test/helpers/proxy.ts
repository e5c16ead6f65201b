import net from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL, so a test can cut every connection and
 * refuse new ones — the database "goes down" — then let it come back.
 */
export interface ToggleProxy {
  port: number;
  /** Closes every connection and refuses new ones. */
  down(): void;
  /** Accepts connections again. */
  up(): void;
  close(): Promise<void>;
}

export async function startProxy(target: { host: string; port: number }): Promise<ToggleProxy> {
  let accepting = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!accepting) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const down = () => {
    accepting = false;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    down,
    up() {
      accepting = true;
    },
    close() {
      down();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
