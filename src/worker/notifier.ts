import pg from 'pg';
import { toError } from '../errors.js';
import { errorData, type EmitLog } from '../log.js';
import { MIN_PRIORITY } from '../priority.js';
import { parseJobsNotification } from '../sql/jobs.js';

// Reconnection backoff of the listening connection.
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

/** The channels of one installation: its jobs, its queues' paused state, and cancel requests. */
export interface NotifierChannels {
  jobs: string;
  queueState: string;
  cancel: string;
}

/** What a worker is told of its queue. */
export interface NotifierListener {
  /** Jobs of `priority` (or more urgent, as far as is known) became due. */
  onJobs(priority: number): void;
  /** The queue was paused or resumed — or a reconnect may have missed that. */
  onQueueState(): void;
  /** Someone asked to cancel job `jobId` while it ran. */
  onCancel(jobId: string): void;
  /** Listening began (or began again): cancel requests made before were not heard. */
  onCancelsUnheard(): void;
}

interface Subscription {
  queue: string;
  listener: NotifierListener;
  emit: EmitLog;
}

/**
 * The one LISTEN connection of a process for one installation, shared by
 * every worker on the same pool. It wakes the workers of a queue when jobs
 * are enqueued on it, tells them when it is paused or resumed, passes
 * cancel requests of running jobs on, reconnects by itself, and wakes
 * everyone after a reconnect, since notifications sent meanwhile are lost.
 * Polling remains the backstop, so a listener that is down only costs
 * latency; runs that were not heard for throughout look for cancel
 * requests in the database instead (see `listening`).
 */
export class Notifier {
  static #shared = new WeakMap<pg.Pool, Map<string, Notifier>>();

  /** The notifier of `pool` for an installation's channels, created on first use. */
  static for(pool: pg.Pool, channels: NotifierChannels): Notifier {
    let byChannel = Notifier.#shared.get(pool);
    if (!byChannel) Notifier.#shared.set(pool, (byChannel = new Map()));
    let notifier = byChannel.get(channels.jobs);
    if (!notifier) byChannel.set(channels.jobs, (notifier = new Notifier(pool, channels)));
    return notifier;
  }

  readonly #pool: pg.Pool;
  readonly #channels: NotifierChannels;
  #subscriptions = new Set<Subscription>();
  #client: pg.Client | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #failures = 0;
  // Changes whenever a connection starts or stops listening.
  #epoch = 0;
  #listening = false;

  private constructor(pool: pg.Pool, channels: NotifierChannels) {
    this.#pool = pool;
    this.#channels = channels;
  }

  /** The current listening connection's number, or null while none listens; see `WorkerRuntime.listening`. */
  get listening(): number | null {
    return this.#listening ? this.#epoch : null;
  }

  /** Tells `listener` what happens to `queue`; returns the unsubscribe function. */
  subscribe(queue: string, listener: NotifierListener, emit: EmitLog): () => void {
    const subscription: Subscription = { queue, listener, emit };
    this.#subscriptions.add(subscription);
    if (this.#subscriptions.size === 1) void this.#connect();
    return () => {
      this.#subscriptions.delete(subscription);
      if (this.#subscriptions.size === 0) this.#close();
    };
  }

  async #connect(): Promise<void> {
    this.#retryTimer = null;
    if (this.#subscriptions.size === 0) return;
    // A client of its own, outside the pool: it is held for as long as
    // workers run and must not take a slot their jobs need.
    const ClientClass = (this.#pool.options as { Client?: typeof pg.Client }).Client ?? pg.Client;
    const client = new ClientClass(this.#pool.options);
    this.#client = client;
    client.on('notification', (message) => this.#dispatch(message.channel, message.payload ?? ''));
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('the listening connection ended')));
    try {
      await client.connect();
      // The jobs channel first: pg_stat_activity shows a session's first
      // statement of this query, so the listener is found by it.
      const { jobs, queueState, cancel } = this.#channels;
      await client.query(`LISTEN ${jobs}; LISTEN ${queueState}; LISTEN ${cancel}`);
    } catch (error) {
      this.#lost(client, toError(error));
      return;
    }
    if (this.#client !== client) return; // closed while connecting
    this.#epoch++;
    this.#listening = true;
    if (this.#failures > 0) this.#broadcast('listener-reconnected', { afterFailures: this.#failures });
    this.#failures = 0;
    // Jobs enqueued (of any priority) and queues paused while nobody
    // listened sent notifications into the void.
    for (const { listener } of this.#subscriptions) {
      listener.onQueueState();
      listener.onJobs(MIN_PRIORITY);
      listener.onCancelsUnheard();
    }
  }

  #dispatch(channel: string, payload: string): void {
    if (channel === this.#channels.cancel) {
      for (const { listener } of this.#subscriptions) listener.onCancel(payload);
    } else if (channel === this.#channels.queueState) {
      for (const { queue, listener } of this.#subscriptions) if (queue === payload) listener.onQueueState();
    } else {
      const jobs = parseJobsNotification(payload);
      for (const { queue, listener } of this.#subscriptions) if (queue === jobs.queue) listener.onJobs(jobs.priority);
    }
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#client !== client) return; // an old connection's last words
    this.#client = null;
    this.#stopListening();
    client.removeAllListeners('end');
    client.on('error', () => {});
    void client.end().catch(() => {});
    if (this.#subscriptions.size === 0) return;
    this.#failures++;
    const delay = Math.min(FIRST_RETRY_MS * 2 ** (this.#failures - 1), MAX_RETRY_MS);
    this.#broadcast('listener-error', { retryInMs: delay, consecutiveErrors: this.#failures, ...errorData(error) });
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
    this.#retryTimer.unref();
  }

  #close(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#failures = 0;
    const client = this.#client;
    this.#client = null;
    this.#stopListening();
    if (client) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      void client.end().catch(() => {});
    }
  }

  #stopListening(): void {
    if (this.#listening) this.#epoch++;
    this.#listening = false;
  }

  #broadcast(event: 'listener-error' | 'listener-reconnected', data: Record<string, unknown>): void {
    for (const subscription of this.#subscriptions) subscription.emit(event, data);
  }
}
