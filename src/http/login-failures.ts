import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { whenRedisUp } from '../redis-gate.js';

/** Failed logins per key (a user name and a client address), forgotten `windowMs` after the last one. */
export interface LoginFailures {
  count(key: string): Promise<number>;
  /** Counts one more failure; returns the new count. */
  fail(key: string): Promise<number>;
  /** Lowers the count to at most `ceiling` (a successful login). */
  lower(key: string, ceiling: number): Promise<void>;
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
    count: async (key) => live(key)?.count ?? 0,
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
    async lower(key, ceiling) {
      const entry = live(key);
      if (entry && entry.count > ceiling) entry.count = ceiling;
    },
  };
}

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
    count: (key) =>
      orFallback(
        async () => Number((await redis.get(redisKey(key))) ?? 0),
        () => fallback.count(key),
      ),
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
    lower: (key, ceiling) =>
      orFallback(
        async () => {
          // Compare and set in one step, so a failure counted meanwhile by another process is kept.
          await redis.eval("local n = tonumber(redis.call('GET', KEYS[1]) or '0') if n > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL') end return n", 1, redisKey(key), String(ceiling));
        },
        () => fallback.lower(key, ceiling),
      ),
  };
}
