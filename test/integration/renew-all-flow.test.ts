import { expect } from 'chai';
import { EVERY_RULE_TODAY, EXPECTED, EXPECTED_RENEWED, EXPECTED_TOTAL, KAREN, OTHER_PATRON, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness, newMessageSid } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';
import type { InboundView, MessageView } from '../helpers/api-views.js';

describe('renew-all, end to end (real Redis, temp SQLite, loopback Twilio)', function () {
  let h: Harness;

  beforeEach(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
  });
  afterEach(async () => h.stop());

  const dueDates = async () => Object.fromEntries((await h.deps.db('loans').select('id', 'due_date', 'renewals')).map((row) => [row.id, `${row.due_date}/${row.renewals}`]));

  it('renews exactly what the rules allow and answers once with "N af M lån"', async () => {
    const { messageSid, response } = await h.text(KAREN, 'HBK FORNY ALLE');
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/xml/);
    expect(await response.text()).to.contain('<Response/>');

    const sent = await eventually(() => h.twilio.messagesTo(KAREN)[0], 10_000, 'the reply to reach Twilio');
    expect(sent.body).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
    expect(sent.body).to.contain('helsbib.dk');
    expect(sent.from).to.equal('1910');
    expect(sent.statusCallback).to.equal('https://forny.test/sms/status');

    const { status, body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
    expect(status).to.equal(200);
    expect(inbound).to.include({ messageSid, from: KAREN, command: 'renew-all', status: 'processed', patronId: 'p-karen' });
    expect(inbound.result?.total).to.equal(EXPECTED_TOTAL);
    expect(inbound.result?.renewed).to.equal(EXPECTED_RENEWED);
    const byLoan = Object.fromEntries((inbound.result?.loans ?? []).map((loan) => [loan.loanId, loan]));
    expect(Object.keys(byLoan).sort()).to.deep.equal(Object.keys(EXPECTED).sort()); // the returned loan is not part of it
    for (const [loanId, expected] of Object.entries(EXPECTED)) {
      const loan = byLoan[loanId];
      expect(loan, loanId).to.include({ systemMessage: null });
      expect(loan?.itemId, loanId).to.be.a('string').and.not.equal('');
      expect(loan?.title, loanId).to.be.a('string').and.not.equal('');
      if (expected.outcome === 'renewed') {
        expect(loan, loanId).to.include({ outcome: 'renewed', reason: null, newDueDate: expected.newDueDate, provisional: expected.provisional ?? false });
      } else {
        expect(loan, loanId).to.include({ outcome: 'refused', reason: expected.reason, newDueDate: null });
      }
    }

    const loans = await dueDates();
    for (const [loanId, expected] of Object.entries(EXPECTED)) {
      if (expected.outcome === 'renewed') expect(loans[loanId]?.split('/')[0], loanId).to.equal(expected.newDueDate);
    }
    expect(loans['l-other']).to.equal('2026-12-03/0'); // another patron's loan is untouched

    // The reply is the one the inbound names, and the outbox shows it sent with Twilio's sid.
    const reply = await eventually(async () => {
      const { body } = await h.api<MessageView[]>(`/api/messages?direction=out&to=${encodeURIComponent(KAREN)}`);
      return body.find((message) => message.id === inbound.replyId && message.status === 'sent');
    });
    expect(reply).to.include({ channel: 'sms', kind: 'reply', from: '1910', providerSid: sent.sid, body: sent.body });
    expect(reply.sentAt).to.match(/^2026-12-01T10:00:00\.000\+01:00$/);
  });

  it('changes nothing when Twilio delivers the same MessageSid again', async () => {
    const messageSid = newMessageSid();
    await h.text(KAREN, 'HBK FORNY ALLE', messageSid);
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1);
    const before = await dueDates();

    const again = await h.text(KAREN, 'HBK FORNY ALLE', messageSid);
    expect(again.response.status).to.equal(200);
    await h.workers?.reconcileNow();
    await queuesSettled(h.deps.queues.all);
    expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
    expect(await dueDates()).to.deep.equal(before);
    expect(await h.deps.db('inbound_messages').count({ n: '*' }).first())?.to.deep.equal({ n: 1 });
  });

  it('stores one message, renews once and answers once for 20 concurrent copies of one webhook', async () => {
    const messageSid = newMessageSid();
    const responses = await Promise.all(Array.from({ length: 20 }, () => h.text(KAREN, 'HBK FORNY ALLE', messageSid)));
    expect(responses.map((copy) => copy.response.status)).to.deep.equal(Array(20).fill(200));
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1);
    await queuesSettled(h.deps.queues.all);
    expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
    const renewals = await h.deps.db('renewal_results').where({ outcome: 'renewed' }).count({ n: '*' }).first();
    expect(Number(renewals?.n)).to.equal(EXPECTED_RENEWED);
    const loans = await dueDates();
    expect(loans['l-ontime']).to.equal('2027-01-03/1');
  });

  it('answers a number on no card once, saying so, and renews nothing', async () => {
    const stranger = '+4570000099';
    const before = await dueDates();
    await h.text(stranger, 'HBK FORNY ALLE');
    const reply = await eventually(() => h.twilio.messagesTo(stranger)[0]);
    expect(reply.body).to.contain('ikke knyttet til et lånerkort');
    const second = await h.text(stranger, 'HBK FORNY ALLE');
    await eventually(async () => (await h.api<InboundView>(`/api/inbound/${second.messageSid}`)).body.status === 'ignored');
    expect(h.twilio.messagesTo(stranger)).to.have.length(1);
    expect(await dueDates()).to.deep.equal(before);
  });

  it('accepts a Danish number written without +45 and finds the patron', async () => {
    await h.text('61000002', 'hbk forny alle');
    const reply = await eventually(() => h.twilio.messagesTo(OTHER_PATRON)[0]);
    expect(reply.body).to.contain('1 af 1 lån');
  });

  it('opts out on STOP with one confirmation, and back in on START', async () => {
    await h.text(KAREN, 'Stop');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1);
    expect(h.twilio.messagesTo(KAREN)[0]?.body).to.contain('afmeldt');
    expect((await h.deps.db('patrons').where({ id: 'p-karen' }).first())?.sms_opt_in).to.equal(0);

    const again = await h.text(KAREN, 'STOP');
    await eventually(async () => (await h.api<InboundView>(`/api/inbound/${again.messageSid}`)).body.status === 'ignored');
    expect(h.twilio.messagesTo(KAREN)).to.have.length(1); // confirmed once

    await h.text(KAREN, 'START');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 2);
    expect(h.twilio.messagesTo(KAREN)[1]?.body).to.contain('tilmeldt');
    expect((await h.deps.db('patrons').where({ id: 'p-karen' }).first())?.sms_opt_in).to.equal(1);
  });

  it('answers HJÆLP every time, and anything else with the help text at most once a day', async () => {
    await h.text(KAREN, 'HJÆLP');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1);
    expect(h.twilio.messagesTo(KAREN)[0]?.body).to.contain('HBK FORNY ALLE');

    await h.text(KAREN, 'Tak for sidst!');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 2);
    const repeat = await h.text(KAREN, 'Jeg er på ferie til mandag');
    await eventually(async () => (await h.api<InboundView>(`/api/inbound/${repeat.messageSid}`)).body.status === 'ignored');
    expect(h.twilio.messagesTo(KAREN)).to.have.length(2);
    for (const message of h.twilio.messagesTo(KAREN)) expect(message.body).not.to.contain('ferie'); // never echoes

    h.clock.advance(24 * 3600 * 1000 + 1000);
    await h.text(KAREN, 'Jeg er på ferie til mandag');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 3);
  });

  it('records delivery receipts, once each, never moving a message backwards', async () => {
    await h.text(KAREN, 'HBK FORNY ALLE');
    const sent = await eventually(() => h.twilio.messagesTo(KAREN)[0]);
    const status = async () => {
      await eventually(async () => (await h.deps.db('outbound_messages').where({ provider_sid: sent.sid }).first()) !== undefined);
      return (await h.deps.db('outbound_messages').where({ provider_sid: sent.sid }).first())?.status as string;
    };
    expect(await status()).to.equal('sent');
    expect(await h.deliver(sent.sid, 'delivered')).to.equal(200);
    expect(await status()).to.equal('delivered');
    expect(await h.deliver(sent.sid, 'sent')).to.equal(200); // late, out of order
    expect(await status()).to.equal('delivered');
    expect(await h.deliver(sent.sid, 'delivered')).to.equal(200); // repeated
    const events = await h.deps.db('message_status_events').where({ provider_sid: sent.sid }).count({ n: '*' }).first();
    expect(Number(events?.n)).to.equal(2);
  });

  it('refuses unsigned and forged receipts without changing the message', async () => {
    await h.text(KAREN, 'HBK FORNY ALLE');
    const sent = await eventually(() => h.twilio.messagesTo(KAREN)[0]);
    const params = { MessageSid: sent.sid, MessageStatus: 'failed', ErrorCode: '30003' };
    expect((await h.signedPost('/sms/status', params, { signature: null })).status).to.equal(400);
    expect((await h.signedPost('/sms/status', params, { authToken: 'not-the-token' })).status).to.equal(403);
    await eventually(async () => (await h.deps.db('outbound_messages').where({ provider_sid: sent.sid }).first())?.status === 'sent');
  });
});

describe('renew-all as patrons really type it, and for a library of its own settings', function () {
  let h: Harness | undefined;
  afterEach(async () => h?.stop());

  const bodies = ['HBK-FORNY-ALLE', 'HBKFORNYALLE', 'HBK FORNY ALLE 🙂', 'HBK FORNY ALLE\n\nSendt fra min iPhone', 'Forny alle tak'];

  it('renews on each body of issue 8 and answers "N af M lån" from Helsingør Kommunes Biblioteker', async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
    for (const [index, body] of bodies.entries()) {
      // Past the limit of five renew-alls in ten minutes, which is not what this test is about.
      h.clock.advance(11 * 60_000);
      const { messageSid } = await h.text(KAREN, body);
      const reply = await eventually(() => h?.twilio.messagesTo(KAREN)[index], 10_000, `the reply to ${JSON.stringify(body)}`);
      expect(reply.body, body).to.match(new RegExp(`^Helsingør Kommunes Biblioteker: \\d+ af ${EXPECTED_TOTAL} lån er fornyet`));
      const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
      expect(inbound, body).to.include({ command: 'renew-all', status: 'processed' });
    }
    expect(h.twilio.messagesTo(KAREN)[0]?.body).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
  });

  it('speaks with LIBRARY_NAME, LIBRARY_SITE, the first of LIBRARY_KEYWORDS and SMS_FROM, and parses with those keywords', async () => {
    h = await Harness.start({
      workers: true,
      fixture: everyRuleLibrary(),
      now: `${EVERY_RULE_TODAY}T10:00:00+01:00`,
      env: { LIBRARY_NAME: 'Roskilde Bibliotekerne', LIBRARY_SITE: 'roskildebib.dk', LIBRARY_KEYWORDS: 'RB,ROS', SMS_FROM: '1919' },
    });
    await h.text(KAREN, 'ros forny alle');
    const reply = await eventually(() => h?.twilio.messagesTo(KAREN)[0]);
    expect(reply.body).to.equal(`Roskilde Bibliotekerne: ${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån er fornyet. Fjernlån er fornyet med forbehold. Se på roskildebib.dk hvilke der ikke kunne fornyes.`);
    expect(reply.from).to.equal('1919');
    await h.text(KAREN, 'HBK FORNY ALLE'); // not this library's keyword
    const help = await eventually(() => h?.twilio.messagesTo(KAREN)[1]);
    expect(help.body).to.equal('Roskilde Bibliotekerne: Send RB FORNY ALLE til 1919 for at forny. STOP afmelder sms, START tilmelder dig igen. Se på roskildebib.dk.');
  });
});
