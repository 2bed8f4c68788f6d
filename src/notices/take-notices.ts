import { activeLoansOfItems, upsertPatronsByCard, type DirectoryEntry } from '../../db/repositories/library.js';
import { insertNotices, storedNotices, type NewNotice } from '../../db/repositories/notices.js';
import { getOutbound, insertOutboundMany, type NewOutboundWithLoans, type OutboundMessage } from '../../db/repositories/outbound.js';
import { optedOutAmong } from '../../db/repositories/sms-opt-outs.js';
import type { Db } from '../../db/repositories/values.js';
import type { Deps } from '../deps.js';
import { isUnfinished, type OutboundKind, type OutboundPurpose } from '../domain/message-status.js';
import { noticeDedupeKey, type Notice, type NoticeKind } from '../domain/notice.js';
import { AppError } from '../errors.js';
import { smsSendAfter } from '../outbox/send-after.js';
import { enqueuedByReconciler, enqueueOutbound } from '../queue/enqueue.js';
import { whenRedisUp } from '../redis-gate.js';
import { ownId, storedId } from '../domain/library-ids.js';
import type { Library } from '../libraries.js';
import { noticeHash } from './notice-input.js';

type NoticeDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'queues' | 'redis'>;

/** What a notice wrote (SPEC §11's answer): its SMS and e-mail, new or from the first time it came. */
export interface TakenNotice {
  readonly id: string;
  readonly messages: readonly OutboundMessage[];
}

/** SPEC §11: reminders are `reminder` messages (the stale check, STOP); the rest are `notice`. */
const MESSAGE_KIND: Readonly<Record<NoticeKind, { kind: OutboundKind; purpose: OutboundPurpose }>> = {
  reminder: { kind: 'reminder', purpose: 'reminder' },
  overdue: { kind: 'notice', purpose: 'overdue' },
  recall: { kind: 'notice', purpose: 'recall' },
  reservation_ready: { kind: 'notice', purpose: 'reservation-ready' },
};

/**
 * Takes in a request's notices (SPEC §11), all or nothing: in one transaction the directory is
 * updated by card number, each new notice writes its SMS (opted in, a mobile, the number not opted
 * out by STOP; it waits for the window) and its e-mail (opted in, an address; at once), and the
 * notice is stored with a fingerprint of its content. A notice id already stored with the same
 * content writes nothing and answers as the first time; with other content the whole request is
 * refused (409). After the commit the new messages due soon are enqueued (the night's SMS are
 * the reconciler's to enqueue before the opening); what Redis cannot take now is left to
 * reconciliation too (the outbox holds it).
 */
export async function takeNotices(deps: NoticeDeps, library: Library, own: readonly Notice[]): Promise<TakenNotice[]> {
  const now = deps.clock.now();
  // Stored under the library's key (SPEC §12): two libraries' systems may both send notice `n-1`.
  const notices = own.map((notice) => ({ ...notice, id: storedId(library.id, notice.id) }));
  const hashed = notices.map((notice) => ({ notice, hash: noticeHash(notice) }));
  const firstById = new Map<string, (typeof hashed)[number]>();
  for (const entry of hashed) {
    const first = firstById.get(entry.notice.id);
    if (first && first.hash !== entry.hash) throw new AppError('notice_conflict', 409, `notice ${entry.notice.id} appears twice in this request with different content`);
    if (!first) firstById.set(entry.notice.id, entry);
  }

  // Two requests carrying the same new id at once: the second to commit meets the first's key and
  // is run again, when it finds the notice stored (and answers as for a repeat, or 409).
  const { taken, written } = await retryOnceOnKeyConflict(() => deps.db.transaction(async (trx) => {
    const stored = await storedNotices(trx, [...firstById.keys()]);
    for (const [id, entry] of firstById) {
      if (stored.get(id) && stored.get(id)?.contentHash !== entry.hash) {
        throw new AppError('notice_conflict', 409, `notice ${id} was already received with other content; a new notice needs a new id`);
      }
    }
    // Written in one order (by id, so cards and keys too), whatever order the request had: two
    // requests at once then take their row locks in the same order and cannot deadlock.
    const fresh = [...firstById.values()].filter((entry) => !stored.has(entry.notice.id)).sort((a, b) => (a.notice.id < b.notice.id ? -1 : a.notice.id > b.notice.id ? 1 : 0));
    const written = await writeNotices(trx, deps, library, fresh, now);
    const byId = new Map<string, OutboundMessage[]>();
    for (const [id, messages] of written) byId.set(id, messages);
    for (const [id, notice] of stored) {
      const messages: OutboundMessage[] = [];
      for (const messageId of [notice.smsMessageId, notice.emailMessageId]) {
        const message = messageId === null ? undefined : await getOutbound(trx, messageId);
        if (message) messages.push(message);
      }
      byId.set(id, messages);
    }
    return { taken: notices.map((notice) => ({ id: ownId(library.id, notice.id), messages: byId.get(notice.id) ?? [] })), written: [...written.values()].flat() };
  }));

  // The e-mails and the SMS due soon go to the queues now; the night's SMS when their window nears.
  const unfinished = written.filter((message) => isUnfinished(message.status) && !enqueuedByReconciler(message, now, deps.config.jobs.reconcileIntervalMs));
  try {
    if (unfinished.length > 0) await whenRedisUp(deps.redis, () => enqueueOutbound(deps.queues, deps.clock, unfinished), 10_000);
  } catch (error) {
    deps.logger.warn({ messages: unfinished.length, err: (error as Error).message }, 'notices stored; enqueue failed and is left to reconciliation');
  }
  deps.logger.info({ library: library.id, notices: notices.length, messages: written.length }, 'notices taken in');
  return taken;
}

/**
 * A unique key violated (PostgreSQL 23505, SQLite's constraint codes), or PostgreSQL's deadlock
 * detector choosing this transaction (40P01: a belt to the ordering's braces).
 */
const isKeyConflict = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === '40P01' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
};

async function retryOnceOnKeyConflict<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!isKeyConflict(error)) throw error;
    return run();
  }
}

/** Writes new notices: directory, messages, the notices themselves. Returns each notice's messages. */
async function writeNotices(trx: Db, deps: NoticeDeps, library: Library, fresh: readonly { notice: Notice; hash: string }[], now: Date): Promise<Map<string, OutboundMessage[]>> {
  if (fresh.length === 0) return new Map();
  const texts = library.texts;

  // The directory follows the library system; within a request the last notice for a card wins.
  const entries = new Map<string, DirectoryEntry>();
  for (const { notice } of fresh) entries.set(notice.patron.cardNumber, notice.patron);
  const patronIds = await upsertPatronsByCard(trx, library.id, [...entries.values()].sort((a, b) => (a.cardNumber < b.cardNumber ? -1 : a.cardNumber > b.cardNumber ? 1 : 0)), now);

  const optedOut = await optedOutAmong(trx, library.id, fresh.flatMap(({ notice }) => (notice.patron.mobile ? [notice.patron.mobile] : [])));
  // Loans forny itself knows (the embedded library system): linked, so the stale check can ask about them.
  const known = await activeLoansOfItems(trx, library.id, fresh.flatMap(({ notice }) => notice.loans.map((loan) => loan.itemId)));

  // Every SMS of a request waits for the same opening: worked out once per kind, not per notice.
  const window = library.settings.sendWindow;
  const smsAfter = { reminder: smsSendAfter(deps.config, window, 'reminder', now), notice: smsSendAfter(deps.config, window, 'notice', now) } as const;
  const knownByItem = new Map<string, typeof known>();
  for (const found of known) knownByItem.set(found.itemKey, [...(knownByItem.get(found.itemKey) ?? []), found]);
  const messages: NewOutboundWithLoans[] = [];
  for (const { notice } of fresh) {
    const patronId = patronIds.get(notice.patron.cardNumber);
    if (!patronId) throw new Error(`patron of card ${notice.patron.cardNumber} vanished after upsert`);
    const { kind, purpose } = MESSAGE_KIND[notice.kind];
    const loans = notice.loans.flatMap((loan) =>
      (knownByItem.get(loan.itemId) ?? []).filter((found) => found.patronId === patronId).map((found) => ({ loanId: found.loanId, dueDate: loan.dueDate })),
    );
    const { mobile, email } = notice.patron;
    // Written out, not `{ ...base, channel, … }`: V8 copied a spread widened by more fields at ~6 µs a
    // message, more than writing its texts.
    if (notice.patron.smsOptIn && mobile && !optedOut.has(mobile)) {
      messages.push({
        kind,
        purpose,
        patronId,
        inboundId: null,
        loans,
        libraryId: library.id,
        channel: 'sms',
        to: mobile,
        from: deps.config.sms.from,
        body: texts.noticeSms(notice),
        sendAfter: kind === 'reminder' ? smsAfter.reminder : smsAfter.notice,
        dedupeKey: noticeDedupeKey(notice.id, 'sms'),
      });
    }
    if (notice.patron.emailOptIn && email) {
      const content = texts.noticeEmail(notice.patron.name, notice, { hasMobile: mobile !== null });
      messages.push({
        kind,
        purpose,
        patronId,
        inboundId: null,
        loans,
        libraryId: library.id,
        channel: 'email',
        to: email,
        from: library.settings.mailFrom,
        subject: content.subject,
        body: content.text,
        html: content.html,
        sendAfter: now,
        dedupeKey: noticeDedupeKey(notice.id, 'email'),
      });
    }
  }
  const stored = new Map((await insertOutboundMany(trx, messages, now)).map((message) => [message.dedupeKey, message]));

  const result = new Map<string, OutboundMessage[]>();
  const rows: NewNotice[] = fresh.map(({ notice, hash }) => {
    const sms = stored.get(noticeDedupeKey(notice.id, 'sms'));
    const mail = stored.get(noticeDedupeKey(notice.id, 'email'));
    result.set(notice.id, [sms, mail].filter((message) => message !== undefined));
    return {
      id: notice.id,
      libraryId: library.id,
      kind: notice.kind,
      cardNumber: notice.patron.cardNumber,
      patronId: patronIds.get(notice.patron.cardNumber) ?? '',
      contentHash: hash,
      loans: notice.loans,
      smsMessageId: sms?.id ?? null,
      emailMessageId: mail?.id ?? null,
    };
  });
  await insertNotices(trx, rows, now);
  return result;
}
