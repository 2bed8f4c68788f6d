import { getLoan, getPatron, recallLoan, restoreRefusedIllRenewal, type Loan, type Patron } from '../db/repositories/library.js';
import { attachLoans, insertOutbound, type OutboundMessage } from '../db/repositories/outbound.js';
import { insertRenewalResults } from '../db/repositories/renewals.js';
import type { Db } from '../db/repositories/values.js';
import { enqueueOutbound } from './queue/enqueue.js';
import { smsSendAfter } from './outbox/send-after.js';
import { compareDates, dateIn, isCalendarDate, type CalendarDate } from './domain/calendar-date.js';
import { escapeHtml } from './domain/escape-html.js';
import type { OutboundPurpose } from './domain/message-status.js';
import type { Deps } from './deps.js';
import { AppError } from './errors.js';

type DecisionDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'queues' | 'logger' | 'libraries'>;

async function activeIllLoan(trx: Db, loanId: string): Promise<Loan> {
  const loan = await getLoan(trx, loanId);
  if (!loan) throw new AppError('not_found', 404, `no loan with id ${loanId}`);
  if (loan.kind !== 'ill') throw new AppError('not_interlibrary', 409, `loan ${loanId} is not an interlibrary loan`);
  if (loan.returnedOn !== null) throw new AppError('returned', 409, `loan ${loanId} was returned on ${loan.returnedOn}`);
  return loan;
}

/**
 * Tells the patron by SMS when they take SMS about their loans, else by e-mail when they take that;
 * a notice waits for the window like every SMS that is not an answer. Keyed, so one decision is
 * told once.
 */
async function writeNotice(trx: Db, deps: DecisionDeps, patron: Patron, notice: { purpose: OutboundPurpose; body: string; loanId: string; dueDate: CalendarDate }, now: Date): Promise<OutboundMessage | null> {
  const library = deps.libraries.get(patron.libraryId);
  const base = { kind: 'notice', purpose: notice.purpose, patronId: patron.id, inboundId: null, body: notice.body, libraryId: library.id } as const;
  const dedupeKey = `${notice.purpose}:${notice.loanId}:${notice.dueDate}`;
  let written: OutboundMessage | null = null;
  if (patron.smsOptIn && patron.mobile) {
    written = (await insertOutbound(trx, { ...base, channel: 'sms', to: patron.mobile, from: deps.config.sms.from, sendAfter: smsSendAfter(deps.config, library.settings.sendWindow, 'notice', now), dedupeKey }, now)).message;
  } else if (patron.emailOptIn && patron.email) {
    const subject = notice.purpose === 'ill-refused' ? 'Fornyelsen af et fjernlån er afvist' : 'Et fjernlån er kaldt hjem';
    written = (await insertOutbound(trx, { ...base, channel: 'email', to: patron.email, from: library.settings.mailFrom, subject, html: `<p>${escapeHtml(notice.body)}</p>`, sendAfter: now, dedupeKey }, now)).message;
  }
  if (written) await attachLoans(trx, written.id, [{ loanId: notice.loanId, dueDate: notice.dueDate }]);
  return written;
}

export interface IllDecision {
  readonly loanId: string;
  readonly dueDate: CalendarDate;
  readonly notice: OutboundMessage | null;
}

/**
 * The owning library refused an interlibrary renewal made "med forbehold" (SPEC §2): the due date
 * before the renewal returns, the renewal no longer counts, the result is recorded as `ill_refused`,
 * the loan is marked so that no renew-all renews it again (rule 3), and the patron is told: to return
 * it by the restored date, or at once when that date has already passed.
 */
export async function refuseIllRenewal(deps: DecisionDeps, loanId: string): Promise<IllDecision> {
  const now = deps.clock.now();
  const today = dateIn(now, deps.config.timeZone);
  const decision = await deps.db.transaction(async (trx) => {
    const loan = await activeIllLoan(trx, loanId);
    if (!loan.provisional || loan.previousDueDate === null) {
      throw new AppError('not_provisional', 409, `loan ${loanId} has no renewal awaiting the owning library`);
    }
    const restored = loan.previousDueDate;
    if (!(await restoreRefusedIllRenewal(trx, loan, today, now))) throw new AppError('conflict', 409, `loan ${loanId} changed meanwhile; try again`);
    await insertRenewalResults(
      trx,
      [{ inboundId: null, loanId, patronId: loan.patronId, outcome: 'refused', reason: 'ill_refused', oldDueDate: loan.dueDate, newDueDate: restored, provisional: false }],
      now,
    );
    const patron = await getPatron(trx, loan.patronId);
    const notice = patron ? await writeNotice(trx, deps, patron, { purpose: 'ill-refused', body: deps.libraries.get(patron.libraryId).texts.illRefusedNotice(restored, today), loanId, dueDate: restored }, now) : null;
    return { loanId, dueDate: restored, notice };
  });
  if (decision.notice) await enqueueOutbound(deps.queues, deps.clock, [decision.notice]);
  deps.logger.info({ loanId, dueDate: decision.dueDate }, 'interlibrary renewal refused by the owning library');
  return decision;
}

/**
 * The owning library recalled an interlibrary loan (SPEC §2): the due date is shortened to
 * `dueDate` (not before today, not after the current due date), the loan is marked so that no
 * renew-all renews it again (rule 2), and the patron is told.
 */
export async function recallIllLoan(deps: DecisionDeps, loanId: string, dueDate: string): Promise<IllDecision> {
  const now = deps.clock.now();
  if (!isCalendarDate(dueDate)) throw new AppError('invalid_field', 400, `dueDate must be a date (YYYY-MM-DD), got ${JSON.stringify(dueDate)}`);
  const today = dateIn(now, deps.config.timeZone);
  const decision = await deps.db.transaction(async (trx) => {
    const loan = await activeIllLoan(trx, loanId);
    if (compareDates(dueDate, today) < 0) throw new AppError('invalid_field', 400, `dueDate ${dueDate} is before today (${today})`);
    if (compareDates(dueDate, loan.dueDate) >= 0) throw new AppError('invalid_field', 400, `dueDate ${dueDate} does not shorten the loan (due ${loan.dueDate})`);
    await recallLoan(trx, loanId, dueDate, today, now);
    const patron = await getPatron(trx, loan.patronId);
    const notice = patron ? await writeNotice(trx, deps, patron, { purpose: 'ill-recalled', body: deps.libraries.get(patron.libraryId).texts.illRecalledNotice(dueDate), loanId, dueDate }, now) : null;
    return { loanId, dueDate, notice };
  });
  if (decision.notice) await enqueueOutbound(deps.queues, deps.clock, [decision.notice]);
  deps.logger.info({ loanId, dueDate }, 'interlibrary loan recalled by the owning library');
  return decision;
}
