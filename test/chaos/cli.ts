// `npm run chaos`: the long chaos run. Options: --jobs N (default 20000),
// --faults N (default 200), --workers N (3), --concurrency N (2),
// --kinds a,b,c (default all). Without DATABASE_URL it starts an embedded
// PostgreSQL it can restart. With DATABASE_URL, it restarts that server with
// --restart-command (`{mode}` becomes fast or immediate), e.g. for this
// machine's system PostgreSQL:
//   --restart-command 'pg_ctlcluster --skip-systemctl-redirect 15 main restart -m {mode}'
// and leaves database restarts out without one.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ALL_FAULTS, runChaos, type FaultKind } from './chaos.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '20000' },
    faults: { type: 'string', default: '200' },
    workers: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '2' },
    kinds: { type: 'string' },
    'restart-command': { type: 'string' },
  },
});

const restartCommand = values['restart-command'];
/** Restarts the server at DATABASE_URL with the given command, then waits until it accepts connections. */
async function restartWithCommand(mode: 'fast' | 'immediate'): Promise<void> {
  await promisify(execFile)('sh', ['-c', restartCommand!.replaceAll('{mode}', mode)]);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: process.env['DATABASE_URL'] });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => {});
    }
  }
}

interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
  restart(mode: 'fast' | 'immediate'): Promise<void>;
}

const scriptPath = new URL('../../../scripts/with-postgres.mjs', import.meta.url).href;
const embedded = process.env['DATABASE_URL']
  ? null
  : await ((await import(scriptPath)) as { startEmbeddedPostgres(o: object): Promise<EmbeddedServer> }).startEmbeddedPostgres({
      durable: true,
    });
const stopEmbedded = () => embedded?.stop();
process.once('SIGINT', () => void stopEmbedded()?.finally(() => process.exit(130)));

try {
  const kinds = values.kinds ? (values.kinds.split(',') as FaultKind[]) : ALL_FAULTS;
  const report = await runChaos({
    databaseUrl: embedded?.url ?? process.env['DATABASE_URL']!,
    ...(embedded
      ? { restartDatabase: (mode: 'fast' | 'immediate') => embedded.restart(mode) }
      : restartCommand
        ? { restartDatabase: restartWithCommand }
        : {}),
    jobs: Number(values.jobs),
    faults: Number(values.faults),
    workers: Number(values.workers),
    concurrency: Number(values.concurrency),
    kinds,
    drainTimeoutMs: 120_000,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  printReport(report);
  process.exitCode = report.ok ? 0 : 1;
} finally {
  await stopEmbedded();
}

function printReport(report: Awaited<ReturnType<typeof runChaos>>): void {
  const byKind = new Map<string, number[]>();
  for (const fault of report.faults) {
    const times = byKind.get(fault.kind) ?? [];
    if (fault.resumedInMs !== null) times.push(fault.resumedInMs);
    byKind.set(fault.kind, times);
  }
  const lines = [
    `chaos: ${report.faults.length} faults in ${(report.durationMs / 1000).toFixed(1)} s`,
    `jobs: ${report.committedJobs} committed, ${report.rolledBackJobs} rolled back, ${report.uncertainJobs} uncertain`,
    'fault                   count  resumed in: median   max (ms)',
  ];
  for (const [kind, times] of [...byKind].sort()) {
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : '-';
    const max = sorted.length ? sorted[sorted.length - 1] : '-';
    const count = report.faults.filter((f) => f.kind === kind).length;
    lines.push(`${kind.padEnd(24)}${String(count).padStart(5)}  ${String(median).padStart(17)}  ${String(max).padStart(5)}`);
  }
  lines.push(report.ok ? 'OK: nothing lost, nothing done twice' : `FAILED:\n  ${report.violations.join('\n  ')}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
