import type pg from 'pg';
import { ARCHIVE_STATUSES, type ArchiveStatus } from '../archive-status.js';
import { InvalidOptionError } from '../errors.js';
import { countPrunable, DEFAULT_PRUNE_BATCH_SIZE, prune, type PruneOptions } from '../retention.js';
import type { TableOptions } from '../tables.js';
import { optionalWholeNumber } from './args.js';
import { decide } from './confirm.js';
import { formatDuration, parseDuration } from './duration.js';
import { Progress } from './output.js';
import { flag, stringValue, type CommandSpec, type Values } from './command-line.js';

/** The flags of `proletarian prune`, as parsed. */
export interface PruneFlags {
  'older-than'?: string | undefined;
  status?: string | undefined;
  'batch-size'?: string | undefined;
  'max-batches'?: string | undefined;
  yes?: boolean | undefined;
  'dry-run'?: boolean | undefined;
}

/** What `proletarian prune` will do, checked before connecting, so a typo costs no connection. */
export interface PrunePlan {
  readonly options: PruneOptions & { olderThan: number };
  readonly yes: boolean;
  readonly dryRun: boolean;
}

export function planPrune(flags: PruneFlags, tables: TableOptions): PrunePlan {
  const olderThan = flags['older-than'];
  if (olderThan === undefined) throw new InvalidOptionError('--older-than is required, e.g. --older-than 30d');
  return {
    options: {
      ...tables,
      olderThan: parseDuration('--older-than', olderThan),
      status: pruneStatus(flags.status),
      batchSize: optionalWholeNumber('--batch-size', flags['batch-size']),
      maxBatches: optionalWholeNumber('--max-batches', flags['max-batches']),
    },
    yes: flags.yes ?? false,
    dryRun: flags['dry-run'] ?? false,
  };
}

/**
 * Says what would be deleted, then deletes it if `--yes` or the person at
 * the terminal says so; `--dry-run` stops after saying. Returns the exit code.
 */
export async function runPrune(client: pg.Client, plan: PrunePlan): Promise<number> {
  const { options } = plan;
  const { count, cutoff } = await countPrunable(client, options);
  const withStatus = options.status ? ` with status ${options.status}` : '';
  const which = `archived job${count === 1 ? '' : 's'}${withStatus}`;
  const before = `finished before ${cutoff.toISOString()} (${formatDuration(options.olderThan)} ago)`;
  if (count === 0) {
    process.stdout.write(`no archived jobs${withStatus} ${before}; nothing to delete\n`);
    return 0;
  }
  const limit = options.maxBatches === undefined ? null : options.maxBatches * (options.batchSize ?? DEFAULT_PRUNE_BATCH_SIZE);
  const bounded = limit !== null && limit < count ? ` (at most ${limit} of them, by --max-batches)` : '';
  const decision = await decide({ yes: plan.yes, dryRun: plan.dryRun }, `Delete ${count} ${which} ${before}${bounded}?`);
  switch (decision) {
    case 'dry-run':
      process.stdout.write(`would delete ${count} ${which} ${before}${bounded}; dry run, nothing deleted\n`);
      return 0;
    case 'needs-yes':
      process.stdout.write(`would delete ${count} ${which} ${before}${bounded}\n`);
      process.stderr.write(
        'proletarian prune: nothing deleted; pass --yes to delete them, or --dry-run to only count ' +
          '(without a terminal there is no one to ask)\n',
      );
      return 1;
    case 'declined':
      process.stderr.write('proletarian prune: nothing deleted\n');
      return 1;
    case 'proceed':
      if (plan.yes) process.stdout.write(`deleting ${count} ${which} ${before}${bounded}\n`);
      return deleteAnnounced(client, { ...options, olderThan: cutoff }, limit === null ? count : Math.min(count, limit));
  }
}

// The cutoff announced, not a new one: what finished meanwhile is not deleted unasked.
// One batch per call, so that a progress line can follow them.
async function deleteAnnounced(client: pg.Client, options: PruneOptions & { olderThan: Date }, expected: number): Promise<number> {
  // Ctrl-C or SIGTERM: finish the batch in progress, then report. A second one ends the process.
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const progress = new Progress();
  const maxBatches = options.maxBatches ?? Infinity;
  let deleted = 0;
  let batches = 0;
  let done = false;
  try {
    while (batches < maxBatches && !controller.signal.aborted) {
      const result = await prune(client, { ...options, maxBatches: 1 });
      deleted += result.deleted;
      batches += result.batches;
      if (result.deleted > 0) progress.update('deleted', deleted, Math.max(expected, deleted));
      if (result.done) {
        done = true;
        break;
      }
    }
    progress.end();
    const jobs = `${deleted} archived job${deleted === 1 ? '' : 's'}`;
    const inBatches = `${batches} batch${batches === 1 ? '' : 'es'}`;
    process.stdout.write(
      `deleted ${jobs} finished before ${options.olderThan.toISOString()} in ${inBatches}` +
        (done ? '\n' : `; older ones remain${controller.signal.aborted ? ' (interrupted)' : ''}\n`),
    );
    return 0;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

function pruneStatus(text: string | undefined): ArchiveStatus | undefined {
  if (text === undefined) return undefined;
  const status = ARCHIVE_STATUSES.find((known) => known === text);
  if (status) return status;
  throw new InvalidOptionError(`--status must be ${ARCHIVE_STATUSES.join(' or ')}; got ${JSON.stringify(text)}`);
}

export const PRUNE: CommandSpec = {
  name: 'prune',
  summary: 'Delete old archived jobs',
  synopsis: '--older-than <duration> [options]',
  description:
    'Delete archived jobs that finished longer than --older-than ago, the oldest first, in batches that each ' +
    'commit on their own, with a progress line. Says how many first, and deletes only with --yes or your answer ' +
    '(on a terminal; elsewhere without --yes it deletes nothing).',
  options: {
    'older-than': {
      type: 'string',
      value: '<duration>',
      help: 'Required. A whole number with a unit: 30d, 12h, 90m (minutes), 45s, 2w, 500ms. A bare number is refused.',
    },
    status: { type: 'string', value: '<status>', help: 'Only jobs archived as success, failure, cancelled or discarded (default: all)' },
    'batch-size': { type: 'string', value: '<n>', help: 'Jobs deleted per batch (default: 1000)' },
    'max-batches': { type: 'string', value: '<n>', help: 'Stop after n batches (default: until none is left)' },
    'dry-run': { type: 'boolean', help: 'Say how many jobs would be deleted, and delete nothing' },
    yes: { type: 'boolean', short: 'y', help: 'Delete without asking' },
  },
  connects: true,
};

/** The flags of `prune` from the parsed command line. */
export function pruneFlags(values: Values): PruneFlags {
  return {
    'older-than': stringValue(values, 'older-than'),
    status: stringValue(values, 'status'),
    'batch-size': stringValue(values, 'batch-size'),
    'max-batches': stringValue(values, 'max-batches'),
    yes: flag(values, 'yes'),
    'dry-run': flag(values, 'dry-run'),
  };
}
