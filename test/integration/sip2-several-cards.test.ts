import { expect } from 'chai';
import type { FixtureInput } from '../../db/fixture.js';
import { getInboundBySid } from '../../db/repositories/inbound.js';
import { findPatronsByMobile } from '../../db/repositories/library.js';
import { handleRenewAll } from '../../src/renewals/renew-all.js';
import type { InboundView } from '../helpers/api-views.js';
import { eventually, found, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';
import { Sip2Server, type SimItem } from '../helpers/sip2-server.js';

/*
 * One mobile number with two cards, a parent's and a child's (SPEC §10: the patrons are the
 * directory rows for the texting number). Each card's loans are renewed once, and the number gets
 * one answer counting both, however often the request is run.
 */

const PASSWORD = 'Kodeord-to-kort';
const MOBILE = '+4520304060';
const PARENT_CARD = '0102030411';
const CHILD_CARD = '0102030422';
const TODAY = '2026-12-01';

const directory: FixtureInput = {
  patrons: [
    { id: 'p-mor', cardNumber: PARENT_CARD, name: 'Mette Mor', mobile: MOBILE, smsOptIn: true },
    { id: 'p-barn', cardNumber: CHILD_CARD, name: 'Bo Barn', mobile: MOBILE, smsOptIn: true },
  ],
};

const item = (id: string, title: string): SimItem => ({ id, title, dueDate: '2026-12-03', renewals: 0, maxRenewals: 2 });
const ITEMS = ['M-1', 'M-2', 'B-1'];

describe('SIP2: one mobile number with two cards (parent and child)', function () {
  this.timeout(30_000);
  let server: Sip2Server;
  let h: Harness;

  async function start(workers: boolean): Promise<void> {
    server = new Sip2Server({ password: PASSWORD, institution: 'HBK', today: TODAY, renewalDays: 14 });
    server.addPatron({ card: PARENT_CARD, name: 'Mette Mor', items: [item('M-1', 'Ærøs blå fjorde'), item('M-2', 'Søvnløs i Helsingør')] });
    server.addPatron({ card: CHILD_CARD, name: 'Bo Barn', items: [item('B-1', 'Gåden om Østerport')] });
    const port = await server.start();
    h = await Harness.start({
      workers,
      fixture: directory,
      now: `${TODAY}T10:00:00+01:00`,
      libraryUrl: `sip2://forny:${PASSWORD}@127.0.0.1:${port}?institution=HBK&location=HB01&timeout_ms=2000`,
    });
  }

  afterEach(async () => {
    await h?.stop();
    await server?.stop();
  });

  const renewsAtServer = () => ITEMS.map((id) => server.received.filter((message) => message.code === '29' && message.text.includes(`|AB${id}|`)).length);
  const renewAllReplies = () => h.deps.db('outbound_messages').where({ to_address: MOBILE, purpose: 'renew-all' }).select('body');

  it('renews each card’s loans once and answers once, counting both cards', async () => {
    await start(true);
    const { messageSid } = await h.text(MOBILE, 'HBK FORNY ALLE');
    const sent = await eventually(() => h.twilio.messagesTo(MOBILE)[0], 15_000, 'the reply');
    expect(sent.body).to.contain('3 af 3 lån er fornyet');
    await queuesSettled(h.deps.queues.all);
    expect(h.twilio.messagesTo(MOBILE)).to.have.length(1);
    expect(renewsAtServer()).to.deep.equal([1, 1, 1]);
    expect(ITEMS.map((id) => server.item(id)?.renewals)).to.deep.equal([1, 1, 1]);
    const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
    expect(inbound).to.include({ status: 'processed' });
    expect(inbound.result).to.include({ total: 3, renewed: 3 });
    expect(inbound.result?.loans.map((loan) => loan.itemId)).to.have.members(ITEMS);
    expect(server.violations).to.deep.equal([]);
  });

  it('a rerun after a crash between the system’s answers and forny’s transaction answers once, counting both cards', async () => {
    await start(false);
    const { messageSid } = await h.text(MOBILE, 'HBK FORNY ALLE');
    const inbound = found(await getInboundBySid(h.deps.db, messageSid), 'the inbound message');
    // The first run: the system renews every loan of both cards, then the worker dies before its transaction.
    const patrons = await findPatronsByMobile(h.deps.db, MOBILE);
    expect(patrons.map((patron) => patron.cardNumber)).to.have.members([PARENT_CARD, CHILD_CARD]);
    const deadline = new Date(h.clock.now().getTime() + h.config.jobs.renewAllGiveUpMs);
    await h.deps.libraries.get('default').system.renewAll({ db: h.deps.db, inboundId: inbound.id, patrons, now: h.clock.now(), deadline });
    expect(renewsAtServer()).to.deep.equal([1, 1, 1]);

    const rerun = await handleRenewAll(h.deps, inbound.id);
    expect(rerun).to.deep.include({ state: 'renewed', counts: { renewed: 3, total: 3, provisional: 0 } });
    const again = await handleRenewAll(h.deps, inbound.id);
    expect(again.state).to.equal('already-processed');

    expect(renewsAtServer()).to.deep.equal([1, 1, 1]);
    const replies = await renewAllReplies();
    expect(replies).to.have.length(1);
    expect(replies[0]?.body).to.contain('3 af 3 lån er fornyet');
    expect(await h.deps.db('renewal_results').where({ inbound_id: inbound.id }).orderBy('id').pluck('loan_id')).to.have.members(ITEMS);
  });

  it('a renewal recorded before cards were recorded (no card on the row) is reported once, not once per card', async () => {
    await start(false);
    const { messageSid } = await h.text(MOBILE, 'HBK FORNY ALLE');
    const inbound = found(await getInboundBySid(h.deps.db, messageSid), 'the inbound message');
    // A run before the upgrade renewed the child's loan and recorded it without its card.
    const childItem = found(server.item('B-1'), 'B-1');
    childItem.dueDate = '2026-12-17';
    childItem.renewals = 1;
    const at = h.clock.now().toISOString();
    await h.deps.db('ils_renewals').insert({
      inbound_id: inbound.id,
      item_id: 'B-1',
      title: 'Gåden om Østerport',
      old_due_date: '2026-12-03',
      outcome: 'renewed',
      new_due_date: '2026-12-17',
      system_message: null,
      intended_at: at,
      finished_at: at,
    });

    const outcome = await handleRenewAll(h.deps, inbound.id);
    expect(outcome).to.deep.include({ state: 'renewed', counts: { renewed: 3, total: 3, provisional: 0 } });
    expect(renewsAtServer()).to.deep.equal([1, 1, 0]);
    expect(ITEMS.map((id) => server.item(id)?.renewals)).to.deep.equal([1, 1, 1]);
    expect(await h.deps.db('renewal_results').where({ inbound_id: inbound.id }).pluck('loan_id')).to.have.members(ITEMS);
  });
});
