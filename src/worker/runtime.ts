import type pg from 'pg';
import type { EmitLog } from '../log.js';
import type { ClaimStart } from './claim-start.js';
import type { JobCancels } from './job-cancels.js';
import type { LostTransactions } from './lost-transactions.js';
import type { ResolvedWorkerOptions } from './options.js';
import type { QueuePause } from './queue-pause.js';
import type { WorkerTelemetry } from '../telemetry/worker.js';

/** A worker's batch claims of transaction-mode jobs. */
export interface BatchClaims {
  readonly claim: pg.QueryArrayConfig;
  /** The types the claim takes (or, with a fallback handler, leaves to leases); null: no filter. */
  readonly jobTypes: readonly string[] | null;
  readonly start: ClaimStart;
}

/** A worker's lease claims of lease-mode jobs. */
export interface LeaseClaims {
  readonly claim: pg.QueryConfig;
  readonly jobTypes: readonly string[];
  /** The longest lease among those types, so that one claim fits them all. */
  readonly leaseMs: number;
  readonly start: ClaimStart;
}

/** What every loop of one running worker shares. */
export interface WorkerRuntime {
  readonly pool: pg.Pool;
  readonly options: ResolvedWorkerOptions;
  /** How transaction-mode jobs are claimed, in batches; null when the worker has none. */
  readonly batches: BatchClaims | null;
  /** How lease-mode jobs are claimed, one at a time; null when the worker has none. */
  readonly leases: LeaseClaims | null;
  /** Transactions lost with their connections, to report before claiming again. */
  readonly lostTransactions: LostTransactions;
  /** Who holds this worker's leases, unique per start. */
  readonly leaseHolder: string;
  readonly emit: EmitLog;
  /** Aborted when `stop()` begins; handed to handlers as `ctx.signal`. */
  readonly shutdown: AbortSignal;
  /** Lets `stop()` give up on handlers that outlive its timeout. */
  readonly inFlight: InFlightJobs;
  /** Whether the queue is paused: the loops claim nothing while it is. */
  readonly pause: QueuePause;
  /** Spans and metrics; null when `@opentelemetry/api` is not installed. */
  readonly telemetry: WorkerTelemetry | null;
  /** Cancel requests the worker heard of, and the jobs its loops hold. */
  readonly cancels: JobCancels;
  /**
   * Which connection of the process is listening for cancel requests right
   * now (a number that changes when it is lost or replaced), or null when
   * none is. A run that saw the same number at its start and its end heard
   * every request announced meanwhile.
   */
  readonly listening: () => number | null;
  /** What the heartbeat reports: the jobs running now, and how many have finished. */
  readonly activity: WorkerActivity;
}

/** The jobs a worker's handlers run right now, and how many it has finished since it started. */
export class WorkerActivity {
  /** The heartbeat row's key: unique per start, so a restarted worker is a new row. */
  instanceId = '';
  jobsDone = 0;
  /** Per loop, the job whose handler it runs now: one store per job, read only by the heartbeat. */
  readonly #current: (string | null)[] = [];

  restart(instanceId: string): void {
    this.instanceId = instanceId;
    this.#current.length = 0;
    this.jobsDone = 0;
  }

  /** Loop `slot` runs the handler of `jobId` now; null when it runs none. */
  running(slot: number, jobId: string | null): void {
    this.#current[slot] = jobId;
  }

  /** The jobs whose handlers run now. */
  runningJobs(): string[] {
    return this.#current.filter((jobId): jobId is string => typeof jobId === 'string');
  }
}

/**
 * The handlers running right now, so that `stop()` can give up on them once
 * its timeout runs out. Each batch (and each leased job) gets a promise of
 * its own, dropped when it ends: a race against one long-lived promise would
 * pile up a reaction per job until shutdown.
 */
/** One batch's or leased job's part of {@link InFlightJobs}. */
export interface InFlightWatch {
  abandoned: Promise<number>;
  done: () => void;
}

export class InFlightJobs {
  #abandonedAfter: number | null = null;
  #running = new Set<(waitedMs: number) => void>();

  /** Resolves with the timeout if `stop()` gives up on the jobs watched; call `done` when they end. */
  watch(): InFlightWatch {
    let abandon!: (waitedMs: number) => void;
    const abandoned = new Promise<number>((resolve) => (abandon = resolve));
    if (this.#abandonedAfter !== null) abandon(this.#abandonedAfter);
    else this.#running.add(abandon);
    return { abandoned, done: () => this.#running.delete(abandon) };
  }

  abandonAll(waitedMs: number): void {
    this.#abandonedAfter = waitedMs;
    for (const abandon of this.#running) abandon(waitedMs);
    this.#running.clear();
  }
}
