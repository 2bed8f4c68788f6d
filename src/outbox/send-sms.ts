import { UnrecoverableError } from 'bullmq';
import { applyPendingReceipts } from '../../db/repositories/delivery-status.js';
import { optOutMobile } from '../../db/repositories/library.js';
import { EVERY_LIBRARY, isNumberOptedOut, optOutNumber } from '../../db/repositories/sms-opt-outs.js';
import {
  claimForSending,
  getOutbound,
  getOutboundByProviderSid,
  markSent,
  recordSendFailure,
  renewClaim,
  reschedule,
  supersede,
  type OutboundMessage,
} from '../../db/repositories/outbound.js';
import type { Deps } from '../deps.js';
import { isUnfinished } from '../domain/message-status.js';
import { isInsideWindow, nextOpening } from '../domain/send-window.js';
import type { SmsSlot } from '../sms/transport.js';
import { SmsSendError, SmsWithdrawn, type SentSms } from '../sms/transport.js';
import { classifyTwilioError, OPTED_OUT_CODE } from '../sms/twilio-errors.js';
import { waitsForWindow } from './send-after.js';
import { reminderStillDue } from './reminder-check.js';
import { CLAIM_RENEW_AFTER_MS, claimLapsesAt } from './send-claim.js';

export type SendSmsDeps = Pick<Deps, 'db' | 'groupCommit' | 'clock' | 'config' | 'logger' | 'sms' | 'libraries'>;

/** How far back an attempt that died mid-call is looked for at Twilio (a stalled job reruns within seconds). */
export const UNCERTAIN_LOOKBACK_MS = 10 * 60 * 1000;

export type SendSmsResult = 'sent' | 'superseded' | 'not-due' | 'nothing-to-do';

/** What a send-sms job needs of BullMQ's job: its attempt count and the way back to `delayed`. */
export interface SendAttempt {
  readonly attemptsMade: number;
  readonly maxAttempts: number;
  /**
   * Puts the job back to wait until the given application-clock instant; `opening`: it waits for a
   * window's opening, as this message (a reminder or notice then takes a turn of that day).
   */
  waitUntil(instant: Date, opening?: Pick<OutboundMessage, 'channel' | 'kind' | 'libraryId' | 'sendAfter'>): Promise<void>;
}

/**
 * Sends one outbox SMS. A message that is no longer waiting is left alone, and one another attempt
 * holds is left to it until its claim lapses; after an attempt that may have reached Twilio, Twilio
 * is asked before sending again (the README's at-least-once edge). It looks at the clock (a job that
 * wakes at 20:00:01 waits for tomorrow's opening) and at the loans a reminder names (superseded when
 * none is still due, recounted when some are), and once more at the window and its claim after
 * waiting for the rate, just before the message leaves.
 */
export async function sendSms(
  deps: SendSmsDeps,
  outboundId: number,
  attempt: SendAttempt,
  written?: OutboundMessage,
  /**
   * `claimedAtWrite`: the caller wrote the row already claimed for this attempt (a reply its writer
   * sends, src/outbox/deliver-reply); `slot`: its place in the rate, taken then.
   */
  { claimedAtWrite = false, slot }: { claimedAtWrite?: boolean; slot?: SmsSlot } = {},
): Promise<SendSmsResult> {
  // The row just written by the caller needs no second read: the claim below checks its status anyway.
  const message = written ?? (await getOutbound(deps.db, outboundId));
  if (!message || message.channel !== 'sms' || !isUnfinished(message.status)) return 'nothing-to-do';

  const now = deps.clock.now();
  if (outsideWindow(deps, message, now)) return waitForOpening(deps, message, now, attempt);
  // STOP belongs to the number: whatever a card says, no reminder or notice goes to it (SPEC §11).
  if (message.kind !== 'reply' && (await isNumberOptedOut(deps.db, message.to, message.libraryId))) {
    await supersede(deps.db, message.id, now, { reason: 'stop_from_number' });
    return 'superseded';
  }
  if (message.kind === 'reminder' && !(await reminderStillDue(deps, message, now))) return 'superseded';

  // Another attempt holds the message (a reply its renew-all job is sending, a sender paused
  // mid-send): it is left to that attempt until its claim lapses; then this one takes it over.
  const lapses = claimedAtWrite ? null : claimLapsesAt(message);
  if (lapses && now.getTime() < lapses.getTime()) {
    await attempt.waitUntil(lapses);
    return 'not-due';
  }

  const claimed = claimedAtWrite ? message : await deps.groupCommit.transaction((trx) => claimForSending(trx, message.id, now, message), { oneStatement: true });
  if (!claimed) return 'nothing-to-do';

  // An earlier attempt died mid-call, or failed not knowing whether Twilio took the message: ask
  // Twilio before sending again.
  const askFirst = !claimedAtWrite && (message.sendStartedAt !== null || message.outcomeUncertain);
  let lookingUp = askFirst;
  const lastLook = lastLookBeforeSending(deps, claimed);
  try {
    const earlier = lookingUp ? await sentByEarlierAttempt(deps, claimed) : null;
    lookingUp = false;
    if (askFirst) {
      deps.logger.warn({ outboundId, found: earlier?.sid }, earlier ? 'previous attempt had reached Twilio; not sending again' : 'previous attempt ended mid-call and Twilio shows no such message; sending again');
    }
    const sent = earlier ?? (await deps.sms.send({ to: claimed.to, body: claimed.body, statusCallback: `${deps.config.publicBaseUrl}/sms/status`, stillToSend: lastLook.stillToSend, slot, bulk: message.kind !== 'reply' }));
    const sentAt = deps.clock.now();
    // Found at Twilio: the patron got it once after all, nothing uncertain is left about it.
    await deps.groupCommit.transaction((trx) => markSent(trx, message.id, sent.sid, sentAt, { settled: earlier !== null, fence: claimed }), { oneStatement: true });
    // A receipt that came before the sid was stored waited as pending; from here on receipts find
    // the row themselves (receipts only move forward, so one applied twice is harmless).
    await applyPendingReceipts(deps.db, sent.sid, sentAt);
    // Each sent SMS is in the outbox with its sid; a log line per message would cost more than the send.
    deps.logger.debug({ outboundId, sid: sent.sid, purpose: message.purpose }, 'sms sent');
    return 'sent';
  } catch (thrown) {
    if (thrown instanceof SmsWithdrawn) return withdrawn(deps, claimed, lastLook.reason, attempt);
    const error = thrown instanceof SmsSendError ? thrown : classifyTwilioError(thrown);
    const final = !error.retryable || attempt.attemptsMade + 1 >= attempt.maxAttempts;
    // A failed look-up settles nothing: the earlier attempt stays uncertain for the next one to ask about.
    const certain = error.certain && !lookingUp;
    await recordSendFailure(deps.db, message.id, { code: error.code, message: error.message, final, certain }, deps.clock.now(), claimed);
    if (error.code === OPTED_OUT_CODE) {
      await optOutMobile(deps.db, claimed.to, deps.clock.now());
      await optOutNumber(deps.db, claimed.to, EVERY_LIBRARY, '21610', deps.clock.now());
    }
    deps.logger.warn({ outboundId, code: error.code, retryable: error.retryable, final }, 'sms send failed');
    if (!error.retryable) throw new UnrecoverableError(`${error.code ?? 'error'}: ${error.message}`);
    throw error;
  }
}

/**
 * The sender's last look before the message leaves (the transport asks it after waiting for the
 * rate): the send window still open (SPEC §4: nothing leaves at 20:00 however long the wait), and
 * the claim still this attempt's. A claim younger than CLAIM_RENEW_AFTER_MS cannot have been taken
 * over (that takes SEND_UNDER_WAY_MS); an older one is stamped again under its fence, or found lost.
 */
function lastLookBeforeSending(deps: SendSmsDeps, claimed: OutboundMessage): { stillToSend: () => Promise<boolean>; reason: WithdrawnBecause } {
  const look = {
    reason: 'window-closed' as WithdrawnBecause,
    stillToSend: async (): Promise<boolean> => {
      const at = deps.clock.now();
      if (outsideWindow(deps, claimed, at)) return false;
      const claimedAt = claimed.sendStartedAt === null ? at.getTime() : Date.parse(claimed.sendStartedAt);
      if (at.getTime() - claimedAt < CLAIM_RENEW_AFTER_MS || (await renewClaim(deps.db, claimed.id, claimed, at))) return true;
      look.reason = 'claim-lost';
      return false;
    },
  };
  return look;
}

type WithdrawnBecause = 'window-closed' | 'claim-lost';

/** A send called off at its last moment: the window closed while it waited (it waits for the opening), or another attempt has the message. */
async function withdrawn(deps: SendSmsDeps, claimed: OutboundMessage, reason: WithdrawnBecause, attempt: SendAttempt): Promise<SendSmsResult> {
  if (reason === 'claim-lost') {
    deps.logger.warn({ outboundId: claimed.id }, 'another attempt took this message over while this one waited; not sending it');
    return 'nothing-to-do';
  }
  return waitForOpening(deps, claimed, deps.clock.now(), attempt, claimed);
}

/** The message must wait for the send window and the window is closed at `at` (SPEC §4). */
function outsideWindow(deps: SendSmsDeps, message: OutboundMessage, at: Date): boolean {
  return waitsForWindow(deps.config, message.kind) && !isInsideWindow(at, deps.libraries.sendWindowOf(message.libraryId), deps.config.timeZone);
}

/** Puts the message, and its attempt, back to wait for the window's next opening. */
async function waitForOpening(deps: SendSmsDeps, message: OutboundMessage, at: Date, attempt: SendAttempt, fence?: OutboundMessage): Promise<'not-due'> {
  const opening = nextOpening(at, deps.libraries.sendWindowOf(message.libraryId), deps.config.timeZone);
  await reschedule(deps.db, message.id, opening, at, fence);
  await attempt.waitUntil(opening, { ...message, sendAfter: opening.toISOString() });
  return 'not-due';
}

/**
 * The message an attempt that died mid-call left at Twilio, if any: the newest to that number, with
 * this body, recent, and not already recorded for another outbox row (two identical help texts).
 */
async function sentByEarlierAttempt(deps: SendSmsDeps, message: OutboundMessage): Promise<SentSms | null> {
  let found: SentSms | null;
  try {
    found = await deps.sms.findRecent({ to: message.to, body: message.body, withinMs: UNCERTAIN_LOOKBACK_MS });
  } catch (thrown) {
    const error = thrown instanceof SmsSendError ? thrown : classifyTwilioError(thrown);
    // Twilio busy or away: ask again on the next attempt. A listing refused for good (a provider
    // without it) cannot settle the question: send again, as at-least-once allows.
    if (error.retryable) throw error;
    deps.logger.warn({ outboundId: message.id, code: error.code }, 'cannot look up earlier attempts at the provider');
    return null;
  }
  if (!found) return null;
  const owner = await getOutboundByProviderSid(deps.db, found.sid);
  return owner === undefined || owner.id === message.id ? found : null;
}
