import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { redisScript } from '../redis-script.js';
import { smsRateLimiter, type Queues } from './queues.js';

/**
 * Takes one send from the window BullMQ's own limiter counts for `send-sms` (its `limiter` key:
 * a counter that expires with the window), with the same rule its workers apply: a window that
 * has had `max` sends is full until it expires. A reply sent at once, without a job, so takes its
 * place in the same budget as every queued SMS, and SMS_RATE_PER_SECOND holds across every process.
 */
const TAKE_SLOT = `
local count = tonumber(redis.call('GET', KEYS[1]) or 0)
if count >= tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then return 0 end
  redis.call('DEL', KEYS[1])
end
if redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`;

const takeSlot = redisScript(TAKE_SLOT);

/** True when one more SMS may leave now; false when this window of the rate is used up. */
export async function takeSmsSlot(redis: Redis, queues: Pick<Queues, 'sendSms'>, config: Pick<Config, 'sms'>): Promise<boolean> {
  const { max, duration } = smsRateLimiter(config.sms.ratePerSecond);
  const taken = await takeSlot(redis, [`${queues.sendSms.qualifiedName}:limiter`], [max, duration]);
  return Number(taken) === 1;
}
