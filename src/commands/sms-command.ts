import { claimInbound, finishInbound, getInbound, type InboundMessage } from '../../db/repositories/inbound.js';
import { findPatronsByMobile, setSmsOptIn, type Patron } from '../../db/repositories/library.js';
import { getOutbound, supersede, waitingReminderIds, type OutboundMessage } from '../../db/repositories/outbound.js';
import { EVERY_LIBRARY, optInNumber, optOutNumber } from '../../db/repositories/sms-opt-outs.js';
import { takeThrottle } from '../../db/repositories/throttles.js';
import type { Db } from '../../db/repositories/values.js';
import type { Deps } from '../deps.js';
import { isUnfinished } from '../domain/message-status.js';
import type { Library } from '../libraries.js';
import { enqueueOutbound } from '../queue/enqueue.js';
import { answer, answerNotLinked, DAY_MS } from '../outbox/replies.js';
import { routeInbound } from './route.js';

export type CommandDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'queues' | 'libraries'>;

/**
 * Handles every command but renew-all (SPEC §3, §12): STOP and START change the number's SMS opt-in,
 * for one library when the message names its keyword, else for every library, and are confirmed;
 * HJÆLP gets the help text of the number's library (or the gateway's), and anything else gets it at
 * most once per number per 24 hours, so forny never keeps a conversation going with an auto-responder.
 */
export async function handleSmsCommand(deps: CommandDeps, inboundId: number): Promise<OutboundMessage | null> {
  const now = deps.clock.now();
  const reply = await deps.db.transaction(async (trx) => {
    const claimed = await claimInbound(trx, inboundId, now);
    const inbound = await getInbound(trx, inboundId);
    if (!inbound) throw new Error(`inbound message ${inboundId} does not exist`);
    if (!claimed) return inbound.replyId === null ? null : ((await getOutbound(trx, inbound.replyId)) ?? null);
    if (inbound.command === 'stop' || inbound.command === 'start') return stopOrStart(trx, deps, inbound, now);
    return helpOrUnknown(trx, deps, inbound, now);
  });
  if (reply && isUnfinished(reply.status)) await enqueueOutbound(deps.queues, deps.clock, [reply]);
  deps.logger.debug({ inboundId, replyId: reply?.id }, 'sms command handled');
  return reply;
}

/**
 * STOP and START belong to the number (SPEC §11, §12): a card a library system links to it later
 * gets no reminder or notice by SMS until START, whatever the system says of its opt-in. With one
 * library, STOP and `STOP HBK` are the same; with several, `STOP` alone covers every library.
 */
async function stopOrStart(trx: Db, deps: CommandDeps, inbound: InboundMessage, now: Date): Promise<OutboundMessage | null> {
  const named = deps.libraries.several ? deps.libraries.find(inbound.libraryId) : undefined;
  const scope = named?.id ?? EVERY_LIBRARY;
  const patrons = await findPatronsByMobile(trx, inbound.fromNumber, named?.id);
  const ids = patrons.map((patron) => patron.id);
  // Who confirms: the library named, or the one library, or the gateway for all of them.
  const speaker: Library | undefined = named ?? (deps.libraries.several ? undefined : deps.libraries.all[0]);
  const patronId = patrons.find((patron) => patron.libraryId === speaker?.id)?.id ?? patrons[0]?.id ?? null;

  if (inbound.command === 'start') {
    await optInNumber(trx, inbound.fromNumber, scope, deps.libraries.all.map((library) => library.id));
    if (patrons.length === 0) return answerNotLinked(trx, deps, inbound, speaker, now);
    await setSmsOptIn(trx, ids, true, now);
    const body = speaker ? speaker.texts.startConfirmation() : deps.libraries.gatewayTexts.startEverywhere();
    return answer(trx, deps, inbound, { purpose: 'start', body, patronId, libraryId: speaker?.id ?? null }, now);
  }

  const stoppedNow = await optOutNumber(trx, inbound.fromNumber, scope, 'stop', now);
  const changed = (await setSmsOptIn(trx, ids, false, now)) + (stoppedNow ? 1 : 0);
  const reason = patrons.length === 0 ? 'stop_from_number' : 'stop_from_patron';
  for (const id of await waitingReminderIds(trx, inbound.fromNumber, named?.id)) await supersede(trx, id, now, { reason });
  // STOP from a number on no card needs no answer; a second STOP from a number already stopped neither (confirmed once).
  if (patrons.length === 0 || changed === 0) {
    await finishInbound(trx, inbound.id, { patronId: patrons.length === 0 ? undefined : patronId, ignoredReason: 'no_answer_needed', libraryId: speaker?.id ?? null });
    return null;
  }
  const body = speaker ? speaker.texts.stopConfirmation() : deps.libraries.gatewayTexts.stopEverywhere();
  return answer(trx, deps, inbound, { purpose: 'stop', body, patronId, libraryId: speaker?.id ?? null }, now);
}

/** Help, and anything forny does not understand: from the number's library when one directory holds it, else from the gateway. */
async function helpOrUnknown(trx: Db, deps: CommandDeps, inbound: InboundMessage, now: Date): Promise<OutboundMessage | null> {
  if (inbound.command === 'renew-all') throw new Error(`renew-all message ${inbound.id} belongs on the renew-all queue`);
  const route = await routeInbound(trx, deps.libraries, inbound);
  if (route.to === 'nobody' || (route.to === 'library' && route.patrons.length === 0)) {
    return answerNotLinked(trx, deps, inbound, route.to === 'library' ? route.library : undefined, now);
  }
  const patrons: readonly Patron[] = route.to === 'library' ? route.patrons : [];
  const library = route.to === 'library' ? route.library : undefined;
  const patronId = patrons[0]?.id ?? null;
  const libraryId = library?.id ?? null;
  if (inbound.command === 'unknown' && !(await takeThrottle(trx, `help:${inbound.fromNumber}`, DAY_MS, now))) {
    await finishInbound(trx, inbound.id, { patronId, ignoredReason: 'throttled', libraryId });
    return null;
  }
  const body = library ? library.texts.helpReply() : deps.libraries.gatewayTexts.helpReply();
  return answer(trx, deps, inbound, { purpose: 'help', body, patronId, libraryId }, now);
}
