import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { ThisTurn } from '../../db/this-turn.js';
import { redisScript } from '../redis-script.js';
import { confirmStillToSend, type SmsTransport } from './transport.js';

/**
 * Hands out ARGV[2] send times `spacing` ms apart on Redis's own clock, one after the other across
 * every process: returns how long each caller waits for its slot (floats, as strings, in ms).
 */
const NEXT_SLOTS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local spacing = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local waits = {}
for i = 1, count do waits[i] = tostring(slot - now + (i - 1) * spacing) end
redis.call('SET', KEYS[1], tostring(slot + count * spacing), 'PX', math.ceil(slot + (count - 1) * spacing - now) + 60000)
return waits`;
const nextSlots = redisScript(NEXT_SLOTS);

interface Waiting {
  resolve(waitMs: number): void;
}

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
  // The sends that start in one turn of the event loop (the replies of one group commit) take their slots in one call.
  const slots = new ThisTurn<object, Waiting>(async (_key, batch) => {
    let waits: unknown[] = [];
    try {
      waits = (await nextSlots(options.redis, [options.key], [String(spacing), batch.length])) as unknown[];
    } catch (error) {
      options.onUnavailable?.(error as Error);
    }
    batch.forEach((waiting, index) => waiting.resolve(Number(waits[index] ?? 0)));
  });
  const transport: SmsTransport = {
    name: inner.name,
    async send(sms) {
      const wait = await new Promise<number>((resolve) => slots.add(transport, { resolve }));
      if (wait >= 1) await sleep(Math.round(wait));
      // The wait may have outlasted the window or the sender's claim: it asks again here.
      return inner.send(await confirmStillToSend(sms));
    },
    findRecent: (query) => inner.findRecent(query),
  };
  return transport;
}
