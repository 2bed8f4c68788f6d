import { expect } from 'chai';
import type { FixtureInput } from '../../db/fixture.js';
import type { InboundView } from '../helpers/api-views.js';
import { eventually, Harness, librarySystemLine } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';
import { Sip2Server, type SimItem } from '../helpers/sip2-server.js';

const PASSWORD = 'Hemmeligt-kodeord-42';
const ASE = '+4520304050';
const STRANGER = '+4520304099';
const ASE_CARD = '0102030405';
const UNKNOWN_CARD = '0999999999';
const TODAY = '2026-12-01';

/** The library's directory only: numbers and cards. The loans live in the library's system. */
const directory: FixtureInput = {
  patrons: [
    { id: 'p-ase', cardNumber: ASE_CARD, name: 'Åse Østergård', mobile: ASE, smsOptIn: true },
    { id: 'p-stranger', cardNumber: UNKNOWN_CARD, name: 'Ukendt i systemet', mobile: STRANGER, smsOptIn: true },
  ],
};

/** Five loans: I-2 reserved by someone else, I-4 renewed as often as allowed. */
function loans(): SimItem[] {
  const titles = ['Ærøs blå fjorde', 'Søvnløs i Helsingør', 'Gåden om Østerport', 'Bølgerne på Øresund', 'Årets gang på Kronborg'];
  return titles.map((title, i) => ({
    id: `I-${i + 1}`,
    title,
    dueDate: '2026-12-03',
    renewals: i === 3 ? 2 : 0,
    maxRenewals: 2,
    onHold: i === 1,
  }));
}

const count = (codes: string[], code: string) => codes.filter((c) => c === code).length;

describe('renew-all over SIP2 through the whole app (simulator over TCP, real Redis, temp SQLite, loopback Twilio)', function () {
  this.timeout(30_000);
  let server: Sip2Server;
  let h: Harness;

  async function start(options: { env?: Record<string, string>; serverUp?: boolean } = {}): Promise<void> {
    server = new Sip2Server({ password: PASSWORD, institution: 'HBK', today: TODAY, renewalDays: 14, pageSize: 3 });
    server.addPatron({ card: ASE_CARD, name: 'Åse Østergård', items: loans() });
    const port = await server.start();
    if (options.serverUp === false) await server.stop();
    h = await Harness.start({
      workers: true,
      fixture: directory,
      now: `${TODAY}T10:00:00+01:00`,
      libraryUrl: `sip2://forny:${PASSWORD}@127.0.0.1:${port}?institution=HBK&location=HB01&timeout_ms=2000`,
      ...(options.env ? { env: options.env } : {}),
    });
  }

  afterEach(async () => {
    await h?.stop();
    await server?.stop();
  });

  const dashboard = async (path: string) => {

    const { status, text } = await h.page(path);

    expect(status, path).to.equal(200);

    return text;

  };

  it('renews what the system allows with 93, 99, 63, 17, 29 and answers "N af M lån" with the system’s titles and words', async () => {
    await start();
    const { messageSid, response } = await h.text(ASE, 'HBK FORNY ALLE');
    expect(response.status).to.equal(200);

    const sent = await eventually(() => h.twilio.messagesTo(ASE)[0], 10_000, 'the reply');
    expect(sent.body).to.contain('3 af 5 lån');

    // Each connection logs in and asks the status first (/readyz and the metrics may open one of their own).
    const connections = [...new Set(server.received.map((message) => message.connection))];
    for (const id of connections) {
      expect(server.received.filter((message) => message.connection === id).slice(0, 2).map((message) => message.code), `connection ${id}`).to.deep.equal(['93', '99']);
    }
    const renewing = server.codes().filter((code) => ['63', '17', '29'].includes(code));
    expect(renewing).to.deep.equal(['63', '63', ...Array.from({ length: 5 }, () => ['17', '29']).flat()]); // five charged items, pages of three
    expect(server.violations).to.deep.equal([]); // every checksum right, login first, institution on each
    expect(server.item('I-1')).to.include({ renewals: 1, dueDate: '2026-12-17' });

    const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
    expect(inbound).to.include({ status: 'processed', patronId: 'p-ase' });
    expect(inbound.result).to.include({ total: 5, renewed: 3 });
    expect(inbound.result?.loans.map((loan) => loan.title)).to.deep.equal(loans().map((item) => item.title));
    expect(inbound.result?.loans[0]).to.deep.equal({
      loanId: 'I-1',
      itemId: 'I-1',
      title: 'Ærøs blå fjorde',
      outcome: 'renewed',
      reason: null,
      systemMessage: null,
      oldDueDate: '2026-12-03',
      newDueDate: '2026-12-17',
      provisional: false,
    });
    expect(inbound.result?.loans[1]).to.include({ itemId: 'I-2', outcome: 'refused', reason: 'ils_refused', systemMessage: 'Reserveret af en anden låner', newDueDate: null });
    expect(inbound.result?.loans[3]).to.include({ itemId: 'I-4', outcome: 'refused', reason: 'ils_refused', systemMessage: 'Maksimalt antal fornyelser er nået' });

    const ready = await h.readyz();
    expect(ready.status).to.equal(200);
    expect(JSON.parse(ready.text)).to.have.nested.property('checks.librarySystem', 'ok');

    // The dashboard shows the system's loans (no rows in forny's loans table) with its own words.
    const renewal = await dashboard(`/admin/renewals/${messageSid}`);
    expect(renewal).to.contain('3 af 5 lån fornyet');
    for (const item of loans()) expect(renewal).to.contain(item.title);
    expect(renewal).to.contain('17. dec. 2026');
    expect(renewal).to.contain('bibliotekssystemet afviste fornyelsen <span class="system-message">(Reserveret af en anden låner)</span>');
    expect(renewal).to.contain('(Maksimalt antal fornyelser er nået)');
    expect(await dashboard('/admin/renewals')).to.contain('3 af 5 lån fornyet');
    expect(librarySystemLine(await dashboard('/admin'))).to.match(/^Bibliotekssystem: SIP2 \(sip2:\/\/forny@127\.0\.0\.1:\d+\) svarer$/);
  });

  it('counts a renewal whose answer the system lost as renewed, and never sends it a second 29', async () => {
    await start();
    server.faults.push({ kind: 'loseRenewAnswer', item: 'I-3' });
    const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');

    const sent = await eventually(() => h.twilio.messagesTo(ASE)[0], 15_000, 'the reply');
    expect(sent.body).to.contain('3 af 5 lån');
    expect(server.faults).to.deep.equal([]); // the answer to I-3's renewal was indeed lost
    expect(server.item('I-3')).to.include({ renewals: 1, dueDate: '2026-12-17' });
    const renewsOfI3 = server.received.filter((message) => message.code === '29' && message.text.includes('|ABI-3|'));
    expect(renewsOfI3).to.have.length(1);
    const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
    expect(inbound.result?.loans.find((loan) => loan.itemId === 'I-3')).to.include({ outcome: 'renewed', newDueDate: '2026-12-17' });
    await queuesSettled(h.deps.queues.all);
    expect(h.twilio.messagesTo(ASE)).to.have.length(1);
    expect(loans().map((item) => server.item(item.id)?.renewals)).to.deep.equal([1, 0, 1, 2, 1]);
  });

  it('waits while the system is down, says so on /readyz without address or password, and answers once it is back', async () => {
    await start({ serverUp: false });
    const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');

    const down = await eventually(async () => {
      const ready = await h.readyz();
      // Reported, but forny stays ready: messages are still stored and wait for the system.
      return ready.status === 200 && ready.text.includes('down: ') && ready.text;
    }, 5_000, '/readyz to say the library system is down');
    expect(JSON.parse(down)).to.have.nested.property('checks.librarySystem').that.matches(/^down: /);
    expect(down).not.to.contain('127.0.0.1');
    expect(down).not.to.contain(String(server.port));
    expect(down).not.to.contain(PASSWORD);
    expect(librarySystemLine(await dashboard('/admin'))).to.match(/^Bibliotekssystem: SIP2 \(.*\) svarer ikke\. FORNY ALLE venter/);
    // The job has tried at least once and the message still waits.
    await eventually(async () => (await h.api<InboundView>(`/api/inbound/${messageSid}`)).body.status === 'received' && ((await h.deps.queues.renewAll.getJobCounts('delayed')).delayed ?? 0) > 0, 5_000, 'a retry to wait');
    expect(h.twilio.messagesTo(ASE)).to.have.length(0);

    // Ten seconds later (on forny's clock, which also paces its reconnects) the system is back.
    h.clock.advance(10_000);
    await server.start();
    const sent = await eventually(() => h.twilio.messagesTo(ASE)[0], 15_000, 'the reply after the system came back');
    expect(sent.body).to.contain('3 af 5 lån');
    expect(loans().map((item) => server.item(item.id)?.renewals)).to.deep.equal([1, 0, 1, 2, 1]);
    expect(count(server.codes(), '29')).to.equal(5);
    expect(server.violations).to.deep.equal([]);
    await queuesSettled(h.deps.queues.all);
    expect(h.twilio.messagesTo(ASE)).to.have.length(1);
    expect((await h.readyz()).status).to.equal(200);
  });

  it('says "login refused" on /readyz while the system refuses forny’s login', async () => {
    await start();
    server.refuseLogins = true;
    const ready = await eventually(async () => {
      const answer = await h.readyz();
      return answer.status === 200 && answer.text.includes('login refused') && answer.text;
    }, 5_000, '/readyz to say login refused');
    expect(JSON.parse(ready)).to.have.nested.property('checks.librarySystem', 'down: login refused');
    expect(ready).not.to.contain(PASSWORD);
    expect(ready).not.to.contain('forny:');
    expect(librarySystemLine(await dashboard('/admin'))).to.contain('svarer ikke (login afvist)');
    expect(await dashboard('/admin')).not.to.contain(PASSWORD);
  });

  it('asks the system how it is at most once per 15 s however often the overview is loaded', async () => {
    await start();
    await h.refreshMetrics(); // the metrics' own look at the system, done before counting
    const statusAsks = () => count(server.codes(), '99');
    expect(librarySystemLine(await dashboard('/admin'))).to.match(/svarer$/);
    const after = statusAsks();
    for (let load = 0; load < 5; load++) expect(librarySystemLine(await dashboard('/admin'))).to.match(/svarer$/);
    expect(statusAsks()).to.equal(after);
  });

  it('gives a patron the system does not know (64 BL N) the unknown-number answer', async () => {
    await start();
    const { messageSid } = await h.text(STRANGER, 'HBK FORNY ALLE');
    const sent = await eventually(() => h.twilio.messagesTo(STRANGER)[0], 10_000, 'the answer');
    expect(sent.body).to.equal(h.deps.libraries.get('default').texts.unknownNumberReply());
    expect(count(server.codes(), '29')).to.equal(0);
    const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
    expect(inbound.status).to.equal('processed');
    expect(inbound.result).to.equal(null);
  });

  it('gives up after RENEW_ALL_GIVE_UP_MINUTES of the system away: failed, one SMS, nothing renewed when it returns', async () => {
    await start({ serverUp: false, env: { RENEW_ALL_GIVE_UP_MINUTES: '1' } });
    const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');
    await eventually(async () => ((await h.deps.queues.renewAll.getJobCounts('delayed')).delayed ?? 0) > 0, 5_000, 'a retry to wait');

    h.clock.advance(61_000);
    const sent = await eventually(() => h.twilio.messagesTo(ASE)[0], 15_000, 'the give-up SMS');
    expect(sent.body).to.equal(h.deps.libraries.get('default').texts.renewAllGaveUp());
    expect((await h.api<InboundView>(`/api/inbound/${messageSid}`)).body.status).to.equal('failed');

    await server.start();
    await h.workers?.reconcileNow();
    await queuesSettled(h.deps.queues.all);
    expect(count(server.codes(), '29')).to.equal(0);
    expect(loans().map((item) => server.item(item.id)?.renewals)).to.deep.equal([0, 0, 0, 2, 0]);
    expect(h.twilio.messagesTo(ASE)).to.have.length(1);
  });

  it('e-mails a reminder notice at once, naming only the loans the system still has due, and drops none that are due', async () => {
    const token = 'notices-token-of-at-least-32-characters';
    await start({ env: { NOTICES_TOKEN: token } });
    h.clock.set(`${TODAY}T21:30:00+01:00`);
    const mailed = h.deps.mail as unknown as { sent: { to: string; subject: string; text: string }[] };
    const notice = (id: string, items: string[]) => ({
      id,
      kind: 'reminder',
      patron: { cardNumber: ASE_CARD, name: 'Åse Østergård', mobile: ASE, email: 'aase@example.dk', smsOptIn: false, emailOptIn: true },
      loans: items.map((itemId) => ({ itemId, title: loans().find((item) => item.id === itemId)?.title ?? itemId, dueDate: '2026-12-03' })),
      reservation: null,
    });
    const post = (body: unknown) => fetch(`${h.baseUrl}/api/notices`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

    // Both loans still due in the system: the e-mail leaves at once, naming both (forny's own tables hold none of them).
    expect((await post(notice('fbs-mail-1', ['I-1', 'I-3']))).status).to.equal(202);
    await queuesSettled(h.deps.queues.all);
    const first = await h.deps.db('outbound_messages').where({ channel: 'email', dedupe_key: 'notice:fbs-mail-1:email' }).first();
    expect(first?.status, first?.error_message ?? '').to.equal('sent');
    expect(mailed.sent.map((mail) => mail.subject)).to.deep.equal(['Påmindelse: 2 lån skal afleveres senest 3. december']);

    // I-1 renewed in the system meanwhile: the next reminder names I-3 only.
    server.item('I-1')!.dueDate = '2026-12-17';
    expect((await post(notice('fbs-mail-2', ['I-1', 'I-3']))).status).to.equal(202);
    await queuesSettled(h.deps.queues.all);
    const second = mailed.sent[1];
    expect(second?.subject).to.equal('Påmindelse: 1 lån skal afleveres senest 3. december');
    expect(second?.text).to.contain('Gåden om Østerport').and.not.contain('Ærøs blå fjorde');

    // Every loan it names renewed: superseded, with nothing sent.
    server.item('I-3')!.dueDate = '2026-12-17';
    expect((await post(notice('fbs-mail-3', ['I-1', 'I-3']))).status).to.equal(202);
    await queuesSettled(h.deps.queues.all);
    const third = await h.deps.db('outbound_messages').where({ dedupe_key: 'notice:fbs-mail-3:email' }).first();
    expect(third?.status).to.equal('superseded');
    expect(mailed.sent).to.have.length(2);
  });

  it('supersedes a reminder notice at 08:45 when its loans were renewed in the system meanwhile (Item Information)', async () => {
    const token = 'notices-token-of-at-least-32-characters';
    await start({ env: { NOTICES_TOKEN: token } });
    h.clock.set(`${TODAY}T21:30:00+01:00`);
    const notice = {
      id: 'fbs-sip2-1',
      kind: 'reminder',
      patron: { cardNumber: ASE_CARD, name: 'Åse Østergård', mobile: ASE, email: null, smsOptIn: true, emailOptIn: false },
      loans: [
        { itemId: 'I-1', title: 'Ærøs blå fjorde', dueDate: '2026-12-03' },
        { itemId: 'I-3', title: 'Gåden om Østerport', dueDate: '2026-12-03' },
      ],
      reservation: null,
    };
    const posted = await fetch(`${h.baseUrl}/api/notices`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(notice) });
    expect(posted.status, await posted.clone().text()).to.equal(202);
    // The patron renews from the e-mail at night: the system moves both due dates.
    await h.text(ASE, 'HBK FORNY ALLE');
    await eventually(async () => (await h.deps.db('inbound_messages').where({ from_number: ASE }).first())?.status === 'processed', 10_000, 'the renew-all');
    expect(server.item('I-1')?.renewals).to.equal(1);

    await h.windowOpens('2026-12-02T08:45:00+01:00');
    await queuesSettled(h.deps.queues.all);
    const reminder = await h.deps.db('outbound_messages').where({ kind: 'reminder', to_address: ASE }).first();
    expect(reminder?.status).to.equal('superseded');
    expect(h.twilio.messagesTo(ASE).map((message) => message.body)).to.have.length(1); // the renew-all answer only
    expect(h.twilio.messagesTo(ASE)[0]?.body).to.contain('af 5 lån');
  });
});
