import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runChaos } from './chaos/chaos.js';

interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
  restart(mode: 'fast' | 'immediate'): Promise<void>;
}

// The short chaos run: a few thousand jobs under every kind of fault, on a
// PostgreSQL of its own (it restarts it). `npm run chaos` is the long one.
it('loses no job and doubles no effect under kills, signals, dropped connections and database restarts', async () => {
  const scriptPath = new URL('../../scripts/with-postgres.mjs', import.meta.url).href;
  const { startEmbeddedPostgres } = (await import(scriptPath)) as {
    startEmbeddedPostgres(options: object): Promise<EmbeddedServer>;
  };
  const server = await startEmbeddedPostgres({ durable: true });
  try {
    const report = await runChaos({
      databaseUrl: server.url,
      restartDatabase: (mode) => server.restart(mode),
      jobs: 1_500,
      faults: 21,
      workers: 3,
      concurrency: 2,
    });
    assert.deepEqual(report.violations, []);
    assert.equal(report.faults.length, 21);
    assert.ok(report.committedJobs > 0 && report.rolledBackJobs > 0, 'both commits and rollbacks were produced');
    for (const fault of report.faults) {
      if (fault.resumedInMs !== null) {
        assert.ok(fault.resumedInMs < 5_000, `processing resumed ${fault.resumedInMs} ms after ${fault.kind}`);
      }
    }
  } finally {
    await server.stop();
  }
});
