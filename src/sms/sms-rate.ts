import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { ThisTurn } from '../../lib/this-turn.js';
import { redisScript } from '../redis-script.js';
import { confirmStillToSend, type SmsSlot, type SmsTransport } from './transport.js';

/**
 * Hands out send times `spacing` (ARGV[1]) ms apart on Redis's own clock, one after the other across
 * every process, one per remaining ARGV: each is how far ahead its caller accepts a slot (ms; -1:
 * any). Returns the wait for each (floats, as strings, in ms); one refused because its slot would
 * be further ahead than it accepts takes none and gets that wait negated (always below 0).
 */
const NEXT_SLOTS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local spacing = tonumber(ARGV[1])
local taken = 0
local waits = {}
for i = 2, #ARGV do
  local wait = slot - now + taken * spacing
  local within = tonumber(ARGV[i])
  if within < 0 or wait <= within then
    waits[i - 1] = tostring(wait)
    taken = taken + 1
  else
    waits[i - 1] = tostring(-wait)
  end
end
if taken > 0 then
  redis.call('SET', KEYS[1], tostring(slot + taken * spacing), 'PX', math.ceil(slot + (taken - 1) * spacing - now) + 60000)
end
return waits`;
const nextSlots = redisScript(NEXT_SLOTS);

/** A reply sent at once takes its slot only if it is at most this far ahead; else it queues in send-sms. */
export const AT_ONCE_WITHIN_MS = 100;

/**
 * How far ahead a reminder or notice may take its slot: so little that, after it, the next free
 * slot is still within AT_ONCE_WITHIN_MS, and a reply written then is sent at once in it.
 */
const bulkAheadMs = (spacing: number): number => Math.max(0, AT_ONCE_WITHIN_MS - spacing - 1);

/**
 * SMS_RATE_PER_SECOND, and its one owner. Every SMS that reaches Twilio leaves in a slot, 1000/rate
 * ms after the previous one in the whole cluster, on Redis's clock (forny's own key
 * `<QUEUE_PREFIX>:forny:sms-next-slot`). A reply sent at once (src/outbox/deliver-reply) takes its
 * slot before it is written, only when the slot is near (`slotSoon`), and hands it to its send;
 * every other send takes the next slot at the call (`pacedSmsTransport`). BullMQ's worker limiter
 * on send-sms (`workerLimiter`) only keeps jobs from being fetched faster than the rate, which
 * bounds how many wait here; it does not count the replies sent at once, and forny writes none of
 * BullMQ's keys (test/integration/bullmq-limiter.test.ts pins the behaviour this relies on).
 */
export interface SmsRate {
  readonly ratePerSecond: number;
  /** BullMQ's limiter for the send-sms workers (see `smsRateLimiter`). */
  readonly workerLimiter: { readonly max: number; readonly duration: number };
  /**
   * A slot at most AT_ONCE_WITHIN_MS ahead, taken now; undefined when the cluster's sends are
   * booked further ahead than that, or Redis does not answer (the reply then queues).
   */
  slotSoon(): Promise<SmsSlot | undefined>;
  /**
   * Resolves when a send may leave: at `taken`, a slot taken ahead, while it has not passed by more
   * than one spacing; at the next free slot otherwise, or for a `bulk` send (a reminder or notice)
   * at the first slot free within bulkAheadMs of its asking, asking again when the one it would
   * get is further off (replies take the others). Never stops a send: while Redis does not answer,
   * at once (the limiter admitted it).
   */
  waitForSlot(taken?: SmsSlot, options?: { bulk?: boolean }): Promise<void>;
}

interface Ask {
  /** How far ahead the slot may be (ms); -1: any. */
  readonly within: number;
  resolve(wait: number | undefined): void;
}

/** The cluster's next free slot (ms on Redis's clock), forny's own key beside the queues'. */
export const smsSlotKey = (queuePrefix: string) => `${queuePrefix}:forny:sms-next-slot`;

export function createSmsRate(options: {
  redis: Pick<Redis, 'eval' | 'evalsha'>;
  queuePrefix: string;
  ratePerSecond: number;
  onUnavailable?: (error: Error) => void;
}): SmsRate {
  const spacing = 1000 / options.ratePerSecond;
  const key = smsSlotKey(options.queuePrefix);
  // The asks made in one turn of the event loop (the replies and sends of one group commit) take their slots in one call.
  const asks = new ThisTurn<Ask>(async (batch) => {
    let waits: unknown[] | undefined;
    try {
      waits = (await nextSlots(options.redis, [key], [String(spacing), ...batch.map((ask) => ask.within)])) as unknown[];
    } catch (error) {
      options.onUnavailable?.(error as Error);
    }
    batch.forEach((ask, index) => {
      const wait = waits ? Number(waits[index] ?? -1) : undefined;
      ask.resolve(wait === undefined && ask.within < 0 ? 0 : wait);
    });
  });
  /** The wait for a slot taken now; undefined when refused (below 0) or Redis does not answer. */
  const askRaw = (within: number) => new Promise<number | undefined>((resolve) => asks.add({ within, resolve }));
  const ask = async (within: number) => {
    const wait = await askRaw(within);
    return wait === undefined || wait < 0 ? undefined : wait;
  };
  const aheadForBulk = bulkAheadMs(spacing);
  return {
    ratePerSecond: options.ratePerSecond,
    workerLimiter: smsRateLimiter(options.ratePerSecond),
    async slotSoon() {
      const wait = await ask(AT_ONCE_WITHIN_MS);
      return wait === undefined ? undefined : { at: performance.now() + wait };
    },
    async waitForSlot(taken, { bulk = false } = {}) {
      if (bulk && !taken) {
        for (;;) {
          const wait = await askRaw(aheadForBulk);
          if (wait === undefined) return; // Redis away: the limiter admitted it
          if (wait >= 0) {
            if (wait > 0) await sleep(Math.ceil(wait));
            return;
          }
          // Refused: the slot it would get is -wait away; ask again when that one is near.
          await sleep(Math.max(1, Math.ceil(-wait - aheadForBulk)));
        }
      }
      // A slot passed by more than one spacing has been overtaken by the next ones: a new one, so no two leave together.
      const wait = taken && performance.now() - taken.at <= spacing ? taken.at - performance.now() : ((await ask(-1)) ?? 0);
      if (wait > 0) await sleep(Math.ceil(wait));
    },
  };
}

/**
 * The configured transport with each call to Twilio waiting for its slot. BullMQ's limiter admits
 * send-sms jobs at the rate, but each job reads and claims its row before it calls Twilio, and
 * under load that takes from milliseconds to over a second (measured: p50 24 ms, p99 1.4 s on a
 * loaded 2-core machine, three workers); admitted sends then reached Twilio in bunches (51 and 58
 * in one second at 40/s). So the call itself waits for a slot.
 */
export function pacedSmsTransport(inner: SmsTransport, rate: SmsRate): SmsTransport {
  return {
    name: inner.name,
    async send(sms) {
      const { slot, bulk, ...rest } = sms;
      await rate.waitForSlot(slot, { bulk });
      // The wait may have outlasted the window or the sender's claim: it asks again here.
      return inner.send(await confirmStillToSend(rest));
    },
    findRecent: (query) => inner.findRecent(query),
  };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * BullMQ's limiter for SMS_RATE_PER_SECOND. Its windows are fixed: `max` jobs start, then it waits
 * for the window to end, so two windows' bursts can meet across a boundary. One 1000 ms window lets
 * up to twice the rate through within a second; cutting the second into as many equal windows as
 * the rate allows (up to ten) keeps the long-run rate exact and the busiest second within 10 %
 * above it (30/s: 3 per 100 ms).
 */
export function smsRateLimiter(ratePerSecond: number): { max: number; duration: number } {
  const windows = gcd(ratePerSecond, 10);
  return { max: ratePerSecond / windows, duration: 1000 / windows };
}
