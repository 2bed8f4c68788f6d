import { activeLoansDueOn, type DueLoan } from '../../db/repositories/library.js';
import { insertOutboundMany, type NewOutboundWithLoans, type OutboundMessage } from '../../db/repositories/outbound.js';
import { finishReminderScan, startReminderScan } from '../../db/repositories/reminder-scans.js';
import { optedOutAmong } from '../../db/repositories/sms-opt-outs.js';
import type { Db } from '../../db/repositories/values.js';
import type { Deps } from '../deps.js';
import { isUnfinished } from '../domain/message-status.js';
import { addDays, dateIn, type CalendarDate } from '../domain/calendar-date.js';
import { enqueueOutbound } from '../queue/enqueue.js';
import { smsSendAfter } from '../outbox/send-after.js';
import type { Library } from '../libraries.js';

export type ReminderDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'queues' | 'libraries'>;

export interface ScanResult {
  readonly scanDate: CalendarDate;
  readonly dueDate: CalendarDate;
  readonly patrons: number;
  readonly written: number;
}

/** Patrons handled per transaction: large enough to be quick, small enough not to hold the writer long. */
const PATRONS_PER_BATCH = 200;

/**
 * The daily scan (SPEC §4), library by library (SPEC §12: each library's loans and patrons): active
 * loans due in REMINDER_DAYS_BEFORE days, one reminder per patron, due date and channel; SMS for
 * opted-in patrons with a mobile number (they wait for their library's window), e-mail for opted-in
 * patrons with an address (it leaves at once). Every reminder has a unique key, so a second scan
 * the same day writes nothing new. A library whose loans live in its own system has none here: its
 * reminders come as notices (SPEC §11).
 */
export async function runReminderScan(deps: ReminderDeps): Promise<ScanResult> {
  const now = deps.clock.now();
  const scanDate = dateIn(now, deps.config.timeZone);
  const dueDate = addDays(scanDate, deps.config.reminders.daysBefore);
  let patrons = 0;
  let written = 0;
  for (const library of deps.libraries.all) {
    const scanned = await scanLibrary(deps, library, scanDate, dueDate, now);
    patrons += scanned.patrons;
    written += scanned.written;
  }
  return { scanDate, dueDate, patrons, written };
}

async function scanLibrary(deps: ReminderDeps, library: Library, scanDate: CalendarDate, dueDate: CalendarDate, now: Date): Promise<{ patrons: number; written: number }> {
  await startReminderScan(deps.db, library.id, scanDate, dueDate, now);
  const byPatron = groupByPatron(await activeLoansDueOn(deps.db, library.id, dueDate));
  let written = 0;
  for (let start = 0; start < byPatron.length; start += PATRONS_PER_BATCH) {
    const batch = byPatron.slice(start, start + PATRONS_PER_BATCH);
    const messages = await deps.db.transaction((trx) => writeReminders(trx, deps, library, batch, dueDate, now));
    written += messages.length;
    await enqueueOutbound(
      deps.queues,
      deps.clock,
      messages.filter((message) => isUnfinished(message.status)),
    );
  }
  await finishReminderScan(deps.db, library.id, scanDate, written, deps.clock.now());
  deps.logger.info({ library: library.id, scanDate, dueDate, patrons: byPatron.length, written }, 'reminder scan done');
  return { patrons: byPatron.length, written };
}

function groupByPatron(loans: readonly DueLoan[]): DueLoan[][] {
  const groups = new Map<string, DueLoan[]>();
  for (const loan of loans) groups.set(loan.patronId, [...(groups.get(loan.patronId) ?? []), loan]);
  return [...groups.values()];
}

async function writeReminders(trx: Db, deps: ReminderDeps, library: Library, patrons: readonly DueLoan[][], dueDate: CalendarDate, now: Date): Promise<OutboundMessage[]> {
  const texts = library.texts;
  const smsAfter = smsSendAfter(deps.config, library.settings.sendWindow, 'reminder', now);
  const messages: NewOutboundWithLoans[] = [];
  // STOP belongs to the number (SPEC §11): a number that texted STOP gets no reminder by SMS.
  const optedOut = await optedOutAmong(trx, library.id, patrons.flatMap((loans) => (loans[0]?.mobile ? [loans[0].mobile] : [])));
  for (const loans of patrons) {
    const patron = loans[0];
    if (!patron) continue;
    const base = { kind: 'reminder', purpose: 'reminder', patronId: patron.patronId, inboundId: null, loans, libraryId: library.id } as const;
    if (patron.smsOptIn && patron.mobile && !optedOut.has(patron.mobile)) {
      messages.push({
        ...base,
        channel: 'sms',
        to: patron.mobile,
        from: deps.config.sms.from,
        body: texts.reminderSms(loans.length, dueDate),
        sendAfter: smsAfter,
        dedupeKey: `reminder:${patron.patronId}:${dueDate}:sms`,
      });
    }
    if (patron.emailOptIn && patron.email) {
      const email = texts.reminderEmail(patron.patronName, dueDate, loans, { hasMobile: patron.mobile !== null });
      messages.push({
        ...base,
        channel: 'email',
        to: patron.email,
        from: library.settings.mailFrom,
        subject: email.subject,
        body: email.text,
        html: email.html,
        sendAfter: now,
        dedupeKey: `reminder:${patron.patronId}:${dueDate}:email`,
      });
    }
  }
  return insertOutboundMany(trx, messages, now);
}
