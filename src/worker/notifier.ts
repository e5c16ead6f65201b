import pg from 'pg';
import { toError } from '../errors.js';
import { errorData, type EmitLog } from '../log.js';
import { MIN_PRIORITY } from '../priority.js';
import { parseJobsNotification } from '../sql/jobs.js';
import { queueStateChannelOf } from '../sql/queue-states.js';

// Reconnection backoff of the listening connection.
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

/** Called when jobs of `priority` (or more urgent, as far as is known) became due. */
type OnJobs = (priority: number) => void;

interface Subscription {
  queue: string;
  onJobs: OnJobs;
  emit: EmitLog;
  /** Called when the queue is paused or resumed, and after a reconnect. */
  onQueueState: () => void;
}

/**
 * The one LISTEN connection of a process for one installation, shared by
 * every worker on the same pool. It wakes the workers of a queue when jobs
 * are enqueued on it, tells them when it is paused or resumed (on a second
 * channel), reconnects by itself, and wakes everyone after a reconnect,
 * since notifications sent meanwhile are lost. Polling remains the
 * backstop, so a listener that is down only costs latency.
 */
export class Notifier {
  static #shared = new WeakMap<pg.Pool, Map<string, Notifier>>();

  /** The notifier of `pool` for `channel`, created on first use. */
  static for(pool: pg.Pool, channel: string): Notifier {
    let byChannel = Notifier.#shared.get(pool);
    if (!byChannel) Notifier.#shared.set(pool, (byChannel = new Map()));
    let notifier = byChannel.get(channel);
    if (!notifier) byChannel.set(channel, (notifier = new Notifier(pool, channel)));
    return notifier;
  }

  readonly #pool: pg.Pool;
  readonly #channel: string;
  readonly #stateChannel: string;
  #subscriptions = new Set<Subscription>();
  #client: pg.Client | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #failures = 0;

  private constructor(pool: pg.Pool, channel: string) {
    this.#pool = pool;
    this.#channel = channel;
    this.#stateChannel = queueStateChannelOf(channel);
  }

  /**
   * Calls `onJobs` with their most urgent priority whenever jobs become due
   * on `queue`, and `onQueueState` when it is paused or resumed; returns the
   * unsubscribe function.
   */
  subscribe(queue: string, onJobs: OnJobs, emit: EmitLog, onQueueState: () => void = () => {}): () => void {
    const subscription: Subscription = { queue, onJobs, emit, onQueueState };
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
      if (message.payload === undefined) return;
      if (message.channel === this.#stateChannel) {
        for (const subscription of this.#subscriptions) {
          if (subscription.queue === message.payload) subscription.onQueueState();
        }
        return;
      }
      const { queue, priority } = parseJobsNotification(message.payload);
      for (const subscription of this.#subscriptions) {
        if (subscription.queue === queue) subscription.onJobs(priority);
      }
    });
    client.on('error', (error) => this.#lost(client, error));
    client.on('end', () => this.#lost(client, new Error('the listening connection ended')));
    try {
      await client.connect();
      // New jobs' channel last: pg_stat_activity shows a session's last query, so the listener reads as before.
      await client.query(`LISTEN ${this.#stateChannel}`);
      await client.query(`LISTEN ${this.#channel}`);
    } catch (error) {
      this.#lost(client, toError(error));
      return;
    }
    if (this.#client !== client) return; // closed while connecting
    if (this.#failures > 0) this.#broadcast('listener-reconnected', { afterFailures: this.#failures });
    this.#failures = 0;
    // Jobs enqueued (of any priority) and queues paused while nobody listened
    // sent notifications into the void.
    for (const subscription of this.#subscriptions) {
      subscription.onQueueState();
      subscription.onJobs(MIN_PRIORITY);
    }
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#client !== client) return; // an old connection's last words
    this.#client = null;
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
    if (client) {
      client.removeAllListeners('end');
      client.on('error', () => {});
      void client.end().catch(() => {});
    }
  }

  #broadcast(event: 'listener-error' | 'listener-reconnected', data: Record<string, unknown>): void {
    for (const subscription of this.#subscriptions) subscription.emit(event, data);
  }
}
