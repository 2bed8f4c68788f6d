import type { Clock } from '../../clock.js';
import { Sip2Connection, type Sip2ConnectionOptions } from './connection.js';
import { Sip2ConnectionLost, Sip2Error, Sip2Timeout } from './errors.js';
import { describeSip2 } from './url.js';

export interface Sip2PoolOptions extends Sip2ConnectionOptions {
  readonly poolSize: number;
  /** After a failed connect, the next attempt waits initialMs, doubling per failure up to maxMs. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

/** The reconnect backoff unless tuned: capped at 5 s, so a system back after a short outage is used within seconds. */
export const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 5000 } as const;

/** A caller waiting for a connection; settled once, by a connection, a failure or its own time limit. */
interface Waiter {
  readonly resolve: (connection: Sip2Connection) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Up to `poolSize` logged-in connections, made when needed. A dead connection is dropped and a new
 * one made on the next demand; while the system keeps failing, attempts are spaced out (backoff on
 * the injected clock) and fail at once in between with the last reason, so callers retry later
 * instead of hammering a system that is down. A caller waits for a connection at most the
 * connection time-out, and never past its deadline: a renew-all's give-up time (SPEC §4).
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

  /**
   * Runs `work` on a connection of its own; the connection returns to the pool unless it died.
   * Without a connection by `deadline` (or within the time-out) it fails with Sip2Timeout.
   */
  async use<T>(work: (connection: Sip2Connection) => Promise<T>, options: { readonly deadline?: Date } = {}): Promise<T> {
    const connection = await this.#acquire(options.deadline);
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

  #acquire(deadline: Date | undefined): Promise<Sip2Connection> {
    if (this.#closed) return Promise.reject(new Sip2ConnectionLost('SIP2 pool closed'));
    const left = deadline === undefined ? Infinity : deadline.getTime() - this.#clock.now().getTime();
    if (left <= 0) return Promise.reject(new Sip2Timeout(`${describeSip2(this.#options)}: the request's deadline passed before it had a connection`));
    this.#idle = this.#idle.filter((connection) => connection.alive || !this.#all.delete(connection));
    const idle = this.#idle.pop();
    if (idle) return Promise.resolve(idle);
    if (this.#all.size + this.#opening < this.#options.poolSize) return this.#open();
    return this.#wait(Math.min(left, this.#options.timeoutMs));
  }

  /** Queues the caller for the next free connection, for at most `waitMs` (real time). */
  #wait(waitMs: number): Promise<Sip2Connection> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const waiter: Waiter = {
        resolve: (connection) => {
          // Given up meanwhile: the connection goes back to the pool, to the next waiter.
          if (settled) return this.#release(connection);
          settled = true;
          clearTimeout(timer);
          resolve(connection);
        },
        reject: (error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        waiter.reject(new Sip2Timeout(`${describeSip2(this.#options)}: no free connection within ${Math.round(waitMs)} ms (${this.#options.poolSize} in use)`));
      }, waitMs);
      this.#waiters.push(waiter);
    });
  }

  async #open(): Promise<Sip2Connection> {
    this.#opening += 1;
    try {
      return await this.#connect();
    } finally {
      this.#opening -= 1;
      // Whatever came of this attempt, a slot it held is free: the next waiter connects, or fails at
      // once inside the backoff and wakes the one after it, so no caller is left waiting for nothing.
      if (this.#waiters.length > 0 && this.#all.size + this.#opening < this.#options.poolSize) this.#wakeOne();
    }
  }

  async #connect(): Promise<Sip2Connection> {
    const now = this.#clock.now().getTime();
    if (this.#lastError && now < this.#retryAt) {
      const error = this.#lastError;
      const Kind = error.constructor as new (message: string) => Sip2Error;
      throw new Kind(`${error.message} (next attempt in ${Math.ceil((this.#retryAt - now) / 1000)} s)`);
    }
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
        const { initialMs, maxMs } = this.#options.backoff ?? DEFAULT_BACKOFF;
        this.#failures += 1;
        this.#retryAt = this.#clock.now().getTime() + Math.min(maxMs, initialMs * 2 ** (this.#failures - 1));
        this.#lastError = error;
      }
      throw error;
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

  /** Opens a connection for the longest waiter; called when a slot has come free. */
  #wakeOne(): void {
    const waiter = this.#waiters.shift();
    if (waiter) this.#open().then(waiter.resolve, waiter.reject);
  }
}
