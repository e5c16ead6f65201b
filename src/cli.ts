#!/usr/bin/env node
// The `proletarian` command: finds the command, parses its options, and
// hands it to its module under src/cli/.
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { optionalWholeNumber } from './cli/args.js';
import {
  commandHelp,
  flag,
  JSON_OPTION,
  parseCommandLine,
  stringValue,
  tablesOf,
  type CommandSpec,
  type Values,
} from './cli/command-line.js';
import { databaseUrlOf, withClient } from './cli/connect.js';
import { JOBS_LIST, JOBS_SHOW, planList, planShow, runList, runShow } from './cli/jobs.js';
import { printJson, printTable } from './cli/output.js';
import { planPrune, PRUNE, pruneFlags, runPrune } from './cli/prune.js';
import { checkRetry, RETRY, runRetry } from './cli/retry.js';
import { planStats, runStats, STATS } from './cli/stats.js';
import { planWorker, runWorker, WORKER, workerFlags } from './cli/worker.js';
import { InvalidOptionError } from './errors.js';
import { cancelJob } from './job-control.js';
import { migrate, schemaSql } from './migrate.js';
import { pauseQueue, resumeQueue } from './queue-state.js';
import { listSchedules } from './schedule-list.js';
import { resolveTables } from './tables.js';

const MIGRATE: CommandSpec = {
  name: 'migrate',
  summary: 'Install or upgrade the schema',
  synopsis: '[options]',
  description:
    'Install or upgrade the schema in the database at DATABASE_URL (or --database-url). Safe to run from several processes at once.',
  options: {},
  connects: true,
};
const SCHEMA: CommandSpec = {
  name: 'schema',
  summary: 'Print the schema as SQL',
  synopsis: '[options]',
  description: 'Print the full schema as SQL, for Flyway, node-pg-migrate and the like. Connects to nothing.',
  options: {
    schema: { type: 'string', value: '<name>', help: 'Schema of the tables (default: proletarian)' },
    'job-table': { type: 'string', value: '<name>', help: 'Job table (default: job)' },
    'archived-job-table': { type: 'string', value: '<name>', help: 'Archived-job table (default: archived_job)' },
  },
  connects: false,
};
const PAUSE: CommandSpec = {
  name: 'pause',
  summary: 'Pause a queue',
  synopsis: '<queue> [options]',
  description:
    'Pause a queue: every worker of it stops claiming within about a second; running jobs finish and enqueueing goes on. It stays paused until resumed.',
  options: {},
  connects: true,
};
const RESUME: CommandSpec = {
  name: 'resume',
  summary: 'Resume a paused queue',
  synopsis: '<queue> [options]',
  description: 'Resume a paused queue: its workers claim again at once.',
  options: {},
  connects: true,
};
const SCHEDULES: CommandSpec = {
  name: 'schedules',
  summary: 'List the recurring schedules and their next runs',
  synopsis: '[options]',
  description: 'List the recurring schedules workers have run, with their last and next runs.',
  options: {
    next: { type: 'string', value: '<n>', help: 'How many next runs to show per schedule (default: 3)' },
    ...JSON_OPTION,
  },
  connects: true,
};
const CANCEL: CommandSpec = {
  name: 'cancel',
  summary: 'Cancel a job',
  synopsis: '<id> [options]',
  description: 'Cancel a job: archived as cancelled if it waits, or its worker is asked to stop it if it runs.',
  options: {},
  connects: true,
};
const DASHBOARD: CommandSpec = {
  name: 'dashboard',
  summary: 'Serve the web dashboard',
  synopsis: '[options]',
  description:
    'Serve the web dashboard. Listens on 127.0.0.1 unless --host says otherwise; any other address needs ' +
    'authentication, from the environment: PROLETARIAN_DASHBOARD_TOKEN, or PROLETARIAN_DASHBOARD_USER and ' +
    'PROLETARIAN_DASHBOARD_PASSWORD.',
  options: {
    port: { type: 'string', value: '<n>', help: 'Port to listen on (default: 8080; 0: any free port)' },
    host: { type: 'string', value: '<address>', help: 'Address to listen on (default: 127.0.0.1)' },
    'read-only': { type: 'boolean', help: 'Show everything, change nothing' },
  },
  connects: true,
};

const COMMANDS: readonly CommandSpec[] = [
  MIGRATE, SCHEMA, STATS, JOBS_LIST, JOBS_SHOW, WORKER, PRUNE, PAUSE, RESUME, SCHEDULES, CANCEL, RETRY, DASHBOARD,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = COMMANDS.map((c) => {
    return `  ${c.name.padEnd(width)}${c.summary}`;
  });
  return [
    'Usage: proletarian <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Options:',
    '  -h, --help     Show this help; `proletarian <command> --help` shows a command\'s own',
    '  -V, --version  Print the version',
    '',
    'Every command that reads the database takes --database-url (default: $DATABASE_URL),',
    '--schema, --job-table and --archived-job-table; stats, jobs list, jobs show and',
    'schedules take --json.',
    '',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The command named at the front of `argv`, and the arguments after its name. */
function findCommand(argv: readonly string[]): { spec: CommandSpec; rest: readonly string[] } | { name: string } | null {
  const [first, second] = argv;
  if (first === undefined || first.startsWith('-')) return null;
  const two = second === undefined ? undefined : COMMANDS.find((c) => c.name === `${first} ${second}`);
  if (two) return { spec: two, rest: argv.slice(2) };
  const one = COMMANDS.find((c) => c.name === first);
  if (one) return { spec: one, rest: argv.slice(1) };
  if (first === 'jobs') return { name: second === undefined || second.startsWith('-') ? 'jobs' : `jobs ${second}` };
  return { name: first };
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'help') {
    const target = argv.length > 1 ? findCommand(argv.slice(1)) : null;
    if (target && 'spec' in target) {
      process.stdout.write(commandHelp(target.spec));
      return 0;
    }
    process.stdout.write(usage());
    return target ? 1 : 0;
  }
  const found = findCommand(argv);
  if (found === null) {
    const [first] = argv;
    if (first === undefined) {
      process.stdout.write(usage());
      return 1;
    }
    if (first === '-h' || first === '--help') {
      process.stdout.write(usage());
      return 0;
    }
    if (first === '-V' || first === '--version') {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    throw new InvalidOptionError(
      `the command comes first, e.g. proletarian stats --schema app; got ${JSON.stringify(first)} (see \`proletarian --help\`)`,
    );
  }
  if (!('spec' in found)) {
    const message =
      found.name === 'jobs'
        ? 'jobs needs a subcommand: jobs list, or jobs show <id>'
        : `unknown command "${found.name}"`;
    process.stderr.write(`proletarian: ${message}\n\n${usage()}`);
    return 1;
  }
  const { spec, rest } = found;
  const { values, positionals } = parseCommandLine(spec, rest);
  if (flag(values, 'help')) {
    process.stdout.write(commandHelp(spec));
    return 0;
  }
  return run(spec, values, positionals);
}

async function run(spec: CommandSpec, values: Values, positionals: readonly string[]): Promise<number> {
  const command = spec.name;
  if (spec !== PAUSE && spec !== RESUME && spec !== CANCEL && spec !== RETRY && spec !== JOBS_SHOW && positionals.length > 0) {
    throw new InvalidOptionError(`${command} takes no arguments; got ${JSON.stringify(positionals[0])} (see \`proletarian ${command} --help\`)`);
  }
  const tables = tablesOf(values);
  switch (spec) {
    case SCHEMA:
      process.stdout.write(schemaSql(tables));
      return 0;
    case MIGRATE:
      return withClient(command, values, async (client) => {
        const result = await migrate(client, tables);
        process.stdout.write(
          result.applied.length === 0
            ? `schema is up to date (version ${result.toVersion})\n`
            : `migrated from version ${result.fromVersion} to ${result.toVersion} (applied ${result.applied.join(', ')})\n`,
        );
      });
    case STATS: {
      const plan = planStats(values);
      return withClient(command, values, (client) => runStats(client, plan));
    }
    case JOBS_LIST: {
      const plan = planList(values);
      return withClient(command, values, (client) => runList(client, plan));
    }
    case JOBS_SHOW: {
      const plan = planShow(positionals, values);
      return withClient(command, values, (client) => runShow(client, plan));
    }
    case PAUSE:
    case RESUME: {
      const queue = positionals[0];
      if (queue === undefined) throw new InvalidOptionError(`${command} needs a queue name, e.g. proletarian ${command} default`);
      return withClient(command, values, async (client) => {
        const pausing = spec === PAUSE;
        const changed = await (pausing ? pauseQueue : resumeQueue)(client, queue, tables);
        const name = JSON.stringify(queue);
        process.stdout.write(
          pausing
            ? changed ? `paused queue ${name}\n` : `queue ${name} was already paused\n`
            : changed ? `resumed queue ${name}\n` : `queue ${name} was not paused\n`,
        );
      });
    }
    case SCHEDULES: {
      const nextRuns = optionalWholeNumber('--next', stringValue(values, 'next')) ?? 3;
      return withClient(command, values, (client) => printSchedules(client, nextRuns, values));
    }
    case PRUNE: {
      const plan = planPrune(pruneFlags(values), tables);
      return withClient(command, values, (client) => runPrune(client, plan));
    }
    case WORKER: {
      const plan = planWorker(workerFlags(values), tables);
      const url = databaseUrlOf(command, values);
      return url === null ? 1 : runWorker(url, plan);
    }
    case CANCEL: {
      const jobId = onlyJobId(command, positionals);
      return withClient(command, values, async (client) => {
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
    case RETRY:
      checkRetry(positionals, values);
      return withClient(command, values, (client) => runRetry(client, positionals, values));
    case DASHBOARD:
      return runDashboard(values);
    default:
      throw new Error(`no handler for ${command}`);
  }
}

async function printSchedules(client: pg.Client, nextRuns: number, values: Values): Promise<void> {
  const schedules = await listSchedules(client, { ...tablesOf(values), nextRuns });
  if (flag(values, 'json')) {
    printJson(schedules);
    return;
  }
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
}

async function runDashboard(values: Values): Promise<number> {
  const databaseUrl = databaseUrlOf('dashboard', values);
  if (databaseUrl === null) return 1;
  const portText = stringValue(values, 'port');
  const port = portText === undefined ? 8080 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidOptionError(`--port must be a port number; got ${JSON.stringify(portText)}`);
  }
  const tables = tablesOf(values);
  resolveTables(tables);
  const { startStandalone, StartRefused } = await import('./dashboard/standalone.js');
  try {
    const { server, pool, url } = await startStandalone({
      databaseUrl,
      host: stringValue(values, 'host') ?? '127.0.0.1',
      port,
      readOnly: flag(values, 'read-only'),
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

/** The one job id after the command (`cancel <id>`). */
function onlyJobId(command: string, positionals: readonly string[]): string {
  if (positionals.length !== 1) {
    throw new InvalidOptionError(`${command} takes one job id, e.g. proletarian ${command} 0190b6c2-…; got ${positionals.length}`);
  }
  return positionals[0]!;
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
