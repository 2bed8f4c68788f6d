import { expect } from 'chai';
import type { FixtureInput } from '../../db/fixture.js';
import { getInboundBySid, retryFailedInbound } from '../../db/repositories/inbound.js';
import { handleRenewAll } from '../../src/renewals/renew-all.js';
import type { InboundView } from '../helpers/api-views.js';
import { eventually, found, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';
import { Sip2Server, type SimItem } from '../helpers/sip2-server.js';

/*
 * A SIP2 renew-all given up after the system had renewed part of it (SPEC §4): the patron's one SMS
 * counts what was renewed, the renewal is on the dashboard, and nothing more is renewed late.
 */

const PASSWORD = 'Kodeord-delvis';
const ASE = '+4520304070';
const CARD = '0102030433';
const TODAY = '2026-12-01';

const directory: FixtureInput = { patrons: [{ id: 'p-ase', cardNumber: CARD, name: 'Åse Østergård', mobile: ASE, smsOptIn: true }] };
const TITLES = ['Ærøs blå fjorde', 'Søvnløs i Helsingør', 'Gåden om Østerport'];
const loans = (): SimItem[] => TITLES.map((title, i) => ({ id: `I-${i + 1}`, title, dueDate: '2026-12-03', renewals: 0, maxRenewals: 2 }));

describe('SIP2: a renew-all given up after some loans were renewed', function () {
  this.timeout(30_000);
  let server: Sip2Server;
  let h: Harness;

  beforeEach(async () => {
    server = new Sip2Server({ password: PASSWORD, institution: 'HBK', today: TODAY, renewalDays: 14 });
    server.addPatron({ card: CARD, name: 'Åse Østergård', items: loans() });
    const port = await server.start();
    h = await Harness.start({
      workers: true,
      fixture: directory,
      now: `${TODAY}T10:00:00+01:00`,
      env: { RENEW_ALL_GIVE_UP_MINUTES: '1' },
      libraryUrl: `sip2://forny:${PASSWORD}@127.0.0.1:${port}?institution=HBK&location=HB01&timeout_ms=2000`,
    });
  });

  afterEach(async () => {
    await h?.stop();
    await server?.stop();
  });

  const renews = () => server.received.filter((message) => message.code === '29').length;

  async function expectOneSmsCountingTheFirstRenewal(messageSid: string): Promise<void> {
    await eventually(async () => (await h.api<InboundView>(`/api/inbound/${messageSid}`)).body.status === 'failed', 15_000, 'the request to be given up');
    const sent = await eventually(() => h.twilio.messagesTo(ASE)[0], 10_000, 'the give-up SMS');
    expect(sent.body).to.equal(h.deps.libraries.get('default').texts.renewAllGaveUp({ renewed: 1, total: 3 }));
    expect(sent.body).to.contain('1 af 3 lån er fornyet');
    await queuesSettled(h.deps.queues.all);
    expect(h.twilio.messagesTo(ASE)).to.have.length(1);

    // The renewal that was done is recorded with the request, and the dashboard shows it.
    const inboundId = (await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first())?.id;
    const results = await h.deps.db('renewal_results').where({ inbound_id: inboundId }).select('loan_id', 'outcome', 'new_due_date');
    expect(results).to.deep.equal([{ loan_id: 'I-1', outcome: 'renewed', new_due_date: '2026-12-17' }]);
    const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
    expect(inbound.result?.loans.map((loan) => [loan.loanId, loan.outcome, loan.newDueDate])).to.deep.equal([['I-1', 'renewed', '2026-12-17']]);
    const { text: html } = await h.page(`/admin/renewals/${messageSid}`);
    expect(html).to.contain('Ærøs blå fjorde');
    expect(html).to.contain('17. dec. 2026');
    expect(loans().map((item) => server.item(item.id)?.renewals)).to.deep.equal([1, 0, 0]);
  }

  it('the system too slow: past the give-up time no further Renew is sent, and the one SMS says 1 of 3 was renewed', async () => {
    // The system takes over a minute to answer the first Renew (on forny's clock).
    server.onReceive = (message) => {
      if (message.code === '29') h.clock.advance(61_000);
    };
    const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');
    await expectOneSmsCountingTheFirstRenewal(messageSid);
    expect(renews()).to.equal(1);
  });

  it('an operator’s retry after a partial give-up renews the rest once and answers counting all, the earlier renewal recorded once', async () => {
    server.onReceive = (message) => {
      if (message.code === '29') h.clock.advance(61_000);
    };
    const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');
    await expectOneSmsCountingTheFirstRenewal(messageSid);

    server.onReceive = null;
    const inbound = found(await getInboundBySid(h.deps.db, messageSid), 'the inbound message');
    expect(await retryFailedInbound(h.deps.db, inbound.id, h.clock.now())).to.equal(true);
    const outcome = await handleRenewAll(h.deps, inbound.id);
    expect(outcome).to.deep.include({ state: 'renewed', counts: { renewed: 3, total: 3, provisional: 0 } });
    expect(loans().map((item) => server.item(item.id)?.renewals)).to.deep.equal([1, 1, 1]);
    expect(renews()).to.equal(3);
    expect(await h.deps.db('renewal_results').where({ inbound_id: inbound.id }).orderBy('loan_id').pluck('loan_id')).to.deep.equal(['I-1', 'I-2', 'I-3']);
    await eventually(() => h.twilio.messagesTo(ASE)[1], 10_000, 'the answer to the retry');
    expect(h.twilio.messagesTo(ASE)[1]?.body).to.contain('3 af 3 lån er fornyet');
  });

  it('the system gone after the first renewal: given up when its time has passed, the one SMS says 1 of 3 was renewed', async () => {
    let stopped: Promise<void> | undefined;
    server.onReceive = (message) => {
      if (message.code === '17' && message.text.includes('|ABI-2|')) stopped = server.stop();
    };
    const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');
    await eventually(() => stopped !== undefined, 10_000, 'the system to go away after the first renewal');
    await stopped;
    h.clock.advance(61_000);
    await expectOneSmsCountingTheFirstRenewal(messageSid);
    expect(renews()).to.equal(1);
  });
});
