#!/usr/bin/env node
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ARCHIVE_STATUSES, type ArchiveStatus } from './archive-status.js';
import { InvalidOptionError } from './errors.js';
import { migrate, schemaSql } from './migrate.js';
import { prune, type PruneOptions } from './retention.js';
import { queueStats } from './stats.js';
import type { TableOptions } from './tables.js';

const USAGE = `Usage: proletarian <command> [options]

Commands:
  migrate        Install or upgrade the schema in the database at DATABASE_URL
                 (or --database-url). Safe to run from several processes at once.
  schema         Print the full schema as SQL, for Flyway, node-pg-migrate and the like.
  stats          Show queued jobs per queue and job type: due, scheduled, leased, retrying.
  prune          Delete archived jobs that finished longer than --older-than ago,
                 the oldest first, in batches that each commit on their own.
  dashboard      Serve the web dashboard. Listens on 127.0.0.1 unless --host says
                 otherwise; any other address needs authentication, from the
                 environment: PROLETARIAN_DASHBOARD_TOKEN, or
                 PROLETARIAN_DASHBOARD_USER and PROLETARIAN_DASHBOARD_PASSWORD.

Options:
  --database-url <url>        PostgreSQL connection string (default: $DATABASE_URL)
  --schema <name>             Schema of the tables (default: proletarian)
  --job-table <name>          Job table (default: job)
  --archived-job-table <name> Archived-job table (default: archived_job)
  -h, --help                  Show this help

Options of prune:
  --older-than <duration>     Required. A number with a unit: 30d, 12h, 15m (minutes),
                              3600s, 500ms; or a plain number of milliseconds
  --status <status>           Only jobs archived as success or failure (default: both)
  --batch-size <n>            Jobs deleted per batch (default: 1000)
  --max-batches <n>           Stop after n batches (default: until none is left)

Options of dashboard:
  --port <n>                  Port to listen on (default: 8080; 0: any free port)
  --host <address>            Address to listen on (default: 127.0.0.1)
  --read-only                 Show everything, change nothing
`;

// Milliseconds per unit of --older-than; no unit means milliseconds.
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'database-url': { type: 'string' },
      schema: { type: 'string' },
      'job-table': { type: 'string' },
      'archived-job-table': { type: 'string' },
      'older-than': { type: 'string' },
      status: { type: 'string' },
      'batch-size': { type: 'string' },
      'max-batches': { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'read-only': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 1;
  }
  const tables: TableOptions = {
    schema: values.schema,
    jobTable: values['job-table'],
    archivedJobTable: values['archived-job-table'],
  };
  switch (command) {
    case 'schema':
      process.stdout.write(schemaSql(tables));
      return 0;
    case 'migrate':
      return withClient(command, values['database-url'], async (client) => {
        const result = await migrate(client, tables);
        process.stdout.write(
          result.applied.length === 0
            ? `schema is up to date (version ${result.toVersion})\n`
            : `migrated from version ${result.fromVersion} to ${result.toVersion} (applied ${result.applied.join(', ')})\n`,
        );
      });
    case 'stats':
      return withClient(command, values['database-url'], async (client) => {
        const stats = await queueStats(client, tables);
        if (stats.length === 0) {
          process.stdout.write('no queued jobs\n');
          return;
        }
        const header = ['queue', 'job type', 'due', 'scheduled', 'leased', 'retrying', 'oldest due'];
        const rows = stats.map((s) => [
          s.queue,
          s.jobType,
          String(s.due),
          String(s.scheduled),
          String(s.leased),
          String(s.retrying),
          s.oldestDueAt ? s.oldestDueAt.toISOString() : '-',
        ]);
        const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
        for (const row of [header, ...rows]) {
          process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
        }
      });
    case 'prune': {
      // Checked before connecting, so a typo costs no connection.
      const options: PruneOptions = {
        ...tables,
        olderThan: duration('--older-than', values['older-than']),
        status: pruneStatus(values.status),
        batchSize: optionalWholeNumber('--batch-size', values['batch-size']),
        maxBatches: optionalWholeNumber('--max-batches', values['max-batches']),
      };
      return withClient(command, values['database-url'], async (client) => {
        // Ctrl-C or SIGTERM: finish the batch in progress, then report. A second one ends the process.
        const controller = new AbortController();
        const stop = () => controller.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          const result = await prune(client, { ...options, signal: controller.signal });
          const jobs = `${result.deleted} archived job${result.deleted === 1 ? '' : 's'}`;
          const batches = `${result.batches} batch${result.batches === 1 ? '' : 'es'}`;
          process.stdout.write(
            `deleted ${jobs} finished before ${result.cutoff.toISOString()} in ${batches}` +
              (result.done ? '\n' : `; older ones remain${controller.signal.aborted ? ' (interrupted)' : ''}\n`),
          );
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      });
    }
    case 'dashboard': {
      const databaseUrl = values['database-url'] ?? process.env['DATABASE_URL'];
      if (!databaseUrl) {
        process.stderr.write('proletarian dashboard: set DATABASE_URL or pass --database-url\n');
        return 1;
      }
      const port = values.port === undefined ? 8080 : Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new InvalidOptionError(`--port must be a port number; got ${JSON.stringify(values.port)}`);
      }
      const { startStandalone, StartRefused } = await import('./dashboard/standalone.js');
      try {
        const { server, pool, url } = await startStandalone({
          databaseUrl,
          host: values.host ?? '127.0.0.1',
          port,
          readOnly: values['read-only'] ?? false,
          tables,
          env: process.env,
        });
        process.stdout.write(`proletarian dashboard listening on ${url}\n`);
        await new Promise<void>((resolve) => {
          const stop = () => server.close(() => resolve());
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        server.closeAllConnections();
        await pool.end();
        return 0;
      } catch (error) {
        if (error instanceof StartRefused) {
          process.stderr.write(`proletarian dashboard: ${error.message}\n`);
          return 2;
        }
        throw error;
      }
    }
    default:
      process.stderr.write(`proletarian: unknown command "${command}"\n\n${USAGE}`);
      return 1;
  }
}

/** `30d`, `12h`, `15m`, `3600s`, `500ms` or plain milliseconds, as milliseconds. */
function duration(flag: string, text: string | undefined): number {
  if (text === undefined) throw new InvalidOptionError(`${flag} is required, e.g. ${flag} 30d`);
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) {
    throw new InvalidOptionError(
      `${flag} must be a whole number with an optional unit (d, h, m, s, ms; none: milliseconds), e.g. 30d; ` +
        `got ${JSON.stringify(text)}`,
    );
  }
  return Number(match[1]) * DURATION_UNITS[match[2] ?? 'ms']!;
}

function pruneStatus(text: string | undefined): ArchiveStatus | undefined {
  if (text === undefined) return undefined;
  const status = ARCHIVE_STATUSES.find((known) => known === text);
  if (status) return status;
  throw new InvalidOptionError(`--status must be ${ARCHIVE_STATUSES.join(' or ')}; got ${JSON.stringify(text)}`);
}

function optionalWholeNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) {
    throw new InvalidOptionError(`${flag} must be a whole number ≥ 1; got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

async function withClient(
  command: string,
  url: string | undefined,
  work: (client: pg.Client) => Promise<void>,
): Promise<number> {
  const connectionString = url ?? process.env['DATABASE_URL'];
  if (!connectionString) {
    process.stderr.write(`proletarian ${command}: set DATABASE_URL or pass --database-url\n`);
    return 1;
  }
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`proletarian: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
