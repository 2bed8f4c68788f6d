import { Queue, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { createSendTurns, type SendTurns } from './send-turns.js';

/** Queue names; `renew-all` and `send-sms` are fixed by SPEC §1 (dashboards and alerts use them). */
export const QUEUE = {
  renewAll: 'renew-all',
  smsCommand: 'sms-command',
  sendSms: 'send-sms',
  sendEmail: 'send-email',
  reminders: 'reminders',
} as const;

export type QueueName = (typeof QUEUE)[keyof typeof QUEUE];

/** Every job names a database row; the row, not the job, holds the state. */
export interface InboundJob {
  readonly inboundId: number;
}
export interface OutboundJob {
  readonly outboundId: number;
}
export type ReminderScanJob = Record<string, never>;

export interface Queues {
  readonly renewAll: Queue<InboundJob>;
  readonly smsCommand: Queue<InboundJob>;
  readonly sendSms: Queue<OutboundJob>;
  readonly sendEmail: Queue<OutboundJob>;
  readonly reminders: Queue<ReminderScanJob>;
  readonly all: readonly Queue[];
  /** Who goes first in send-sms: replies, then the libraries' reminders and notices in turns. */
  readonly turns: SendTurns;
}

/** Job ids come from database ids, so adding the same work twice adds one job (BullMQ ignores a known id). */
export const inboundJobId = (inboundId: number) => `in-${inboundId}`;
export const outboundJobId = (outboundId: number) => `out-${outboundId}`;

/** Finished jobs stay a day (Bull Board shows them; a re-add within the day stays a no-op), failed ones a week. */
const keep: DefaultJobOptions = {
  removeOnComplete: { age: 24 * 3600, count: 50_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 50_000 },
};

export function jobOptions(config: Config): Record<QueueName, DefaultJobOptions> {
  const backoff = { type: 'exponential', delay: config.jobs.retryDelayMs, jitter: 0.5 } as const;
  return {
    // The library system away: retried, each wait doubling up to a minute, until the give-up time
    // has passed (SPEC §4); the job then tells the patron instead of renewing late.
    [QUEUE.renewAll]: { ...keep, attempts: renewAllAttempts(config), backoff: { type: CAPPED_BACKOFF, delay: Math.min(1000, config.jobs.retryDelayMs) } },
    [QUEUE.smsCommand]: { ...keep, attempts: 8, backoff: { ...backoff, delay: Math.min(1000, config.jobs.retryDelayMs) } },
    [QUEUE.sendSms]: { ...keep, attempts: config.jobs.sendAttempts, backoff },
    [QUEUE.sendEmail]: { ...keep, attempts: config.jobs.sendAttempts, backoff },
    [QUEUE.reminders]: { ...keep, attempts: 3, backoff },
  };
}

/**
 * The queues, on a connection that waits for Redis (BullMQ checks the server once, when a queue is
 * first used, and a queue whose check failed stays broken; so the connection must not fail fast).
 * HTTP requests that enqueue go through `src/redis-gate.ts`, which does fail fast.
 */
export function createQueues(connection: Redis, config: Config): Queues {
  const options = jobOptions(config);
  const make = <T>(name: QueueName) => new Queue<T>(name, { connection, prefix: config.queuePrefix, defaultJobOptions: options[name] });
  const queues = {
    renewAll: make<InboundJob>(QUEUE.renewAll),
    smsCommand: make<InboundJob>(QUEUE.smsCommand),
    sendSms: make<OutboundJob>(QUEUE.sendSms),
    sendEmail: make<OutboundJob>(QUEUE.sendEmail),
    reminders: make<ReminderScanJob>(QUEUE.reminders),
  };
  return { ...queues, all: Object.values(queues) as Queue[], turns: createSendTurns(connection, config.queuePrefix) };
}

/** The longest wait between two tries of a renew-all. */
export const CAPPED_BACKOFF_MAX_MS = 60_000;
const CAPPED_BACKOFF = 'capped';

/** Enough tries that the waits (doubling from the first delay, at most a minute) outlast the give-up time. */
export function renewAllAttempts(config: Config): number {
  return Math.max(8, Math.ceil(config.jobs.renewAllGiveUpMs / CAPPED_BACKOFF_MAX_MS) + 8);
}

/**
 * BullMQ's backoff for the `capped` type (the worker's `backoffStrategy`): exponential with jitter
 * like BullMQ's own, but never longer than CAPPED_BACKOFF_MAX_MS, so a library system that comes
 * back is noticed within a minute.
 */
export function cappedBackoff(attemptsMade: number, type?: string, _error?: Error, job?: { opts: { backoff?: unknown } }): number {
  const delay = Number((job?.opts.backoff as { delay?: number } | undefined)?.delay ?? 1000);
  if (type !== CAPPED_BACKOFF) return delay;
  const full = Math.min(CAPPED_BACKOFF_MAX_MS, delay * 2 ** Math.max(0, attemptsMade - 1));
  return Math.floor(full * (0.5 + Math.random() * 0.5));
}
