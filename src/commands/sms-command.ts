import { claimInbound, finishInbound, getInbound, type InboundMessage } from '../../db/repositories/inbound.js';
import { findPatronsByMobile, setSmsOptIn, type Patron } from '../../db/repositories/library.js';
import { getOutbound, supersede, waitingReminderIds, type OutboundMessage } from '../../db/repositories/outbound.js';
import { optInNumber, optOutNumber } from '../../db/repositories/sms-opt-outs.js';
import { takeThrottle } from '../../db/repositories/throttles.js';
import type { Db } from '../../db/repositories/values.js';
import type { Deps } from '../deps.js';
import { isUnfinished } from '../domain/message-status.js';
import type { Command } from '../domain/sms-command.js';
import { textsFor } from '../texts.js';
import { enqueueOutbound } from '../queue/enqueue.js';
import { answer, answerNotLinked, DAY_MS } from '../outbox/replies.js';

export type CommandDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'queues'>;

/**
 * Handles every command but renew-all (SPEC §3): STOP and START change the patrons' SMS opt-in and
 * are confirmed, HJÆLP gets the help text, and anything else gets it at most once per number per
 * 24 hours, so forny never keeps a conversation going with an auto-responder.
 */
export async function handleSmsCommand(deps: CommandDeps, inboundId: number): Promise<OutboundMessage | null> {
  const now = deps.clock.now();
  const reply = await deps.db.transaction(async (trx) => {
    const claimed = await claimInbound(trx, inboundId, now);
    const inbound = await getInbound(trx, inboundId);
    if (!inbound) throw new Error(`inbound message ${inboundId} does not exist`);
    if (!claimed) return inbound.replyId === null ? null : ((await getOutbound(trx, inbound.replyId)) ?? null);
    const patrons = await findPatronsByMobile(trx, inbound.fromNumber);
    // STOP and START belong to the number (SPEC §11): a card the library system links to it later
    // gets no reminder or notice by SMS until START, whatever the system says of its opt-in.
    if (inbound.command === 'start') await optInNumber(trx, inbound.fromNumber);
    if (patrons.length === 0) {
      // STOP from a number on no card needs no answer; everything else learns the number is unknown.
      if (inbound.command === 'stop') {
        await optOutNumber(trx, inbound.fromNumber, 'stop', now);
        for (const id of await waitingReminderIds(trx, inbound.fromNumber)) await supersede(trx, id, now, { reason: 'stop_from_number' });
        await finishInbound(trx, inbound.id, { ignoredReason: 'no_answer_needed' });
        return null;
      }
      return answerNotLinked(trx, deps.config, inbound, now);
    }
    return handleForPatrons(trx, deps, inbound, inbound.command, patrons, now);
  });
  if (reply && isUnfinished(reply.status)) await enqueueOutbound(deps.queues, deps.clock, [reply]);
  deps.logger.debug({ inboundId, replyId: reply?.id }, 'sms command handled');
  return reply;
}

async function handleForPatrons(
  trx: Db,
  deps: CommandDeps,
  inbound: InboundMessage,
  command: Command,
  patrons: readonly Patron[],
  now: Date,
): Promise<OutboundMessage | null> {
  const texts = textsFor(deps.config);
  const patronId = patrons[0]?.id ?? null;
  const ids = patrons.map((patron) => patron.id);
  switch (command) {
    case 'stop': {
      const changed = (await setSmsOptIn(trx, ids, false, now)) + ((await optOutNumber(trx, inbound.fromNumber, 'stop', now)) ? 1 : 0);
      for (const id of await waitingReminderIds(trx, inbound.fromNumber)) await supersede(trx, id, now, { reason: 'stop_from_patron' });
      if (changed === 0) {
        // Confirmed once: a second STOP from a number already opted out is not answered.
        await finishInbound(trx, inbound.id, { patronId, ignoredReason: 'no_answer_needed' });
        return null;
      }
      return answer(trx, deps.config, inbound, { purpose: 'stop', body: texts.stopConfirmation(), patronId }, now);
    }
    case 'start':
      await setSmsOptIn(trx, ids, true, now);
      return answer(trx, deps.config, inbound, { purpose: 'start', body: texts.startConfirmation(), patronId }, now);
    case 'help':
      return answer(trx, deps.config, inbound, { purpose: 'help', body: texts.helpReply(), patronId }, now);
    case 'unknown':
      if (!(await takeThrottle(trx, `help:${inbound.fromNumber}`, DAY_MS, now))) {
        await finishInbound(trx, inbound.id, { patronId, ignoredReason: 'throttled' });
        return null;
      }
      return answer(trx, deps.config, inbound, { purpose: 'help', body: texts.helpReply(), patronId }, now);
    case 'renew-all':
      throw new Error(`renew-all message ${inbound.id} belongs on the renew-all queue`);
    default:
      return command satisfies never;
  }
}
