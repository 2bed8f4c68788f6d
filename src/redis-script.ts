import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script called by its SHA-1 (EVALSHA), loaded with EVAL the first time a server does not
 * know it: sending the text with every call cost more than the script itself on the send path.
 */
export function redisScript(lua: string) {
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (redis: Pick<Redis, 'eval' | 'evalsha'>, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(lua, keys.length, ...keys, ...args);
    }
  };
}
