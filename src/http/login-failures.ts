import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { whenRedisUp } from '../redis-gate.js';

/**
 * Failed logins per key (a user name and a client address, or a device), forgotten `windowMs` after
 * the last one. An attempt is counted as failed before its password is checked, in one atomic step
 * that returns its own count: attempts at once each see the ones ahead of them, where a read and a
 * later write let 300 parallel guesses all read "no failures yet".
 */
export interface LoginFailures {
  /** Counts one more failure; returns the new count. */
  fail(key: string): Promise<number>;
  /**
   * Takes back one failure counted for an attempt that turned out right or was never checked; with
   * `ceiling`, also lowers the count to at most that (a successful login after the delays).
   */
  takeBack(key: string, ceiling?: number): Promise<void>;
}

/** The key of one user name from one address; hashed, so Redis never holds a typed user name. */
export const failureKey = (user: string, address: string): string => createHash('sha256').update(`${user}\u0000${address}`, 'utf8').digest('hex').slice(0, 32);

/** In this process only: the fallback while Redis does not answer (and what a lone process would need). */
export function memoryLoginFailures(windowMs: number, now: () => number = Date.now, maxKeys = 10_000): LoginFailures {
  const entries = new Map<string, { count: number; until: number }>();
  const live = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.until <= now()) entries.delete(key);
    return entries.get(key);
  };
  return {
    async fail(key) {
      // Keys that fail once and never return must not pile up: sweep the expired, then the oldest.
      if (entries.size >= maxKeys) {
        for (const [other, entry] of entries) if (entry.until <= now()) entries.delete(other);
        if (entries.size >= maxKeys) entries.delete(entries.keys().next().value as string);
      }
      const count = (live(key)?.count ?? 0) + 1;
      entries.delete(key); // re-inserted last: the Map's order is the order of last failure
      entries.set(key, { count, until: now() + windowMs });
      return count;
    },
    async takeBack(key, ceiling = Infinity) {
      const entry = live(key);
      if (!entry) return;
      entry.count = Math.min(entry.count - 1, ceiling);
      if (entry.count <= 0) entries.delete(key);
    },
  };
}

/** One failure less, then at most ARGV[1] (when given); the key's expiry stays as it was. */
const TAKE_BACK = `local n = tonumber(redis.call('GET', KEYS[1]) or '0') - 1
if ARGV[1] ~= '' and n > tonumber(ARGV[1]) then n = tonumber(ARGV[1]) end
if n <= 0 then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], n, 'KEEPTTL') end
return n`;

/**
 * In Redis under QUEUE_PREFIX, so every web process sees the same counts; while Redis does not
 * answer (within `timeoutMs`), the counts of this process are used instead: neither everyone
 * locked out nor guessing unlimited during an outage. Counts made during an outage are not carried
 * over when Redis returns.
 */
export function redisLoginFailures(redis: Redis, prefix: string, windowMs: number, logger: Logger, fallback = memoryLoginFailures(windowMs), timeoutMs = 500): LoginFailures {
  const redisKey = (key: string) => `${prefix}:login-failures:${key}`;
  const orFallback = async <T>(operation: () => Promise<T>, instead: () => Promise<T>): Promise<T> => {
    try {
      return await whenRedisUp(redis, operation, timeoutMs);
    } catch (error) {
      logger.debug({ err: (error as Error).message }, 'login failures kept in this process while redis does not answer');
      return instead();
    }
  };
  return {
    fail: (key) =>
      orFallback(
        async () => {
          const result = await redis.multi().incr(redisKey(key)).pexpire(redisKey(key), windowMs).exec();
          const [error, count] = result?.[0] ?? [new Error('transaction discarded'), 0];
          if (error) throw error;
          return Number(count);
        },
        () => fallback.fail(key),
      ),
    takeBack: (key, ceiling) =>
      orFallback(
        async () => {
          // Read and write in one step, so a failure counted meanwhile by another process is kept.
          await redis.eval(TAKE_BACK, 1, redisKey(key), ceiling === undefined ? '' : String(ceiling));
        },
        () => fallback.takeBack(key, ceiling),
      ),
  };
}
