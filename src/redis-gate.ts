import type { Redis } from 'ioredis';

/** Raised when a request-time Redis operation is skipped because Redis is away or slow. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/**
 * Runs a Redis operation for an HTTP request only when the fail-fast client says Redis is up, and
 * gives up after `timeoutMs`: a webhook answers Twilio in time whatever Redis does, and what it
 * could not enqueue stays in the database for reconciliation. (An operation that times out may
 * still complete later; every enqueue is keyed by a job id, so that is harmless.)
 */
export async function whenRedisUp<T>(redis: Redis, operation: () => Promise<T>, timeoutMs = 2000): Promise<T> {
  if (redis.status !== 'ready') throw new RedisUnavailableError(`redis is ${redis.status}`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisUnavailableError(`redis did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([operation(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
