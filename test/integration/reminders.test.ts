import { expect } from 'chai';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import type { FixtureInput } from '../../db/fixture.js';
import { runReminderScan } from '../../src/reminders/reminder-scan.js';
import { catchUpReminderScan, ensureReminderSchedule, REMINDER_SCHEDULER_ID } from '../../src/queue/reminder-schedule.js';
import { eventually, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';

/** A real SMTP server on loopback that keeps what it receives, parsed. */
async function startSmtp(): Promise<{ url: string; mails: ParsedMail[]; close(): Promise<void> }> {
  const mails: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, done) {
      simpleParser(stream).then(
        (mail) => {
          mails.push(mail);
          done();
        },
        (error: Error) => done(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, mails, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const TODAY = '2026-12-01';
const DUE = '2026-12-04'; // REMINDER_DAYS_BEFORE = 3

/** Patrons on every channel and opt-in, and loans due on the reminder day and beside it. */
function reminderLibrary(): FixtureInput {
  const titles = ['Babettes gæstebud', 'Gift', 'Kongens fald', 'Det', 'Tine', 'Stuk', 'Bavian', 'alfabet', 'Lykke-Per', 'Erindringer', 'Virginia', 'Kastanjemanden'];
  const patron = (id: string, mobile: string | null, smsOptIn: boolean, email: string | null, emailOptIn: boolean) => ({
    id,
    cardNumber: `card-${id}`,
    name: `Låner ${id}`,
    mobile,
    smsOptIn,
    email,
    emailOptIn,
  });
  let n = 0;
  const loans: NonNullable<FixtureInput['loans']> = [];
  const loan = (patronId: string, dueDate: string, extra: { returnedOn?: string } = {}) => {
    n += 1;
    loans.push({ id: `l${n}`, patronId, itemId: `i${n}`, kind: 'standard', loanPeriodDays: 30, borrowedOn: '2026-11-04', dueDate, renewals: 0, ...extra });
  };
  loan('both', DUE);
  loan('both', DUE);
  loan('both', '2026-12-05');
  loan('sms', DUE);
  loan('email', DUE);
  loan('optout', DUE);
  loan('otherday', '2026-12-03');
  loan('otherday', '2026-12-05');
  loan('returned', DUE, { returnedOn: '2026-11-30' });
  loan('renewer', DUE);
  loan('partial', DUE);
  loan('partial', DUE);
  return {
    patrons: [
      patron('both', '+4562000001', true, 'both@example.dk', true),
      patron('sms', '+4562000002', true, null, false),
      patron('email', null, false, 'email@example.dk', true),
      patron('optout', '+4562000004', false, 'optout@example.dk', false),
      patron('otherday', '+4562000005', true, 'otherday@example.dk', true),
      patron('returned', '+4562000006', true, null, false),
      patron('renewer', '+4562000007', true, 'renewer@example.dk', true),
      patron('partial', '+4562000008', true, null, false),
    ],
    titles: titles.map((title, index) => ({ id: `t${index + 1}`, title })),
    items: titles.map((_, index) => ({ id: `i${index + 1}`, titleId: `t${index + 1}`, barcode: `b${index + 1}` })),
    loans,
  };
}

describe('reminders by SMS and e-mail', function () {
  let h: Harness;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;

  beforeEach(async () => {
    smtp = await startSmtp();
    h = await Harness.start({ workers: true, fixture: reminderLibrary(), now: `${TODAY}T07:00:00+01:00`, env: { SMTP_URL: smtp.url } });
  });
  afterEach(async () => {
    await h.stop();
    await smtp.close();
  });

  const outbox = () => h.deps.db('outbound_messages').where({ kind: 'reminder' }).orderBy(['patron_id', 'channel']);
  const morning = async () => {
    h.clock.set(`${TODAY}T08:45:00+01:00`);
    for (const job of await h.deps.queues.sendSms.getDelayed()) await job.promote();
  };

  it('writes one reminder per patron, due date and channel, respecting opt-outs and leaving other days alone', async () => {
    const result = await runReminderScan(h.deps);
    expect(result).to.include({ scanDate: TODAY, dueDate: DUE });
    const rows = await outbox();
    expect(rows.map((row) => `${row.patron_id}:${row.channel}:${row.to_address}`)).to.deep.equal([
      'both:email:both@example.dk',
      'both:sms:+4562000001',
      'email:email:email@example.dk',
      'partial:sms:+4562000008',
      'renewer:email:renewer@example.dk',
      'renewer:sms:+4562000007',
      'sms:sms:+4562000002',
    ]);
    const both = rows.find((row) => row.patron_id === 'both' && row.channel === 'sms');
    expect(both?.body).to.equal('Helsingør Kommunes Biblioteker: 2 lån skal afleveres senest 4. december. Svar HBK FORNY ALLE til 1910 for at forny.');
  });

  it('sends e-mail at once and SMS at 08:45, each once', async () => {
    await runReminderScan(h.deps);
    await eventually(() => smtp.mails.length === 3, 10_000, 'three e-mails');
    expect(h.twilio.messages).to.have.length(0);
    for (const row of (await outbox()).filter((r) => r.channel === 'sms')) {
      expect(row).to.include({ status: 'scheduled', send_after: `${TODAY}T07:45:00.000Z` });
    }
    await morning();
    await eventually(() => h.twilio.messages.length === 4, 10_000, 'four SMS');
    expect(h.twilio.messages.map((message) => message.to).sort()).to.deep.equal(['+4562000001', '+4562000002', '+4562000007', '+4562000008']);
  });

  it('e-mails a Danish reminder with plain-text and HTML parts listing each loan due', async () => {
    await runReminderScan(h.deps);
    const mail = await eventually(() => smtp.mails.find((m) => m.to && !Array.isArray(m.to) && m.to.text === 'both@example.dk'));
    expect(mail.subject).to.equal('Påmindelse: 2 lån skal afleveres senest 4. december');
    expect(mail.from?.text).to.contain('noreply@helsbib.dk');
    expect(mail.text).to.contain('Kære Låner both');
    expect(mail.text).to.contain('- Babettes gæstebud (afleveres senest 4. december)');
    expect(mail.text).to.contain('- Gift (afleveres senest 4. december)');
    expect(mail.text).to.contain('HBK FORNY ALLE');
    expect(mail.text).not.to.contain('Kongens fald'); // due another day
    expect(mail.html).to.be.a('string');
    expect(mail.html).to.contain('<li>Babettes gæstebud');
    expect(mail.html).to.contain('<strong>4. december</strong>');
  });

  it('e-mails the library\'s name, and invites an SMS only where a mobile number is on file', async () => {
    await runReminderScan(h.deps);
    await eventually(() => smtp.mails.length === 3, 10_000, 'three e-mails');
    const to = (address: string) => smtp.mails.find((m) => m.to && !Array.isArray(m.to) && m.to.text === address);
    const withMobile = to('both@example.dk');
    expect(withMobile?.from?.text).to.contain('Helsingør Kommunes Biblioteker');
    expect(withMobile?.text).to.contain('ved at sende HBK FORNY ALLE til 1910');
    expect(withMobile?.text).to.contain('Venlig hilsen\nHelsingør Kommunes Biblioteker');
    const noMobile = to('email@example.dk');
    expect(noMobile?.text).to.contain('Du kan forny dem på helsbib.dk.');
    expect(noMobile?.text).to.not.match(/FORNY ALLE|1910/);
    expect(noMobile?.html).to.not.match(/FORNY ALLE|1910/);
  });

  it('a second scan the same day writes and sends nothing new', async () => {
    const keys = async () => (await outbox()).map((row) => `${row.id} ${row.dedupe_key}`);
    await runReminderScan(h.deps);
    const first = await keys();
    await runReminderScan(h.deps);
    expect(await keys()).to.deep.equal(first);
    await eventually(() => smtp.mails.length === 3);
    await morning();
    await eventually(() => h.twilio.messages.length === 4);
    await queuesSettled(h.deps.queues.all);
    expect(smtp.mails).to.have.length(3);
    expect(h.twilio.messages).to.have.length(4);
  });

  it('supersedes the SMS reminder of a patron who renewed before 08:45, and recounts a partly stale one', async () => {
    await runReminderScan(h.deps);
    h.clock.set(`${TODAY}T07:30:00+01:00`);
    await h.text('+4562000007', 'HBK FORNY ALLE'); // renewed from the e-mail, at night
    await eventually(async () => (await h.deps.db('outbound_messages').where({ purpose: 'renew-all' }).first()) !== undefined);
    await h.deps.db('loans').where({ id: 'l12' }).update({ returned_on: TODAY }); // one of partial's two loans came back

    await morning();
    await eventually(() => h.twilio.messages.length === 4, 10_000, 'the sends of the morning');
    const renewer = h.twilio.messagesTo('+4562000007');
    expect(renewer.map((message) => message.body)).to.deep.equal(['Helsingør Kommunes Biblioteker: 1 af 1 lån er fornyet.']);
    const reminder = await h.deps.db('outbound_messages').where({ patron_id: 'renewer', channel: 'sms', kind: 'reminder' }).first();
    expect(reminder).to.include({ status: 'superseded', superseded_reason: 'loans_settled' });
    expect(h.twilio.messagesTo('+4562000008')[0]?.body).to.contain(': 1 lån skal afleveres senest 4. december');
  });

  it('runs today’s missed scan at start, and a restart later that day sends nothing again', async () => {
    h.clock.set(`${TODAY}T10:00:00+01:00`);
    expect(await catchUpReminderScan(h.deps)).to.equal(true);
    await eventually(async () => (await h.deps.db('reminder_scans').where({ scan_date: TODAY }).whereNotNull('finished_at').first()) !== undefined);
    await eventually(() => smtp.mails.length === 3 && h.twilio.messages.length === 4, 10_000, 'every reminder sent (window open)');

    h.clock.set(`${TODAY}T15:00:00+01:00`);
    expect(await catchUpReminderScan(h.deps)).to.equal(false);
    await h.workers?.reconcileNow();
    await queuesSettled(h.deps.queues.all);
    expect(smtp.mails).to.have.length(3);
    expect(h.twilio.messages).to.have.length(4);
  });

  it('waits for the scan time before catching up, and schedules the daily scan in the library zone', async () => {
    h.clock.set(`${TODAY}T06:59:00+01:00`);
    expect(await catchUpReminderScan(h.deps)).to.equal(false);
    await ensureReminderSchedule(h.deps.queues, h.config);
    const scheduler = await h.deps.queues.reminders.getJobScheduler(REMINDER_SCHEDULER_ID);
    expect(scheduler).to.deep.include({ pattern: '0 0 7 * * *', tz: 'Europe/Copenhagen' });
  });

  it('finds the loans due through the partial index on active loans, not a scan of all loans', async () => {
    const plan: unknown = await h.deps.db.raw(
      "explain query plan select l.id from loans l join patrons p on p.id = l.patron_id where l.due_date = ? and l.returned_on is null",
      [DUE],
    );
    const steps = (plan as { detail: string }[]).map((row) => row.detail).join(' | ');
    expect(steps).to.match(/SEARCH l USING INDEX loans_active_due_idx \(due_date=\?\)/);
  });
});
