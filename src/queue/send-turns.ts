import type { Redis } from 'ioredis';
import type { OutboundMessage } from '../../db/repositories/outbound.js';

/**
 * Who goes first on the short code (SPEC §14). Answers to a patron's own message are send-sms jobs
 * without a priority, which BullMQ hands out before any prioritised job, so a reply waits behind no
 * reminder or notice. Reminders and notices are prioritised by their library's turn: the n-th SMS
 * a library has waiting for a day's sending gets priority n, so at the opening the libraries'
 * backlogs leave one for one (200 of a small library interleaved with 20,000 of a large one,
 * whichever was written first), and within a library in the order written.
 *
 * Measured before choosing (issue 24): 20,000 jobs added with priorities took as long as without
 * (about 1 s either way), and a no-op worker drained them at 11,000–15,000/s against 15,000/s
 * without: nothing beside SMS_RATE_PER_SECOND.
 */

/** BullMQ's largest priority; a turn beyond it (two million SMS of one library in a day) waits with the last. */
export const LAST_TURN = 2_097_151;

/** A day's turns are kept this long (a job left over at 20:00 takes a turn of the next day, jobs/send-sms.ts). */
const TURNS_KEPT_SECONDS = 3 * 24 * 3600;

type Turnable = Pick<OutboundMessage, 'channel' | 'kind' | 'libraryId' | 'sendAfter'>;

/** True for the SMS that take turns (reminders and notices); a reply never waits its turn. */
export const takesTurns = (message: Turnable): boolean => message.channel === 'sms' && message.kind !== 'reply';

/** The counter of a library's turns for the day its SMS may first leave (the UTC date: the windows of Danish libraries lie within one). */
const turnKey = (prefix: string, message: Turnable) => `${prefix}:forny:send-turns:${message.libraryId ?? '*'}:${new Date(message.sendAfter).toISOString().slice(0, 10)}`;

/** The turns of reminders and notices, handed out from counters beside the queues. */
export interface SendTurns {
  /**
   * The priority of each message given (undefined for those that take no turn), taking the next
   * turns of each library and day on Redis in one round trip, so every process hands them out from
   * one sequence. Turns taken by messages whose job already existed are gaps, never a problem.
   */
  take(messages: readonly Turnable[]): Promise<(number | undefined)[]>;
}

export function createSendTurns(redis: Pick<Redis, 'pipeline'>, prefix: string): SendTurns {
  return {
    async take(messages) {
      const keys = messages.map((message) => (takesTurns(message) ? turnKey(prefix, message) : undefined));
      const counts = new Map<string, number>();
      for (const key of keys) if (key !== undefined) counts.set(key, (counts.get(key) ?? 0) + 1);
      if (counts.size === 0) return keys.map(() => undefined);

      const pipeline = redis.pipeline();
      for (const [key, count] of counts) pipeline.incrby(key, count).expire(key, TURNS_KEPT_SECONDS);
      const answers = (await pipeline.exec()) ?? [];
      // Each key's first turn handed out now; the messages take them in order.
      const next = new Map<string, number>();
      [...counts].forEach(([key, count], index) => {
        const [error, last] = answers[index * 2] ?? [new Error('no answer from Redis'), null];
        if (error) throw error;
        next.set(key, Number(last) - count + 1);
      });
      return keys.map((key) => {
        if (key === undefined) return undefined;
        const turn = next.get(key) ?? LAST_TURN;
        next.set(key, turn + 1);
        return Math.min(turn, LAST_TURN);
      });
    },
  };
}
