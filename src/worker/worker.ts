import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { InvalidOptionError, ProletarianError, toError } from '../errors.js';
import { createEmitter, errorData, type EmitLog } from '../log.js';
import { LATEST_SCHEMA_VERSION } from '../migrations/index.js';
import { batchClaimStatement, leaseClaimStatement } from '../sql/claim.js';
import { cancelChannelFor, requestedCancels } from '../sql/job-control.js';
import { queueStateChannelFor } from '../sql/queue-states.js';
import { notifyChannelFor } from '../sql/jobs.js';
import { describe, milliseconds, rejectUnknownKeys, requireObject } from '../validate.js';
import { ClaimStart } from './claim-start.js';
import { IdleWaiters } from './idle.js';
import { JobCancels } from './job-cancels.js';
import { LostTransactions } from './lost-transactions.js';
import { runLoop } from './loop.js';
import { Notifier } from './notifier.js';
import { QueuePause } from './queue-pause.js';
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from './options.js';
import { checkWorkerReady } from './readiness.js';
import { InFlightJobs, WorkerActivity, type WorkerRuntime } from './runtime.js';
import { removeHeartbeat } from './services/heartbeat.js';
import { periodicServices } from './services/index.js';
import { workerTelemetry } from '../telemetry/worker.js';
import type { PeriodicService } from './services/periodic-service.js';

/** Options of {@link Worker.stop}. */
export interface StopOptions {
  /** Overrides the worker's `shutdownTimeout` for this call, in ms. */
  timeout?: number;
}

/** Where a worker is in its life. */
export type WorkerState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

/** A queue worker; see {@link createWorker}. */
export interface Worker {
  /** The `workerId` option, or a random one. */
  readonly id: string;
  readonly queue: string;
  readonly state: WorkerState;
  /**
   * Checks the database and starts the loops. Rejects with
   * {@link SchemaNotReadyError} when `migrate` has not run (or is behind),
   * and with {@link DatabaseSetupError} for a login the server refuses, a
   * missing database or missing privileges: errors that retrying cannot
   * fix. When the server cannot be reached (down, restarting, out of
   * connections), it resolves and the loops keep trying. Calling it while
   * running does nothing; after `stop()` it starts the worker again.
   */
  start(): Promise<void>;
  /**
   * Stops claiming, aborts `ctx.signal` of running jobs, waits for them up to
   * the timeout, then rolls back those still running (they stay queued, no
   * attempt counted) and resolves. Calling it again returns the same promise.
   */
  stop(options?: StopOptions): Promise<void>;
}

const STOP_OPTIONS = new Set(['timeout']);

// Time given to loops to unwind after their jobs were abandoned.
const ABANDON_GRACE_MS = 2_000;

/**
 * Creates a worker that serves one queue with `concurrency` parallel loops.
 * Each job runs in its own transaction on a connection from `pool`; see
 * {@link WorkerOptions} for every setting. Nothing happens until `start()`.
 */
export function createWorker(pool: pg.Pool, options: WorkerOptions): Worker {
  requirePool(pool);
  const resolved = resolveWorkerOptions(options);
  return new QueueWorker(pool, resolved);
}

/**
 * Refuses anything but a pg.Pool, also from JavaScript: a worker takes a
 * connection per loop and one to listen, which a single client cannot give,
 * and a client would otherwise fail much later, far from the mistake.
 */
function requirePool(pool: unknown): asserts pool is pg.Pool {
  const candidate = pool as Partial<Record<'connect' | 'query' | 'on' | 'release' | 'totalCount', unknown>> | null;
  if (
    candidate !== null &&
    typeof candidate === 'object' &&
    typeof candidate.connect === 'function' &&
    typeof candidate.query === 'function' &&
    typeof candidate.on === 'function' &&
    typeof candidate.totalCount === 'number'
  ) {
    return;
  }
  const got =
    candidate === null || typeof candidate !== 'object'
      ? describe(pool)
      : typeof candidate.release === 'function'
        ? 'a pg.PoolClient'
        : typeof candidate.connect === 'function' && typeof candidate.query === 'function'
          ? 'a pg.Client'
          : 'an object that is not a pg.Pool';
  throw new InvalidOptionError(
    `createWorker needs a pg.Pool as its first argument (it takes a connection per loop); got ${got}. ` +
      'Pass `new pg.Pool({ connectionString })`',
  );
}

class QueueWorker implements Worker {
  readonly id: string;
  readonly queue: string;
  #state: WorkerState = 'idle';
  #pool: pg.Pool;
  #options: ResolvedWorkerOptions;
  #emit: EmitLog;
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #shutdown = new AbortController();
  #inFlight = new InFlightJobs();
  #cancels = new JobCancels(0);
  #idle = new IdleWaiters();
  #loops: Promise<void>[] = [];
  #lostTransactions = new LostTransactions();
  #removeListeners: () => void = () => {};
  #services: readonly PeriodicService[];
  #pause: QueuePause;
  #activity = new WorkerActivity();

  constructor(pool: pg.Pool, options: ResolvedWorkerOptions) {
    this.#pool = pool;
    this.#options = options;
    this.id = options.workerId;
    this.queue = options.queue;
    this.#emit = createEmitter(options.log, { workerId: options.workerId, queue: options.queue });
    this.#pause = new QueuePause(pool, options.tables, options.queue, this.#emit, () => this.#idle.wakeAll());
    this.#services = periodicServices(pool, options, this.#emit, this.#pause, this.#activity);
  }

  get state(): WorkerState {
    return this.#state;
  }

  start(): Promise<void> {
    if (this.#state === 'starting' || this.#state === 'running') return this.#starting ?? Promise.resolve();
    if (this.#state === 'stopping') {
      // Start again once the stop in progress has finished.
      return (this.#stopping ?? Promise.resolve()).then(() => this.start());
    }
    this.#state = 'starting';
    this.#stopping = null;
    this.#starting = this.#start().catch((error: unknown) => {
      this.#state = 'idle';
      this.#starting = null;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    const options = this.#options;
    try {
      const version = await checkWorkerReady(this.#pool, options);
      if (version > LATEST_SCHEMA_VERSION) {
        this.#emit('schema-newer-than-library', { schemaVersion: version, libraryVersion: LATEST_SCHEMA_VERSION });
      }
    } catch (error) {
      // A wrong setup never fixes itself: say so now rather than retry forever.
      if (error instanceof ProletarianError) throw error;
      // The database may simply not be up yet: the loops keep trying.
      this.#emit('polling-error', { during: 'start', ...errorData(toError(error)) });
    }
    this.#shutdown = new AbortController();
    this.#inFlight = new InFlightJobs();
    const telemetry = await workerTelemetry(options.queue, options.workerId);
    this.#cancels = new JobCancels(options.concurrency);
    const notifier = options.listen ? this.#notifier() : null;
    const leaseHolder = `${options.workerId}:${randomUUID()}`;
    this.#activity.restart(leaseHolder);
    const runtime: WorkerRuntime = {
      pool: this.#pool,
      options,
      // With OpenTelemetry, claims read the trace context stored with each job.
      ...claimsOf(options, telemetry !== null),
      lostTransactions: this.#lostTransactions,
      leaseHolder,
      emit: this.#emit,
      shutdown: this.#shutdown.signal,
      inFlight: this.#inFlight,
      pause: this.#pause,
      telemetry,
      cancels: this.#cancels,
      listening: notifier ? () => notifier.listening : () => null,
      activity: this.#activity,
    };
    // Paused or resumed while this worker was stopped: the loops read it again before claiming.
    this.#pause.forget();
    // stop() was called while the schema was being checked: spawn nothing.
    if (this.#state !== 'starting') return;
    const removeListeners = this.#addListeners(runtime);
    const unobserve = telemetry?.observeQueue(this.#pool, options.tables);
    this.#removeListeners = () => {
      removeListeners();
      unobserve?.();
    };
    this.#state = 'running';
    this.#emit('worker-started', {
      concurrency: options.concurrency,
      batchSize: options.batchSize,
      listen: options.listen,
      pollIntervalMs: options.pollInterval,
      jobTypes: options.fallback ? 'all' : [...options.handlers.keys()],
    });
    this.#loops = Array.from({ length: options.concurrency }, (_, slot) => runLoop(runtime, this.#idle, slot));
    for (const service of this.#services) service.start();
  }

  stop(stopOptions: StopOptions = {}): Promise<void> {
    if (this.#stopping) return this.#stopping;
    if (this.#state === 'idle' || this.#state === 'stopped') return Promise.resolve();
    let timeout: number;
    try {
      requireObject(stopOptions, 'stop: options must be an object { timeout? }');
      rejectUnknownKeys(stopOptions, STOP_OPTIONS, 'stop: unknown option');
      timeout = milliseconds('stop: timeout', stopOptions.timeout ?? this.#options.shutdownTimeout, { min: 0 });
    } catch (error) {
      return Promise.reject(error);
    }
    this.#state = 'stopping';
    this.#stopping = this.#stop(timeout);
    return this.#stopping;
  }

  async #stop(timeout: number): Promise<void> {
    // A stop() during start() lets start() finish first; it then spawns no loops.
    await this.#starting?.catch(() => {});
    this.#emit('worker-stopping', { timeoutMs: timeout });
    this.#shutdown.abort();
    this.#idle.wakeAll();
    const servicesStopped = Promise.all(this.#services.map((service) => service.stop()));
    const loopsDone = Promise.all(this.#loops);
    let finished = await settlesWithin(loopsDone, timeout);
    if (!finished) {
      this.#inFlight.abandonAll(timeout);
      finished = await settlesWithin(loopsDone, ABANDON_GRACE_MS);
    }
    await settlesWithin(servicesStopped, ABANDON_GRACE_MS);
    await settlesWithin(removeHeartbeat(this.#pool, this.#options, this.#activity), ABANDON_GRACE_MS);
    // Lost transactions not yet reported would count against their jobs as crashes.
    if (this.#lostTransactions.pending) {
      const reported = this.#lostTransactions.report(this.#pool, this.#options.tables).catch(() => {});
      await settlesWithin(reported, ABANDON_GRACE_MS);
    }
    this.#removeListeners();
    this.#loops = [];
    this.#starting = null;
    this.#state = 'stopped';
    this.#emit('worker-stopped', finished ? {} : { note: 'some loops were still waiting for a connection' });
  }

  /**
   * Cancel requests made for the jobs running now while nobody listened —
   * before the listening connection was up, or while it was lost — read
   * once it listens, so that their handlers' signals abort all the same.
   */
  async #announceUnheardCancels(): Promise<void> {
    const running = this.#activity.runningJobs();
    if (running.length === 0) return;
    try {
      for (const jobId of await requestedCancels(this.#pool, this.#options.tables, running)) this.#cancels.announce(jobId);
    } catch (error) {
      this.#emit('cancel-lookup-error', errorData(toError(error)));
    }
  }

  #notifier(): Notifier {
    const t = this.#options.tables;
    const jobs = notifyChannelFor(t);
    return Notifier.for(this.#pool, { jobs, queueState: queueStateChannelFor(t), cancel: cancelChannelFor(t) });
  }

  #addListeners(runtime: WorkerRuntime): () => void {
    // An idle pooled connection that dies emits 'error' on the pool; with no
    // listener that crashes the process. The pool drops the connection itself.
    const onPoolError = (error: Error) => this.#emit('connection-error', { idle: true, ...errorData(error) });
    this.#pool.on('error', onPoolError);
    const signals: NodeJS.Signals[] = this.#options.handleSignals ? ['SIGTERM', 'SIGINT'] : [];
    const onSignal = (signal: NodeJS.Signals) => {
      void this.stop().finally(() => {
        // Our listener kept the signal from ending the process; now that the
        // jobs are safe, let it take its usual course.
        process.off(signal, onSignal);
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      });
    };
    for (const signal of signals) process.on(signal, onSignal);
    const cancels = this.#cancels;
    const unsubscribe = this.#options.listen
      ? this.#notifier().subscribe(
          this.queue,
          {
            onJobs: (priority) => {
              // A job more urgent than where claims start would wait for the next sweep.
              runtime.batches?.start.notified(priority);
              runtime.leases?.start.notified(priority);
              this.#idle.wakeOne();
            },
            onQueueState: () =>
              void this.#pause.refresh().catch((error: unknown) => this.#emit('queue-state-error', errorData(toError(error)))),
            onCancel: (jobId) => cancels.announce(jobId),
            onCancelsUnheard: () => void this.#announceUnheardCancels(),
          },
          this.#emit,
        )
      : () => {};
    return () => {
      unsubscribe();
      this.#pool.off('error', onPoolError);
      for (const signal of signals) process.off(signal, onSignal);
    };
  }
}

/**
 * What the loops claim: transaction-mode types in batches, lease-mode types
 * one at a time. A fallback handler runs in a transaction and takes every
 * type that is not leased.
 */
function claimsOf(options: ResolvedWorkerOptions, traced: boolean): Pick<WorkerRuntime, 'batches' | 'leases'> {
  const leaseTypes: string[] = [];
  const transactionTypes: string[] = [];
  let leaseMs = 0;
  for (const [jobType, entry] of options.handlers) {
    if (entry.mode === 'lease') {
      leaseTypes.push(jobType);
      leaseMs = Math.max(leaseMs, entry.leaseDuration);
    } else transactionTypes.push(jobType);
  }
  const t = options.tables;
  const leases =
    leaseTypes.length > 0
      ? { claim: leaseClaimStatement(t), jobTypes: leaseTypes, leaseMs, start: new ClaimStart() }
      : null;
  const batches = (claim: pg.QueryArrayConfig, jobTypes: readonly string[] | null) => ({
    claim,
    jobTypes,
    start: new ClaimStart(),
  });
  if (options.fallback) {
    return {
      batches:
        leaseTypes.length > 0
          ? batches(batchClaimStatement(t, 'except', traced), leaseTypes)
          : batches(batchClaimStatement(t, 'all', traced), null),
      leases,
    };
  }
  return {
    batches: transactionTypes.length > 0 ? batches(batchClaimStatement(t, 'only', traced), transactionTypes) : null,
    leases,
  };
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

