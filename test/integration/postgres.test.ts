import { expect } from 'chai';
import { handleRenewAll } from '../../src/renewals/renew-all.js';
import { runReminderScan } from '../../src/reminders/reminder-scan.js';
import { reconcile } from '../../jobs/reconcile.js';
import { EVERY_RULE_TODAY, EXPECTED, EXPECTED_RENEWED, EXPECTED_TOTAL, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness, newMessageSid } from '../helpers/harness.js';
import { createPostgresDatabase } from '../helpers/postgres.js';

/**
 * The same migrations and repositories on PostgreSQL (DATABASE_URL=postgres://…): the flows whose
 * SQL differs most between the dialects — upserts, RETURNING, row locks, booleans and counts.
 */
describe('on PostgreSQL', function () {
  this.timeout(60_000);
  let h: Harness;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;

  beforeEach(async () => {
    database = await createPostgresDatabase();
    h = await Harness.start({ workers: true, databaseUrl: database.url, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
  });
  afterEach(async () => {
    await h.stop();
    await database.drop();
  });

  it('renews exactly what the rules allow and answers once, also for 20 concurrent copies and 3 different requests at once', async () => {
    const messageSid = newMessageSid();
    await Promise.all(Array.from({ length: 20 }, () => h.text(KAREN, 'HBK FORNY ALLE', messageSid)));
    const sent = await eventually(() => h.twilio.messagesTo(KAREN)[0]);
    expect(sent.body).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);

    const { body } = await h.api<{ result: { loans: { loanId: string; outcome: string; reason: string | null; newDueDate: string | null; provisional: boolean }[] } }>(
      `/api/inbound/${messageSid}`,
    );
    for (const loan of body.result.loans) {
      const expected = EXPECTED[loan.loanId];
      expect(loan.outcome, loan.loanId).to.equal(expected?.outcome);
      if (expected?.outcome === 'renewed') expect(loan).to.include({ newDueDate: expected.newDueDate, provisional: expected.provisional ?? false });
      else expect(loan.reason, loan.loanId).to.equal(expected?.reason);
    }

    // Three more requests at the same moment: the patron's rows are locked, so they run one after another.
    await Promise.all([h.text(KAREN, 'HBK FORNY ALLE'), h.text(KAREN, 'HBK FORNY ALLE'), h.text(KAREN, 'HBK FORNY ALLE')]);
    await eventually(() => h.twilio.messagesTo(KAREN).length === 4);
    const renewed = await h.deps.db('renewal_results').where({ outcome: 'renewed' }).count({ n: '*' }).first();
    expect(Number(renewed?.n)).to.equal(EXPECTED_RENEWED); // nothing renewed twice on one day
    for (const reply of h.twilio.messagesTo(KAREN).slice(1)) expect(reply.body).to.contain(`0 af ${EXPECTED_TOTAL} lån`);
    const rerun = await handleRenewAll(h.deps, Number((await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first())?.id));
    expect(rerun.state).to.equal('already-processed');
  });

  it('folds a night’s renew-alls, writes reminders once, reconciles and records receipts', async () => {
    h.clock.set(`${EVERY_RULE_TODAY}T22:00:00+01:00`);
    await h.text(KAREN, 'HBK FORNY ALLE');
    await eventually(async () => (await h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'scheduled' }).first()) !== undefined);
    await h.text(KAREN, 'HBK FORNY ALLE');
    await eventually(async () => (await h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'superseded' }).first()) !== undefined);
    const waiting = await h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'scheduled' });
    expect(waiting).to.have.length(1);
    expect(waiting[0]?.body).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);

    h.clock.set('2026-12-02T07:00:00+01:00');
    const scan = await runReminderScan(h.deps);
    expect((await runReminderScan(h.deps)).dueDate).to.equal(scan.dueDate);
    const reminders = await h.deps.db('outbound_messages').where({ kind: 'reminder' }).count({ n: '*' }).first();
    expect(Number(reminders?.n)).to.be.greaterThan(0);
    expect(await reconcile(h.deps)).to.deep.equal({ inbound: 0, outbound: 0, failed: 0 });

    h.clock.set('2026-12-02T08:45:00+01:00');
    for (const job of await h.deps.queues.sendSms.getDelayed()) await job.promote();
    const reply = await eventually(() => h.twilio.messagesTo(KAREN).find((message) => message.body.includes(' af ')));
    expect(await h.deliver(reply.sid, 'delivered')).to.equal(200);
    expect(await h.deliver(reply.sid, 'sent')).to.equal(200);
    expect((await h.deps.db('outbound_messages').where({ provider_sid: reply.sid }).first())?.status).to.equal('delivered');
  });
});

describe('notices on PostgreSQL', function () {
  this.timeout(60_000);
  const token = 'notices-token-0123456789abcdef0123456789';
  let h: Harness;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;

  beforeEach(async () => {
    database = await createPostgresDatabase();
    h = await Harness.start({ workers: true, databaseUrl: database.url, fixture: everyRuleLibrary(), now: '2026-12-01T21:30:00+01:00', env: { NOTICES_TOKEN: token } });
  });
  afterEach(async () => {
    await h.stop();
    await database.drop();
  });

  const notice = (id: string, card: string, mobile: string) => ({
    id,
    kind: 'overdue',
    patron: { cardNumber: card, name: 'Låner', mobile, email: `${card}@example.dk`, smsOptIn: true, emailOptIn: true },
    loans: [{ itemId: `item-${id}`, title: 'Babettes gæstebud', dueDate: '2026-11-20' }],
  });
  const post = (body: unknown) =>
    fetch(`${h.baseUrl}/api/notices`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

  it('upserts the directory, writes each notice once under racing requests, and counts them by kind and status', async () => {
    const batch = Array.from({ length: 30 }, (_, index) => notice(`n${index}`, `pgcard${index % 10}`, `+45300000${String(index % 10).padStart(2, '0')}`));
    const answers = await Promise.all([post(batch), post([...batch].reverse()), post(batch)]);
    expect(answers.map((answer) => answer.status)).to.deep.equal([202, 202, 202]);
    expect(Number((await h.deps.db('outbound_messages').count({ n: '*' }).first())?.n)).to.equal(60);
    expect(Number((await h.deps.db('patrons').where('id', 'like', 'card:%').count({ n: '*' }).first())?.n)).to.equal(10);
    await h.refreshMetrics();
    const metrics = await (await fetch(`${h.baseUrl}/metrics`)).text();
    expect(metrics).to.contain('forny_notices_total{library="default",kind="overdue",channel="sms",status="scheduled"} 30');
    await eventually(async () => Number((await h.deps.db('outbound_messages').where({ channel: 'email', status: 'sent' }).count({ n: '*' }).first())?.n) === 30, 10_000, 'the e-mails');
  });
});
