import { finishInbound, type InboundMessage } from '../../db/repositories/inbound.js';
import { countRepliesTo, insertOutbound, type OutboundMessage } from '../../db/repositories/outbound.js';
import { takeThrottle } from '../../db/repositories/throttles.js';
import type { Db } from '../../db/repositories/values.js';
import type { Config } from '../config.js';
import type { OutboundPurpose } from '../domain/message-status.js';
import type { Libraries, Library } from '../libraries.js';
import { smsSendAfter } from './send-after.js';

/**
 * Replies to one number in 24 hours beyond which forny stops answering it: a patron never gets
 * near it, an auto-responder talking to forny reaches it within minutes.
 */
export const REPLY_BUDGET_PER_DAY = 30;
export const DAY_MS = 24 * 3600 * 1000;

/** What a reply needs beside the database: the configuration and the libraries, whose windows and texts it uses. */
export interface ReplyContext {
  readonly config: Config;
  readonly libraries: Libraries;
}

export interface ReplyDraft {
  readonly purpose: OutboundPurpose;
  readonly body: string;
  readonly patronId: string | null;
  /** The library the reply speaks for; null for the gateway's own answers (SPEC §12). */
  readonly libraryId: string | null;
  /** One reply per cause; by default the answer to this message (`reply:in-N`). */
  readonly dedupeKey?: string;
  /** Written already claimed for sending when it may leave now: its writer took a place in the rate for it. */
  readonly claimedAtWrite?: boolean;
}

/**
 * Writes the SMS answer to an inbound message into the outbox, once per message (its dedupe key),
 * unless the number has used up its reply budget: then null, and the caller records why. The
 * budget counts every library's replies to the number (SPEC §12: per number across libraries).
 */
export async function writeReply(trx: Db, context: ReplyContext, inbound: InboundMessage, draft: ReplyDraft, now: Date): Promise<OutboundMessage | null> {
  if ((await countRepliesTo(trx, inbound.fromNumber, new Date(now.getTime() - DAY_MS))) >= REPLY_BUDGET_PER_DAY) return null;
  const { message } = await insertOutbound(
    trx,
    {
      channel: 'sms',
      kind: 'reply',
      purpose: draft.purpose,
      patronId: draft.patronId,
      inboundId: inbound.id,
      to: inbound.fromNumber,
      from: context.config.sms.from,
      body: draft.body,
      sendAfter: smsSendAfter(context.config, context.libraries.sendWindowOf(draft.libraryId), 'reply', now),
      dedupeKey: draft.dedupeKey ?? `reply:in-${inbound.id}`,
      claimedAtWrite: draft.claimedAtWrite ?? false,
      libraryId: draft.libraryId,
    },
    now,
  );
  return message;
}

/**
 * Answers a number that is on no card (of `library`, or of any library when it is undefined: the
 * gateway answers): once per 24 hours (SPEC §3), so an auto-responder or a mistyped number cannot
 * start a conversation. Records on the message what happened.
 */
export async function answerNotLinked(
  trx: Db,
  context: ReplyContext,
  inbound: InboundMessage,
  library: Library | undefined,
  now: Date,
  { claimedAtWrite = false }: Pick<ReplyDraft, 'claimedAtWrite'> = {},
): Promise<OutboundMessage | null> {
  const libraryId = library?.id ?? null;
  if (!(await takeThrottle(trx, `not-linked:${inbound.fromNumber}`, DAY_MS, now))) {
    await finishInbound(trx, inbound.id, { ignoredReason: 'throttled', libraryId });
    return null;
  }
  const body = library ? library.texts.unknownNumberReply() : context.libraries.gatewayTexts.unknownNumberReply();
  return answer(trx, context, inbound, { purpose: 'not-linked', body, patronId: null, libraryId, claimedAtWrite }, now);
}

/** Writes a reply and records it on the message, or records that the reply budget stopped it. */
export async function answer(trx: Db, context: ReplyContext, inbound: InboundMessage, draft: ReplyDraft, now: Date): Promise<OutboundMessage | null> {
  const reply = await writeReply(trx, context, inbound, draft, now);
  await finishInbound(trx, inbound.id, {
    patronId: draft.patronId,
    replyId: reply?.id ?? null,
    libraryId: draft.libraryId,
    ...(reply ? {} : { ignoredReason: 'reply_budget' as const }),
  });
  return reply;
}
