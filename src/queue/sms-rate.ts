import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { ThisTurn } from '../../db/this-turn.js';
import { redisScript } from '../redis-script.js';
import { smsRateLimiter, type Queues } from './queues.js';

/**
 * Takes up to ARGV[3] sends from the window BullMQ's own limiter counts for `send-sms` (its
 * `limiter` key: a counter that expires with the window), with the same rule its workers apply: a
 * window that has had `max` sends is full until it expires; returns how many it took. A reply sent
 * at once, without a job, so takes its place in the same budget as every queued SMS, and
 * SMS_RATE_PER_SECOND holds across every process.
 */
const TAKE_SLOTS = `
local count = tonumber(redis.call('GET', KEYS[1]) or 0)
local max = tonumber(ARGV[1])
if count >= max then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then return 0 end
  redis.call('DEL', KEYS[1])
  count = 0
end
local granted = math.min(tonumber(ARGV[3]), max - count)
if redis.call('INCRBY', KEYS[1], granted) == granted then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return granted`;

const takeSlots = redisScript(TAKE_SLOTS);

interface Ask {
  readonly redis: Redis;
  readonly config: Pick<Config, 'sms'>;
  resolve(taken: boolean): void;
  reject(error: unknown): void;
}

/** The asks of one turn of the event loop (the replies of one group commit), per queue: one script call. */
const asks = new ThisTurn<Pick<Queues, 'sendSms'>['sendSms'], Ask>(async (queue, batch) => {
  const [first] = batch;
  if (!first) return;
  try {
    const { max, duration } = smsRateLimiter(first.config.sms.ratePerSecond);
    const granted = Number(await takeSlots(first.redis, [`${queue.qualifiedName}:limiter`], [max, duration, batch.length]));
    batch.forEach((ask, index) => ask.resolve(index < granted));
  } catch (error) {
    for (const ask of batch) ask.reject(error);
  }
});

/**
 * True when one more SMS may leave now; false when this window of the rate is used up. The asks
 * made in one turn of the event loop share one call to Redis, first come first served.
 */
export function takeSmsSlot(redis: Redis, queues: Pick<Queues, 'sendSms'>, config: Pick<Config, 'sms'>): Promise<boolean> {
  return new Promise((resolve, reject) => asks.add(queues.sendSms, { redis, config, resolve, reject }));
}
