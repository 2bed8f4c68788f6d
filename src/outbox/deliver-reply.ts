import { UnrecoverableError } from 'bullmq';
import type { OutboundMessage } from '../../db/repositories/outbound.js';
import type { Deps } from '../deps.js';
import { isUnfinished } from '../domain/message-status.js';
import { enqueueOutbound } from '../queue/enqueue.js';
import type { SmsSlot } from '../sms/transport.js';
import { smsSendAfter } from './send-after.js';
import { sendSms } from './send-sms.js';

type DeliverDeps = Pick<Deps, 'db' | 'groupCommit' | 'clock' | 'config' | 'logger' | 'queues' | 'libraries' | 'sms' | 'smsRate'>;

/**
 * A place in the SMS rate for a reply about to be written, taken before its transaction when a
 * reply written now may leave now and the cluster's next slot is near (src/sms/sms-rate.ts): a
 * slot means the reply is then written claimed (`claimedAtWrite`) and its writer sends it in that
 * slot (the replies of one moment take their places in one call to Redis). A slot a request then
 * needs no reply for is left empty: a gap at Twilio, never an extra send.
 */
export async function placeInRateForReply(deps: DeliverDeps, libraryId: string | null, now: Date): Promise<SmsSlot | undefined> {
  if (smsSendAfter(deps.config, deps.libraries.sendWindowOf(libraryId), 'reply', now).getTime() > now.getTime()) return undefined;
  return deps.smsRate.slotSoon();
}

/**
 * The one owner of "send now or queue" for a reply. One that may leave now is sent from here when
 * the rate has room (its place taken before it was written, `claimedAtWrite`, or asked for now), so
 * a burst's replies skip a second job (its Redis round trips and its reads of the row). One that
 * must wait, that finds this window of the rate used up, or whose send fails, goes to `send-sms`,
 * whose retries and look-ups at Twilio take over as for any SMS. `sendNow: false` only queues it
 * (a rerun that found its reply already written: its first run may still be sending it).
 */
export async function deliverReply(
  deps: DeliverDeps,
  reply: OutboundMessage | null,
  /** `place`: what placeInRateForReply gave before the reply was written (undefined: asked, none near); not given: asked here. */
  options: { sendNow: boolean; place?: SmsSlot | undefined },
): Promise<void> {
  if (!reply || !isUnfinished(reply.status)) return;
  const queued = options.sendNow ? await sendAtOnce(deps, reply, 'place' in options ? { slot: options.place } : undefined) : reply;
  if (queued) await enqueueOutbound(deps.queues, deps.clock, [queued]);
}

/** Sends a reply due now; returns what is left for `send-sms` (null when nothing is), with when it may leave. */
async function sendAtOnce(deps: DeliverDeps, reply: OutboundMessage, asked: { slot: SmsSlot | undefined } | undefined): Promise<(OutboundMessage & { attemptsLeft?: number }) | null> {
  const now = deps.clock.now();
  if (reply.channel !== 'sms' || Date.parse(reply.sendAfter) > now.getTime()) return reply;
  // Written just now already claimed (its place in the rate was taken first).
  const claimedAtWrite = reply.sendStartedAt !== null;
  const slot = asked ? asked.slot : await deps.smsRate.slotSoon();
  if (!slot) return reply;
  const attempts = deps.config.jobs.sendAttempts;
  let opening: Date | undefined;
  try {
    const attempt = { attemptsMade: 0, maxAttempts: attempts, waitUntil: async (instant: Date) => void (opening = instant) };
    const result = await sendSms(deps, reply.id, attempt, reply, { claimedAtWrite, slot });
    // The window closed in the meantime: the row now waits for the opening, and so does its job.
    return result === 'not-due' && opening ? { ...reply, sendAfter: opening.toISOString() } : null;
  } catch (error) {
    // Refused for good, or that was the last try: the row says so and nothing is left to do.
    if (error instanceof UnrecoverableError || attempts <= 1) return null;
    deps.logger.debug({ outboundId: reply.id, err: (error as Error).message }, 'reply not sent at once; queued for its other tries');
    return { ...reply, sendAfter: new Date(deps.clock.now().getTime() + deps.config.jobs.retryDelayMs).toISOString(), attemptsLeft: attempts - 1 };
  }
}
