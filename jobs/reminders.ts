import { DateTime } from 'luxon';
import type { OutboundMessage } from '../db/repositories/outbound.js';
import { toOutbound } from '../db/repositories/outbound.js';
import { toBool, toStoredInstant, type Db } from '../db/repositories/values.js';
import type { Deps } from '../src/deps.js';
import { addDays, dateIn, type CalendarDate } from '../src/domain/calendar-date.js';
import { textsFor } from '../src/texts.js';
import { enqueueOutbound } from './enqueue.js';
import { smsSendAfter } from './outbox.js';
import type { Queues } from './queues.js';

type ReminderDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'queues'>;

export const REMINDER_SCHEDULER_ID = 'daily-reminder-scan';

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
  await deps.db('reminder_scans')
    .insert({ scan_date: scanDate, due_date: dueDate, started_at: toStoredInstant(now) })
    .onConflict('scan_date')
    .ignore();

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
  await deps.db('reminder_scans').where({ scan_date: scanDate }).update({ finished_at: toStoredInstant(deps.clock.now()), messages: written });
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
  const texts = textsFor(deps.config);
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
        body: texts.reminderSms(loans.length, dueDate),
        status: smsAfter > stamp ? 'scheduled' : 'queued',
        send_after: smsAfter,
        dedupe_key: key,
      });
    }
    if (patron.emailOptIn && patron.email) {
      const key = `reminder:${patron.patronId}:${dueDate}:email`;
      const email = texts.reminderEmail(patron.patronName, dueDate, loans, { hasMobile: patron.mobile !== null });
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

/** The cron pattern for REMINDER_SCAN_AT in the library's zone (BullMQ job scheduler, DST-aware). */
export async function ensureReminderSchedule(queues: Queues, config: ReminderDeps['config']): Promise<void> {
  const { hour, minute } = config.reminders.scanAt;
  await queues.reminders.upsertJobScheduler(
    REMINDER_SCHEDULER_ID,
    { pattern: `0 ${minute} ${hour} * * *`, tz: config.timeZone },
    { name: 'scan', data: {} },
  );
}

/**
 * At start: if today's scan time has passed and today's scan has not run (the process was down at
 * 07:00, or Redis lost the schedule), run it now. Returns whether a scan was enqueued.
 */
export async function catchUpReminderScan(deps: ReminderDeps): Promise<boolean> {
  const now = DateTime.fromJSDate(deps.clock.now(), { zone: deps.config.timeZone });
  const scanTime = now.set({ ...deps.config.reminders.scanAt, second: 0, millisecond: 0 });
  if (now < scanTime) return false;
  const scanDate = now.toISODate() as CalendarDate;
  const done = await deps.db('reminder_scans').where({ scan_date: scanDate }).whereNotNull('finished_at').first();
  if (done) return false;
  await deps.queues.reminders.add('scan', {}, { jobId: `scan-${scanDate}` });
  return true;
}

export function createReminderProcessor(deps: ReminderDeps) {
  return async (): Promise<ScanResult> => runReminderScan(deps);
}
