import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { redisScript } from '../redis-script.js';
import type { SmsTransport } from './transport.js';

/**
 * Hands out send times `spacing` ms apart on Redis's own clock, one after the other across every
 * process: returns how long the caller waits for its slot (a float, as a string, in ms).
 */
const NEXT_SLOT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
redis.call('SET', KEYS[1], tostring(slot + tonumber(ARGV[1])), 'PX', math.ceil(slot - now) + 60000)
return tostring(slot - now)`;
const nextSlot = redisScript(NEXT_SLOT);

/**
 * SMS_RATE_PER_SECOND where Twilio sees it. BullMQ's limiter admits send-sms jobs at the rate, but
 * each job reads and claims its row before it calls Twilio, and under load that takes from
 * milliseconds to over a second (measured: p50 24 ms, p99 1.4 s on a loaded 2-core machine, three
 * workers); admitted sends then reach Twilio in bunches (51 and 58 in one second at 40/s). So the
 * call itself waits for a slot, 1000/rate ms after the previous one in the whole cluster. Pacing
 * never stops a send: while Redis does not answer the job runs unpaced, as the limiter let it.
 */
export function pacedSmsTransport(
  inner: SmsTransport,
  options: { redis: Pick<Redis, 'eval' | 'evalsha'>; key: string; ratePerSecond: number; onUnavailable?: (error: Error) => void },
): SmsTransport {
  const spacing = 1000 / options.ratePerSecond;
  return {
    name: inner.name,
    async send(sms) {
      let wait = 0;
      try {
        wait = Number(await nextSlot(options.redis, [options.key], [String(spacing)]));
      } catch (error) {
        options.onUnavailable?.(error as Error);
      }
      if (wait >= 1) await sleep(Math.round(wait));
      return inner.send(sms);
    },
    findRecent: (query) => inner.findRecent(query),
  };
}
