import type pg from 'pg';
import type { EmitLog } from '../log.js';
import { readQueuePaused } from '../sql/queue-states.js';
import type { Tables } from '../tables.js';

/**
 * Whether a worker's queue is paused, as last read from the database. The
 * loops look at it before every claim; until it has been read since the
 * worker started, they read it first, so a paused queue stays paused across
 * restarts. It is read again every second (a periodic service) and at once
 * when pause or resume notifies.
 */
export class QueuePause {
  readonly #pool: pg.Pool;
  readonly #tables: Tables;
  readonly #queue: string;
  readonly #emit: EmitLog;
  readonly #onResume: () => void;
  #state: 'unknown' | 'paused' | 'running' = 'unknown';
  #reading: Promise<void> | null = null;
  #readAgain = false;

  constructor(pool: pg.Pool, tables: Tables, queue: string, emit: EmitLog, onResume: () => void) {
    this.#pool = pool;
    this.#tables = tables;
    this.#queue = queue;
    this.#emit = emit;
    this.#onResume = onResume;
  }

  /** False until the state has been read since the last {@link forget}. */
  get known(): boolean {
    return this.#state !== 'unknown';
  }

  /** True when the queue was paused at the last read. */
  get paused(): boolean {
    return this.#state === 'paused';
  }

  /** At start: what was read before may be stale, and notifications were missed meanwhile. */
  forget(): void {
    this.#state = 'unknown';
  }

  /** Reads the state, or joins the read in progress: for a loop that only needs to know it. */
  read(): Promise<void> {
    if (this.#reading) return this.#reading;
    const reading = (async () => {
      try {
        do {
          this.#readAgain = false;
          this.#set(await readQueuePaused(this.#pool, this.#tables, this.#queue));
        } while (this.#readAgain);
      } finally {
        this.#reading = null;
      }
    })();
    this.#reading = reading;
    return reading;
  }

  /**
   * Reads the state because it changed: a read in progress may have begun
   * before the change committed, so it reads once more when it ends.
   */
  refresh(): Promise<void> {
    if (this.#reading) this.#readAgain = true;
    return this.read();
  }

  #set(paused: boolean): void {
    const before = this.#state;
    this.#state = paused ? 'paused' : 'running';
    if (paused && before !== 'paused') this.#emit('queue-paused');
    if (!paused && before === 'paused') {
      this.#emit('queue-resumed');
      this.#onResume();
    }
  }
}
