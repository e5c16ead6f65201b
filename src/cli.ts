#!/usr/bin/env node
import { parseArgs } from 'node:util';
import pg from 'pg';
import { optionalWholeNumber } from './cli/args.js';
import { planPrune, runPrune } from './cli/prune.js';
import { planWorker, runWorker } from './cli/worker.js';
import { explainSetupError } from './database-errors.js';
import { parseDuration } from './cli/duration.js';
import type { RetryableStatus } from './archive-status.js';
import { InvalidOptionError } from './errors.js';
import { cancelJob, retryJob, retryJobs, type RetryJobsFilter } from './job-control.js';
import { migrate, schemaSql } from './migrate.js';
import { pauseQueue, resumeQueue } from './queue-state.js';
import { listSchedules } from './schedule-list.js';
import { queueStats } from './stats.js';
import type { TableOptions } from './tables.js';

const USAGE = `Usage: proletarian <command> [options]

Commands:
  migrate        Install or upgrade the schema in the database at DATABASE_URL
                 (or --database-url). Safe to run from several processes at once.
  schema         Print the full schema as SQL, for Flyway, node-pg-migrate and the like.
  stats          Show queued jobs per queue and job type: due, scheduled, leased, retrying,
                 and whether the queue is paused or has jobs cancelling.
  worker         Run a worker on the handlers a module exports, until SIGTERM or SIGINT
                 (then running jobs finish, up to 10 s).
  prune          Delete archived jobs that finished longer than --older-than ago,
                 the oldest first, in batches that each commit on their own. Says
                 how many first, and deletes only with --yes or your answer.
  pause <queue>  Pause a queue: every worker of it stops claiming within about a second;
                 running jobs finish and enqueueing goes on. It stays paused until resumed.
  resume <queue> Resume a paused queue: its workers claim again at once.
  schedules      List the recurring schedules workers have run, with their next runs.
  cancel <id>    Cancel a job: archived as cancelled if it waits, or its worker is
                 asked to stop it if it runs.
  retry <id>     Put a job archived as failure, cancelled or discarded back on its queue.
  retry --failed Put every job archived as failure back on its queue (with
                 --cancelled, --discarded: those too; narrowed by --queue, --type, --since).
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

Options of worker:
  --handlers <module>         Required. A module (ESM or CommonJS) that exports \`handlers\`,
                              an object of job type → handler, e.g. ./dist/jobs.js
  --queue <name>              Queue to serve (default: default)
  --concurrency <n>           Jobs run in parallel (default: 1)

Options of prune:
  --older-than <duration>     Required. A whole number with a unit: 30d, 12h, 90m (minutes),
                              45s, 2w, 500ms. A bare number is refused.
  --status <status>           Only jobs archived as success, failure, cancelled or discarded
                              (default: all)
  --batch-size <n>            Jobs deleted per batch (default: 1000)
  --max-batches <n>           Stop after n batches (default: until none is left)
  --dry-run                   Say how many jobs would be deleted, and delete nothing
  -y, --yes                   Delete without asking. Without it, prune says what it would
                              delete and asks on a terminal; elsewhere it deletes nothing

Options of retry (without a job id):
  --failed, --cancelled, --discarded
                              Which archived jobs to retry; at least one is required
  --queue <name>              Only jobs of this queue
  --type <job type>           Only jobs of this job type
  --since <duration>          Only jobs that finished within this long ago (30d, 12h, ...)

Options of schedules:
  --next <n>                  How many next runs to show per schedule (default: 3)

Options of dashboard:
  --port <n>                  Port to listen on (default: 8080; 0: any free port)
  --host <address>            Address to listen on (default: 127.0.0.1)
  --read-only                 Show everything, change nothing
`;

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
      yes: { type: 'boolean', short: 'y' },
      handlers: { type: 'string' },
      queue: { type: 'string' },
      concurrency: { type: 'string' },
      'dry-run': { type: 'boolean' },
      next: { type: 'string' },
      failed: { type: 'boolean' },
      cancelled: { type: 'boolean' },
      discarded: { type: 'boolean' },
      type: { type: 'string' },
      since: { type: 'string' },
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
        const header = ['queue', 'job type', 'due', 'scheduled', 'leased', 'retrying', 'cancelling', 'oldest due', 'paused'];
        const rows = stats.map((s) => [
          s.queue,
          s.jobType,
          String(s.due),
          String(s.scheduled),
          String(s.leased),
          String(s.retrying),
          String(s.cancelling),
          s.oldestDueAt ? s.oldestDueAt.toISOString() : '-',
          s.paused ? 'yes' : 'no',
        ]);
        printTable(header, rows);
      });
    case 'pause':
    case 'resume': {
      const queue = positionals[1];
      if (queue === undefined) throw new InvalidOptionError(`${command} needs a queue name, e.g. proletarian ${command} default`);
      return withClient(command, values['database-url'], async (client) => {
        const pausing = command === 'pause';
        const changed = await (pausing ? pauseQueue : resumeQueue)(client, queue, tables);
        const name = JSON.stringify(queue);
        process.stdout.write(
          pausing
            ? changed ? `paused queue ${name}\n` : `queue ${name} was already paused\n`
            : changed ? `resumed queue ${name}\n` : `queue ${name} was not paused\n`,
        );
      });
    }
    case 'schedules': {
      const nextRuns = optionalWholeNumber('--next', values.next) ?? 3;
      return withClient(command, values['database-url'], async (client) => {
        const schedules = await listSchedules(client, { ...tables, nextRuns });
        if (schedules.length === 0) {
          process.stdout.write('no schedules\n');
          return;
        }
        const header = ['name', 'cron', 'timezone', 'job type', 'queue', 'last run', 'next runs'];
        const rows = schedules.map((s) => [
          s.name,
          s.cron,
          s.timezone,
          s.jobType,
          s.queue,
          s.lastSlot ? s.lastSlot.toISOString() : '-',
          s.nextRuns.length > 0 ? s.nextRuns.map((run) => run.toISOString()).join(', ') : '-',
        ]);
        printTable(header, rows);
      });
    }
    case 'prune': {
      const plan = planPrune(values, tables);
      return withClient(command, values['database-url'], (client) => runPrune(client, plan));
    }
    case 'worker': {
      const plan = planWorker(values, tables);
      const url = databaseUrlOf(command, values['database-url']);
      return url === null ? 1 : runWorker(url, plan);
    }
    case 'cancel': {
      const jobId = onlyJobId(command, positionals);
      return withClient(command, values['database-url'], async (client) => {
        const result = await cancelJob(client, jobId, tables);
        const said = {
          cancelled: `cancelled job ${jobId}`,
          cancelling: `job ${jobId} is running: its worker was asked to cancel it`,
          finished: `job ${jobId} has already finished; nothing to cancel`,
          'not-found': '',
        }[result];
        if (!said) throw new InvalidOptionError(`no job ${jobId}`);
        process.stdout.write(`${said}\n`);
      });
    }
    case 'retry': {
      const statuses = (['failed', 'cancelled', 'discarded'] as const)
        .filter((flag) => values[flag])
        .map((flag): RetryableStatus => (flag === 'failed' ? 'failure' : flag));
      if (positionals.length > 1) {
        if (statuses.length > 0) throw new InvalidOptionError('retry takes a job id or --failed (--cancelled, --discarded), not both');
        const jobId = onlyJobId(command, positionals);
        return withClient(command, values['database-url'], async (client) => {
          if (!(await retryJob(client, jobId, tables))) {
            throw new InvalidOptionError(`no job ${jobId} is archived as failure, cancelled or discarded`);
          }
          process.stdout.write(`retried job ${jobId}\n`);
        });
      }
      if (statuses.length === 0) {
        throw new InvalidOptionError('retry needs a job id, or --failed, --cancelled or --discarded to retry all such jobs');
      }
      const since = values.since === undefined ? undefined : parseDuration('--since', values.since);
      const filter: RetryJobsFilter = {
        status: statuses,
        ...(values.queue === undefined ? {} : { queue: values.queue }),
        ...(values.type === undefined ? {} : { jobType: values.type }),
      };
      return withClient(command, values['database-url'], async (client) => {
        // "Since" by the database's clock, like every other time here.
        if (since !== undefined) {
          const { rows } = await client.query<{ t: Date }>(`SELECT now() - $1::float8 * interval '1 millisecond' AS t`, [since]);
          filter.finishedAfter = rows[0]!.t;
        }
        const count = await retryJobs(client, filter, tables);
        const which = [
          `archived as ${statuses.join(' or ')}`,
          ...(values.queue === undefined ? [] : [`on queue ${JSON.stringify(values.queue)}`]),
          ...(values.type === undefined ? [] : [`of type ${JSON.stringify(values.type)}`]),
          ...(filter.finishedAfter ? [`finished since ${filter.finishedAfter.toISOString()}`] : []),
        ].join(', ');
        process.stdout.write(`retried ${count} job${count === 1 ? '' : 's'} ${which}\n`);
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

/** Rows under a header, each column as wide as its widest cell, two spaces apart. */
function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) {
    process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  }
}

/** The one job id after the command (`cancel <id>`, `retry <id>`). */
function onlyJobId(command: string, positionals: readonly string[]): string {
  if (positionals.length !== 2) {
    throw new InvalidOptionError(`${command} takes one job id, e.g. proletarian ${command} 0190b6c2-…; got ${positionals.length - 1}`);
  }
  return positionals[1]!;
}

/** --database-url, else DATABASE_URL; null (and a message) when neither is set. */
function databaseUrlOf(command: string, url: string | undefined): string | null {
  const connectionString = url ?? process.env['DATABASE_URL'];
  if (!connectionString) {
    process.stderr.write(`proletarian ${command}: set DATABASE_URL or pass --database-url\n`);
    return null;
  }
  return connectionString;
}

async function withClient(
  command: string,
  url: string | undefined,
  work: (client: pg.Client) => Promise<number | void>,
): Promise<number> {
  const connectionString = databaseUrlOf(command, url);
  if (connectionString === null) return 1;
  const client = new pg.Client({ connectionString });
  try {
    await client.connect();
  } catch (error) {
    throw explainSetupError(error, 'cannot connect to the database');
  }
  try {
    return (await work(client)) ?? 0;
  } finally {
    await client.end();
  }
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
