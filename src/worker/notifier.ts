import pg from 'pg';
import { toError } from '../errors.js';
import { errorData, type EmitLog } from '../log.js';

// Reconnection backoff of the listening connection.
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

interface Subscription {
  queue: string;
  onJobs: () => void;
  /** Called with the id of a job someone asked to cancel while it ran. */
  onCancel: (jobId: string) => void;
  emit: EmitLog;
}

/**
 * The one LISTEN connection of a process for one installation, shared by
 * every worker on the same pool. It wakes the workers of a queue when jobs
 * are enqueued on it, passes cancel requests of running jobs on, reconnects
 * by itself, and wakes everyone after a reconnect, since notifications sent
 * meanwhile are lost. Polling remains the backstop, so a listener that is
 * down only costs latency; runs that were not heard for throughout look for
 * cancel requests in the database instead (see `listening`).
 */
export class Notifier {
  static #shared = new WeakMap<pg.Pool, Map<string, Notifier>>();

  /** The notifier of `pool` for an installation's channels, created on first use. */
  static for(pool: pg.Pool, channel: string, cancelChannel: string): Notifier {
    let byChannel = Notifier.#shared.get(pool);
    if (!byChannel) Notifier.#shared.set(pool, (byChannel = new Map()));
    let notifier = byChannel.get(channel);
    if (!notifier) byChannel.set(channel, (notifier = new Notifier(pool, channel, cancelChannel)));
    return notifier;
  }

  readonly #pool: pg.Pool;
  readonly #channel: string;
  readonly #cancelChannel: string;
  #subscriptions = new Set<Subscription>();
  #client: pg.Client | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #failures = 0;
  // Changes whenever a connection starts or stops listening.
  #epoch = 0;
  #listening = false;

  private constructor(pool: pg.Pool, channel: string, cancelChannel: string) {
    this.#pool = pool;
    this.#channel = channel;
    this.#cancelChannel = cancelChannel;
  }

  /** The current listening connection's number, or null while none listens; see `WorkerRuntime.listening`. */
  get listening(): number | null {
    return this.#listening ? this.#epoch : null;
  }

  /**
   * Calls `onJobs` whenever jobs become due on `queue`, and `onCancel` with
   * each job someone asked to cancel while it ran; returns the unsubscribe
   * function.
   */
  subscribe(queue: string, onJobs: () => void, onCancel: (jobId: string) => void, emit: EmitLog): () => void {
    const subscription: Subscription = { queue, onJobs, onCancel, emit };
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
    client.on('notification', (message) => {
      if (message.channel === this.#cancelChannel) {
        for (const subscription of this.#subscriptions) subscription.onCancel(message.payload ?? '');
        return;
      }
      for (const subscription of this.#subscriptions) {
        if (subscription.queue === message.payload) subscription.onJobs();
      }
    });
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('the listening connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.#channel}; LISTEN ${this.#cancelChannel}`);
    } catch (error) {
      this.#lost(client, toError(error));
      return;
    }
    if (this.#client !== client) return; // closed while connecting
    this.#epoch++;
    this.#listening = true;
    if (this.#failures > 0) this.#broadcast('listener-reconnected', { afterFailures: this.#failures });
    this.#failures = 0;
    // Jobs enqueued while nobody listened sent notifications into the void.
    for (const subscription of this.#subscriptions) subscription.onJobs();
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
