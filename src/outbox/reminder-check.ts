import { getPatron } from '../../db/repositories/library.js';
import { loansOfNotice } from '../../db/repositories/notices.js';
import { countNamedLoans, rewriteEmail, stillDueLoans, supersede, updateBody, type OutboundMessage } from '../../db/repositories/outbound.js';
import type { Deps } from '../deps.js';
import type { SupersedeReason } from '../domain/message-status.js';
import { noticeIdOf, type NoticeLoan } from '../domain/notice.js';
import type { CalendarDate } from '../domain/calendar-date.js';
import { earliestDueDate } from '../domain/reply-text.js';
import { LibrarySystemUnavailable } from '../library/library-system-unavailable.js';

type ReminderCheckDeps = Pick<Deps, 'db' | 'config' | 'logger' | 'libraries'>;

/**
 * The send-time check of a reminder, one for both channels (SPEC §4, §11): is it still true? A
 * reminder whose loans were all renewed or returned since it was written is superseded (false); one
 * partly stale is rewritten to count only the loans still due. A reminder the library system asked
 * for (a notice) is checked through the library-system port, which speaks only for loans it knows;
 * one forny wrote itself (the daily scan of its own tables) against those tables. Returns whether to
 * send; the row then holds the text to send.
 */
export async function reminderStillDue(deps: ReminderCheckDeps, message: OutboundMessage, now: Date): Promise<boolean> {
  const noticeId = noticeIdOf(message.dedupeKey);
  const named = noticeId === null ? undefined : await loansOfNotice(deps.db, noticeId);
  const patron = message.patronId ? await getPatron(deps.db, message.patronId) : undefined;
  // A notice's loans are the system's to speak for; forny's own reminders, its tables'.
  const due: readonly { readonly title: string; readonly dueDate: CalendarDate }[] = named ? await noticeLoansStillDue(deps, message, named) : await stillDueLoans(deps.db, message.id);
  if (due.length === 0) return settled(deps, message, now, 'loans_settled');
  if (message.channel === 'sms' && patron && !patron.smsOptIn) return settled(deps, message, now, 'patron_sms_opt_out');
  if (due.length < (named?.length ?? (await countNamedLoans(deps.db, message.id)))) {
    const texts = deps.libraries.get(message.libraryId ?? patron?.libraryId ?? '').texts;
    const dueDate = earliestDueDate(due);
    if (message.channel === 'sms') await updateBody(deps.db, message.id, texts.reminderSms(due.length, dueDate), now);
    else if (patron) await rewriteEmail(deps.db, message.id, texts.reminderEmail(patron.name, dueDate, due, { hasMobile: patron.mobile !== null }), now);
  }
  return true;
}

/** Supersedes the reminder (if it is still waiting): not to be sent. */
async function settled(deps: ReminderCheckDeps, message: OutboundMessage, now: Date, reason: SupersedeReason): Promise<false> {
  await supersede(deps.db, message.id, now, { reason });
  return false;
}

/** The named loans the library system still has due on the named date; all of them while it does not answer. */
async function noticeLoansStillDue(deps: ReminderCheckDeps, message: OutboundMessage, named: readonly NoticeLoan[]): Promise<readonly NoticeLoan[]> {
  try {
    // The library the reminder is about asks its own system (SPEC §12).
    const library = deps.libraries.find(message.libraryId);
    if (!library) return named;
    return await library.system.loansStillDue(deps.db, message.id, named);
  } catch (error) {
    if (!(error instanceof LibrarySystemUnavailable)) throw error;
    // A reminder that may be stale is better than none: the system away does not hold it back.
    deps.logger.warn({ outboundId: message.id, channel: message.channel, err: error.message }, 'library system not answering; reminder sent without its stale check');
    return named;
  }
}
