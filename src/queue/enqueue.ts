import type { InboundMessage } from '../../db/repositories/inbound.js';
import type { OutboundMessage } from '../../db/repositories/outbound.js';
import { ThisTurn } from '../../lib/this-turn.js';
import type { Clock } from '../clock.js';
import { inboundJobId, outboundJobId, type Queues } from './queues.js';

type Enqueueable = Pick<InboundMessage, 'id' | 'command'>;

/** Renew-alls go to `renew-all`, every other command to `sms-command`. */
const inboundQueue = (queues: Queues, message: Enqueueable) => (message.command === 'renew-all' ? queues.renewAll : queues.smsCommand);

const inboundJob = (message: Enqueueable) => ({ name: message.command, data: { inboundId: message.id }, opts: { jobId: inboundJobId(message.id) } });

/** Hands a stored inbound message to its queue. */
export async function enqueueInbound(queues: Queues, message: Enqueueable): Promise<void> {
  const job = inboundJob(message);
  await inboundQueue(queues, message).add(job.name, job.data, job.opts);
}

interface PendingEnqueue {
  readonly message: Enqueueable;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * `enqueueInbound` for webhooks: the messages of every webhook answered in the same turn of the
 * event loop go to Redis in one `addBulk` per queue (one round trip) instead of one call each.
 * Built once per set of queues (createDeps).
 */
export interface InboundEnqueuer {
  enqueue(message: Enqueueable): Promise<void>;
}

export function createInboundEnqueuer(queues: Queues): InboundEnqueuer {
  const pending = new ThisTurn<PendingEnqueue>((batch) => flushEnqueues(queues, batch));
  return { enqueue: (message) => new Promise((resolve, reject) => pending.add({ message, resolve, reject })) };
}

async function flushEnqueues(queues: Queues, batch: PendingEnqueue[]): Promise<void> {
  for (const queue of [queues.renewAll, queues.smsCommand]) {
    const group = batch.filter((pending) => inboundQueue(queues, pending.message) === queue);
    if (group.length === 0) continue;
    try {
      await queue.addBulk(group.map(({ message }) => inboundJob(message)));
      for (const pending of group) pending.resolve();
    } catch (error) {
      for (const pending of group) pending.reject(error);
    }
  }
}

/**
 * A night's notices need no job until their window opens: their SMS (reminders and notices; a
 * patron's reply keeps its job, there are few), when due further ahead than the look-ahead below,
 * are given their send-sms job by the reconciler shortly before they are due (jobs/reconcile.ts),
 * not by the request that wrote them. 20,000 delayed jobs written at 21:30 cost the intake most of
 * its time and Redis memory all night, and buy nothing before 08:45.
 */
export function enqueuedByReconciler(message: Pick<OutboundMessage, 'channel' | 'kind' | 'sendAfter'>, now: Date, reconcileIntervalMs: number): boolean {
  return message.channel === 'sms' && message.kind !== 'reply' && Date.parse(message.sendAfter) > now.getTime() + lookAheadMs(reconcileIntervalMs);
}

/**
 * How long before their time the reconciler gives the night's SMS their jobs: two ticks, and at
 * least 15 minutes, so a tick that takes seconds (20,000 jobs: 6-8 s) or is skipped still ends
 * before the opening at short intervals.
 */
const lookAheadMs = (reconcileIntervalMs: number) => Math.max(2 * reconcileIntervalMs, 15 * 60_000);

/**
 * BullMQ delays run on the real clock; the application clock may be offset (FAKE_NOW), so the
 * delay is the distance to `sendAfter` on the application clock.
 */
export function delayUntil(clock: Clock, instant: string | Date): number {
  return Math.max(0, new Date(instant).getTime() - clock.now().getTime());
}

type Sendable = Pick<OutboundMessage, 'id' | 'channel' | 'sendAfter' | 'purpose' | 'kind' | 'libraryId'> & {
  /** Tries left when some were already spent without a job (a reply first tried at once); the queue's default otherwise. */
  readonly attemptsLeft?: number;
};

function sendJob(clock: Clock, message: Sendable, priority?: number) {
  return {
    name: message.purpose,
    data: { outboundId: message.id },
    opts: {
      jobId: outboundJobId(message.id),
      delay: delayUntil(clock, message.sendAfter),
      ...(message.attemptsLeft === undefined ? {} : { attempts: message.attemptsLeft }),
      ...(priority === undefined ? {} : { priority }),
    },
  };
}

/**
 * Hands outbox messages to `send-sms` (delayed to their sendAfter) or `send-email`, in bulk. A
 * reminder's or notice's SMS waits its library's turn behind every reply (src/queue/send-turns.ts).
 */
export async function enqueueOutbound(queues: Queues, clock: Clock, messages: readonly Sendable[]): Promise<void> {
  for (let start = 0; start < messages.length; start += 1000) {
    const chunk = messages.slice(start, start + 1000);
    const smsMessages = chunk.filter((message) => message.channel === 'sms');
    const turns = await queues.turns.take(smsMessages);
    const sms = smsMessages.map((message, index) => sendJob(clock, message, turns[index]));
    const email = chunk.filter((message) => message.channel === 'email').map((message) => sendJob(clock, message));
    if (sms.length > 0) await queues.sendSms.addBulk(sms);
    if (email.length > 0) await queues.sendEmail.addBulk(email);
  }
}
