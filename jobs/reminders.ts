import type { OutboundMessage } from '../db/repositories/outbound.js';
import { toOutbound } from '../db/repositories/outbound.js';
import { finishReminderScan, startReminderScan } from '../db/repositories/reminder-scans.js';
import { toBool, toStoredInstant, type Db } from '../db/repositories/values.js';
import type { Deps } from '../src/deps.js';
import { addDays, dateIn, type CalendarDate } from '../src/domain/calendar-date.js';
import { reminderEmail, reminderSms } from '../src/domain/reply-text.js';
import { enqueueOutbound } from '../src/queue/enqueue.js';
import { smsSendAfter } from '../src/outbox/send-after.js';

type ReminderDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'queues'>;

interface DueLoan {
  loanId: string;
  patronId: string;
  patronName: string;
  mobile: string | null;
  smsOptIn: boolean;
  email: string | null;
  emailOptIn: boolean;
  title: string;
  dueDate: CalendarDate;
}

export interface ScanResult {
  readonly scanDate: CalendarDate;
  readonly dueDate: CalendarDate;
  readonly patrons: number;
  readonly written: number;
}

/** Patrons handled per transaction: large enough to be quick, small enough not to hold the writer long. */
const PATRONS_PER_BATCH = 200;

/**
 * The daily scan (SPEC §4): active loans due in REMINDER_DAYS_BEFORE days, one reminder per
 * patron, due date and channel; SMS for opted-in patrons with a mobile number (they wait for the
 * window), e-mail for opted-in patrons with an address (it leaves at once). Every reminder has a
 * unique key, so a second scan the same day writes nothing new.
 */
export async function runReminderScan(deps: ReminderDeps): Promise<ScanResult> {
  const now = deps.clock.now();
  const scanDate = dateIn(now, deps.config.timeZone);
  const dueDate = addDays(scanDate, deps.config.reminders.daysBefore);
  await startReminderScan(deps.db, scanDate, dueDate, now);

  const byPatron = groupByPatron(await loansDueOn(deps.db, dueDate));
  let written = 0;
  for (let start = 0; start < byPatron.length; start += PATRONS_PER_BATCH) {
    const batch = byPatron.slice(start, start + PATRONS_PER_BATCH);
    const messages = await deps.db.transaction((trx) => writeReminders(trx, deps, batch, dueDate, now));
    written += messages.length;
    await enqueueOutbound(
      deps.queues,
      deps.clock,
      messages.filter((message) => message.status === 'scheduled' || message.status === 'queued'),
    );
  }
  await finishReminderScan(deps.db, scanDate, written, deps.clock.now());
  deps.logger.info({ scanDate, dueDate, patrons: byPatron.length, written }, 'reminder scan done');
  return { scanDate, dueDate, patrons: byPatron.length, written };
}

/** Uses the partial index on active loans by due date: the cost follows the loans due that day. */
async function loansDueOn(db: Db, dueDate: CalendarDate): Promise<DueLoan[]> {
  const rows = await db('loans as l')
    .join('patrons as p', 'p.id', 'l.patron_id')
    .join('items as i', 'i.id', 'l.item_id')
    .join('titles as t', 't.id', 'i.title_id')
    .where('l.due_date', dueDate)
    .whereNull('l.returned_on')
    .orderBy([{ column: 'l.patron_id' }, { column: 'l.id' }])
    .select('l.id as loan_id', 'l.patron_id', 'p.name', 'p.mobile', 'p.sms_opt_in', 'p.email', 'p.email_opt_in', 't.title', 'l.due_date');
  return rows.map((row) => ({
    loanId: row.loan_id,
    patronId: row.patron_id,
    patronName: row.name,
    mobile: row.mobile,
    smsOptIn: toBool(row.sms_opt_in),
    email: row.email,
    emailOptIn: toBool(row.email_opt_in),
    title: row.title,
    dueDate: row.due_date,
  }));
}

function groupByPatron(loans: readonly DueLoan[]): DueLoan[][] {
  const groups = new Map<string, DueLoan[]>();
  for (const loan of loans) groups.set(loan.patronId, [...(groups.get(loan.patronId) ?? []), loan]);
  return [...groups.values()];
}

async function writeReminders(trx: Db, deps: ReminderDeps, patrons: readonly DueLoan[][], dueDate: CalendarDate, now: Date): Promise<OutboundMessage[]> {
  const stamp = toStoredInstant(now);
  const smsAfter = toStoredInstant(smsSendAfter(deps.config, 'reminder', now));
  const rows: Record<string, unknown>[] = [];
  const loansByKey = new Map<string, readonly DueLoan[]>();
  for (const loans of patrons) {
    const patron = loans[0];
    if (!patron) continue;
    const base = { kind: 'reminder', purpose: 'reminder', patron_id: patron.patronId, inbound_id: null, created_at: stamp, updated_at: stamp };
    if (patron.smsOptIn && patron.mobile) {
      const key = `reminder:${patron.patronId}:${dueDate}:sms`;
      loansByKey.set(key, loans);
      rows.push({
        ...base,
        channel: 'sms',
        to_address: patron.mobile,
        from_address: deps.config.sms.from,
        body: reminderSms(loans.length, dueDate),
        status: smsAfter > stamp ? 'scheduled' : 'queued',
        send_after: smsAfter,
        dedupe_key: key,
      });
    }
    if (patron.emailOptIn && patron.email) {
      const key = `reminder:${patron.patronId}:${dueDate}:email`;
      const email = reminderEmail(patron.patronName, dueDate, loans);
      loansByKey.set(key, loans);
      rows.push({
        ...base,
        channel: 'email',
        to_address: patron.email,
        from_address: deps.config.mail.from,
        subject: email.subject,
        body: email.text,
        html: email.html,
        status: 'queued',
        send_after: stamp,
        dedupe_key: key,
      });
    }
  }
  if (rows.length === 0) return [];
  for (let start = 0; start < rows.length; start += 50) {
    await trx('outbound_messages').insert(rows.slice(start, start + 50)).onConflict('dedupe_key').ignore();
  }
  const keys = [...loansByKey.keys()];
  const stored: OutboundMessage[] = [];
  for (let start = 0; start < keys.length; start += 500) {
    stored.push(...(await trx('outbound_messages').whereIn('dedupe_key', keys.slice(start, start + 500))).map(toOutbound));
  }
  const links = stored.flatMap((message) =>
    (loansByKey.get(`reminder:${message.patronId}:${dueDate}:${message.channel}`) ?? []).map((loan) => ({
      outbound_id: message.id,
      loan_id: loan.loanId,
      due_date: loan.dueDate,
    })),
  );
  for (let start = 0; start < links.length; start += 150) {
    await trx('outbound_loans').insert(links.slice(start, start + 150)).onConflict(['outbound_id', 'loan_id']).ignore();
  }
  return stored;
}

export function createReminderProcessor(deps: ReminderDeps) {
  return async (): Promise<ScanResult> => runReminderScan(deps);
}
