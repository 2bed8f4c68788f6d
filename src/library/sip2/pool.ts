import type { Clock } from '../../clock.js';
import { Sip2Connection, type Sip2ConnectionOptions } from './connection.js';
import { Sip2ConnectionLost, Sip2Error } from './errors.js';

export interface Sip2PoolOptions extends Sip2ConnectionOptions {
  readonly poolSize: number;
  /** After a failed connect, the next attempt waits initialMs, doubling per failure up to maxMs. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

interface Waiter {
  readonly resolve: (connection: Sip2Connection) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Up to `poolSize` logged-in connections, made when needed. A dead connection is dropped and a new
 * one made on the next demand; while the system keeps failing, attempts are spaced out (backoff on
 * the injected clock) and fail at once in between with the last reason, so callers retry later
 * instead of hammering a system that is down.
 */
export class Sip2Pool {
  readonly #options: Sip2PoolOptions;
  readonly #clock: Clock;
  readonly #all = new Set<Sip2Connection>();
  #idle: Sip2Connection[] = [];
  #opening = 0;
  readonly #waiters: Waiter[] = [];
  #closed = false;
  /** Aborts connections still being made when the pool closes. */
  readonly #closing = new AbortController();
  #failures = 0;
  #retryAt = 0;
  #lastError: Sip2Error | null = null;

  constructor(options: Sip2PoolOptions, clock: Clock) {
    this.#options = options;
    this.#clock = clock;
  }

  /** Runs `work` on a connection of its own; the connection returns to the pool unless it died. */
  async use<T>(work: (connection: Sip2Connection) => Promise<T>): Promise<T> {
    const connection = await this.#acquire();
    try {
      return await work(connection);
    } finally {
      this.#release(connection);
    }
  }

  /** Closes every connection at once, in use or idle; requests in flight fail with Sip2ConnectionLost. */
  close(): void {
    this.#closed = true;
    this.#closing.abort();
    const error = new Sip2ConnectionLost('SIP2 pool closed');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    for (const connection of this.#all) connection.close();
    this.#all.clear();
    this.#idle = [];
  }

  #acquire(): Promise<Sip2Connection> {
    if (this.#closed) return Promise.reject(new Sip2ConnectionLost('SIP2 pool closed'));
    this.#idle = this.#idle.filter((connection) => connection.alive || !this.#all.delete(connection));
    const idle = this.#idle.pop();
    if (idle) return Promise.resolve(idle);
    if (this.#all.size + this.#opening < this.#options.poolSize) return this.#open();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async #open(): Promise<Sip2Connection> {
    const now = this.#clock.now().getTime();
    if (this.#lastError && now < this.#retryAt) {
      const error = this.#lastError;
      const Kind = error.constructor as new (message: string) => Sip2Error;
      throw new Kind(`${error.message} (next attempt in ${Math.ceil((this.#retryAt - now) / 1000)} s)`);
    }
    this.#opening += 1;
    try {
      const connection = await Sip2Connection.open(this.#options, this.#closing.signal);
      this.#failures = 0;
      this.#lastError = null;
      if (this.#closed) {
        connection.close();
        throw new Sip2ConnectionLost('SIP2 pool closed');
      }
      this.#all.add(connection);
      return connection;
    } catch (error) {
      if (error instanceof Sip2Error && !this.#closed) {
        const { initialMs, maxMs } = this.#options.backoff ?? { initialMs: 1000, maxMs: 60_000 };
        this.#failures += 1;
        this.#retryAt = this.#clock.now().getTime() + Math.min(maxMs, initialMs * 2 ** (this.#failures - 1));
        this.#lastError = error;
      }
      throw error;
    } finally {
      this.#opening -= 1;
      // A slot freed by a failed open may let a waiter try its own.
      if (this.#waiters.length > 0 && this.#all.size + this.#opening < this.#options.poolSize) this.#wakeOne();
    }
  }

  #release(connection: Sip2Connection): void {
    if (this.#closed || !connection.alive) {
      this.#all.delete(connection);
      connection.close();
      if (!this.#closed) this.#wakeOne();
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(connection);
    else this.#idle.push(connection);
  }

  #wakeOne(): void {
    const waiter = this.#waiters.shift();
    if (waiter) this.#acquire().then(waiter.resolve, waiter.reject);
  }
}
