import { expect } from 'chai';
import type { FixtureInput } from '../../db/fixture.js';
import type { InboundView } from '../helpers/api-views.js';
import { FbsServer, type SimFbsLoan } from '../helpers/fbs-server.js';
import { eventually, Harness, librarySystemLine } from '../helpers/harness.js';
import { createPostgresDatabase } from '../helpers/postgres.js';
import { queuesSettled } from '../helpers/settled.js';

/*
 * The whole app against the FBS simulator over real HTTP (SPEC §13): a library moves to FBS by
 * LIBRARY_SYSTEM_URL alone. Real Redis and workers, a loopback Twilio, SQLite and PostgreSQL.
 */

const PASSWORD = 'Hemmeligt-fbs-kodeord';
const ASE = '+4520304050';
const STRANGER = '+4520304099';
const FAMILY = '+4520304060';
const ASE_CARD = '0102030405';
const UNKNOWN_CARD = '0999999999';
const PARENT_CARD = '0102030411';
const CHILD_CARD = '0102030422';
const TODAY = '2026-12-01';
const TOKEN = 'notices-token-of-at-least-32-characters';

const directory: FixtureInput = {
  patrons: [
    { id: 'p-ase', cardNumber: ASE_CARD, name: 'Åse Østergård', mobile: ASE, smsOptIn: true },
    { id: 'p-stranger', cardNumber: UNKNOWN_CARD, name: 'Ukendt i FBS', mobile: STRANGER, smsOptIn: true },
    { id: 'p-mor', cardNumber: PARENT_CARD, name: 'Mette Mor', mobile: FAMILY, smsOptIn: true },
    { id: 'p-barn', cardNumber: CHILD_CARD, name: 'Bo Barn', mobile: FAMILY, smsOptIn: true },
  ],
};

/** Five loans: 101 reserved by someone else, 102 renewed as often as allowed, 104 an interlibrary loan. */
function loans(): SimFbsLoan[] {
  return [101, 102, 103, 104, 105].map((loanId) => ({
    loanId,
    itemNumber: `5000${loanId}`,
    dueDate: '2026-12-03',
    renewals: loanId === 102 ? 3 : 0,
    reserved: loanId === 101,
    ...(loanId === 104 ? { loanType: 'interLibraryLoan' as const, title: 'Fjernlånt: Kongens Fald' } : {}),
  }));
}

const renewedAtFbs = (server: FbsServer) => [...server.renewedLoans].sort((a, b) => a - b);

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`renew-all in FBS through the whole app (simulator over HTTP, real Redis, ${dialect}, loopback Twilio)`, function () {
    this.timeout(40_000);
    let server: FbsServer;
    let h: Harness;
    let dropDatabase: (() => Promise<void>) | null = null;

    async function start(options: { env?: Record<string, string>; serverUp?: boolean; skipEvaluation?: boolean } = {}): Promise<void> {
      server = new FbsServer({ password: PASSWORD, today: TODAY, renewalDays: 14, maxRenewals: 3, dateSuffix: 'T00:00:00.000+01:00', skipEvaluation: options.skipEvaluation ?? false });
      server.addPatron({ card: ASE_CARD, patronId: 9001, loans: loans() });
      server.addPatron({ card: PARENT_CARD, patronId: 9002, loans: [{ loanId: 201, itemNumber: '5000201', dueDate: '2026-12-03', renewals: 0 }, { loanId: 202, itemNumber: '5000202', dueDate: '2026-12-03', renewals: 0 }] });
      server.addPatron({ card: CHILD_CARD, patronId: 9003, loans: [{ loanId: 301, itemNumber: '5000301', dueDate: '2026-12-03', renewals: 0 }] });
      const port = await server.start();
      if (options.serverUp === false) await server.stop();
      let databaseUrl: string | undefined;
      if (dialect === 'postgres') {
        const database = await createPostgresDatabase();
        dropDatabase = () => database.drop();
        databaseUrl = database.url;
      }
      h = await Harness.start({
        workers: true,
        fixture: directory,
        now: `${TODAY}T10:00:00+01:00`,
        libraryUrl: `fbs+http://forny:${PASSWORD}@127.0.0.1:${port}?agency=761500&timeout_ms=2000`,
        ...(databaseUrl ? { databaseUrl } : {}),
        ...(options.env ? { env: options.env } : {}),
      });
    }

    afterEach(async () => {
      await h?.stop();
      await server?.stop();
      if (dropDatabase) await dropDatabase();
      dropDatabase = null;
    });

    const dashboard = async (path: string) => {

      const { status, text } = await h.page(path);

      expect(status, path).to.equal(200);

      return text;

    };

    it('renews in one call and answers "N af M lån" with FBS’s counts; the ILL "med forbehold", refusals with reasons and FBS’s words', async () => {
      await start();
      const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');
      const sent = await eventually(() => h.twilio.messagesTo(ASE)[0], 15_000, 'the reply');
      expect(sent.body).to.contain('3 af 5 lån');
      expect(sent.body).to.contain('med forbehold');
      expect(server.count('renew')).to.equal(1);
      expect(JSON.parse(server.received.find((request) => request.call === 'renew')!.body)).to.deep.equal([103, 104, 105]);
      expect(server.violations).to.deep.equal([]);

      const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
      expect(inbound).to.include({ status: 'processed', patronId: 'p-ase' });
      expect(inbound.result).to.include({ total: 5, renewed: 3 });
      const byLoan = new Map((inbound.result?.loans ?? []).map((loan) => [loan.loanId, loan]));
      expect(byLoan.get('101')).to.deep.equal({
        loanId: '101',
        itemId: '5000101',
        title: null,
        outcome: 'refused',
        reason: 'on_reserve',
        systemMessage: 'deniedReserved',
        oldDueDate: '2026-12-03',
        newDueDate: null,
        provisional: false,
      });
      expect(byLoan.get('102')).to.include({ reason: 'too_many', systemMessage: 'deniedMaxRenewalsReached' });
      expect(byLoan.get('104')).to.include({ outcome: 'renewed', provisional: true, title: 'Fjernlånt: Kongens Fald', newDueDate: '2026-12-17' });

      const ready = await h.readyz();
      expect(JSON.parse(ready.text)).to.have.nested.property('checks.librarySystem', 'ok');
      const renewal = await dashboard(`/admin/renewals/${messageSid}`);
      expect(renewal).to.contain('3 af 5 lån fornyet');
      expect(renewal).to.contain('Fjernlånt: Kongens Fald');
      expect(renewal).to.contain('5000101'); // no title from FBS or a notice: the item number
      expect(renewal).to.contain('fornyet med forbehold');
      expect(renewal).to.contain('reserveret af en anden låner <span class="system-message">(deniedReserved)</span>');
      expect(librarySystemLine(await dashboard('/admin'))).to.match(/^Bibliotekssystem: FBS \(fbs\+http:\/\/forny@127\.0\.0\.1:\d+\/rest \(agency DK-761500\)\) svarer$/);
    });

    it('isRenewable true is not trusted: a blocked patron’s loans are asked and refused as patron_blocked, in Danish on the page', async () => {
      await start({ skipEvaluation: true });
      server.patrons.get(ASE_CARD)!.blocked = true;
      const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');
      const sent = await eventually(() => h.twilio.messagesTo(ASE)[0], 15_000, 'the reply');
      expect(sent.body).to.contain('0 af 5 lån');
      expect(JSON.parse(server.received.find((request) => request.call === 'renew')!.body)).to.have.length(5);
      const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
      expect(inbound.result?.loans.find((loan) => loan.loanId === '103')).to.include({ reason: 'patron_blocked', systemMessage: 'deniedLoanerIsBlocked' });
      expect(await dashboard(`/admin/renewals/${messageSid}`)).to.contain('låneren er spærret i bibliotekssystemet');
    });

    it('one login for many requests; a session that timed out is replaced by one new login', async () => {
      await start();
      await h.text(ASE, 'HBK FORNY ALLE');
      await eventually(() => h.twilio.messagesTo(ASE)[0], 15_000, 'the first reply');
      await h.text(FAMILY, 'HBK FORNY ALLE');
      await eventually(() => h.twilio.messagesTo(FAMILY)[0], 15_000, 'the second reply');
      expect(server.count('login')).to.equal(1);
      server.expireSessions();
      h.clock.advance(11 * 60_000); // past the per-number limit's window, not the patron cache's day
      await h.text(ASE, 'HBK FORNY ALLE');
      await eventually(() => h.twilio.messagesTo(ASE)[1], 15_000, 'the third reply');
      expect(server.count('login')).to.equal(2);
      expect(server.received.filter((request) => request.call !== 'login' && request.session === null)).to.deep.equal([]);
    });

    it('a renew answer lost after FBS applied it: counted renewed, FBS never asked again for it, one answer', async () => {
      await start();
      server.faults.push({ kind: 'loseRenewAnswer' });
      const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');
      const sent = await eventually(() => h.twilio.messagesTo(ASE)[0], 20_000, 'the reply');
      expect(sent.body).to.contain('3 af 5 lån');
      expect(server.faults).to.deep.equal([]); // the answer was indeed lost
      expect(server.count('renew')).to.equal(1);
      expect(renewedAtFbs(server)).to.deep.equal([103, 104, 105]);
      const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
      expect(inbound.result?.loans.find((loan) => loan.loanId === '103')).to.include({ outcome: 'renewed', newDueDate: '2026-12-17' });
      await queuesSettled(h.deps.queues.all);
      expect(h.twilio.messagesTo(ASE)).to.have.length(1);
    });

    it('FBS answering 503, then away: waits and retries, /readyz and the overview say so, answers once it is back', async () => {
      await start();
      server.faults.push({ kind: 'status', on: 'patron', status: 503 });
      await h.text(ASE, 'HBK FORNY ALLE');
      await eventually(() => h.twilio.messagesTo(ASE)[0], 15_000, 'the reply after the 503');
      expect(server.count('renew')).to.equal(1);

      await server.stop();
      h.clock.advance(11 * 60_000);
      await h.text(FAMILY, 'HBK FORNY ALLE');
      const down = await eventually(async () => {
        const ready = await h.readyz();
        return ready.status === 200 && ready.text.includes('down: ') && ready.text;
      }, 10_000, '/readyz to say FBS is down');
      expect(JSON.parse(down)).to.have.nested.property('checks.librarySystem', 'down: not answering');
      expect(down).not.to.contain('127.0.0.1').and.not.to.contain(PASSWORD);
      expect(librarySystemLine(await dashboard('/admin'))).to.match(/^Bibliotekssystem: FBS \(.*\) svarer ikke/);
      await eventually(async () => ((await h.deps.queues.renewAll.getJobCounts('delayed')).delayed ?? 0) > 0, 5_000, 'a retry to wait');
      expect(h.twilio.messagesTo(FAMILY)).to.have.length(0);

      await server.start();
      const sent = await eventually(() => h.twilio.messagesTo(FAMILY)[0], 20_000, 'the reply after FBS came back');
      expect(sent.body).to.contain('3 af 3 lån');
    });

    it('gives up after RENEW_ALL_GIVE_UP_MINUTES of FBS away: failed, one SMS, nothing renewed when it returns', async () => {
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
      expect(server.count('renew')).to.equal(0);
      expect(h.twilio.messagesTo(ASE)).to.have.length(1);
    });

    it('says "login refused" on /readyz while FBS refuses forny’s credentials, never the password', async () => {
      await start();
      server.refuseLogins = true;
      const ready = await eventually(async () => {
        const answer = await h.readyz();
        return answer.status === 200 && answer.text.includes('login refused') && answer.text;
      }, 5_000, '/readyz to say login refused');
      expect(JSON.parse(ready)).to.have.nested.property('checks.librarySystem', 'down: login refused');
      expect(ready).not.to.contain(PASSWORD);
      expect(librarySystemLine(await dashboard('/admin'))).to.contain('svarer ikke (login afvist)');
    });

    it('gives a card FBS does not know the unknown-number answer', async () => {
      await start();
      const { messageSid } = await h.text(STRANGER, 'HBK FORNY ALLE');
      const sent = await eventually(() => h.twilio.messagesTo(STRANGER)[0], 10_000, 'the answer');
      expect(sent.body).to.equal(h.deps.libraries.get('default').texts.unknownNumberReply());
      expect(server.count('renew')).to.equal(0);
      expect((await h.api<InboundView>(`/api/inbound/${messageSid}`)).body.result).to.equal(null);
    });

    it('renews both cards on one number and answers once, counting both', async () => {
      await start();
      const { messageSid } = await h.text(FAMILY, 'HBK FORNY ALLE');
      const sent = await eventually(() => h.twilio.messagesTo(FAMILY)[0], 15_000, 'the reply');
      expect(sent.body).to.contain('3 af 3 lån er fornyet');
      await queuesSettled(h.deps.queues.all);
      expect(h.twilio.messagesTo(FAMILY)).to.have.length(1);
      expect(renewedAtFbs(server)).to.deep.equal([201, 202, 301]);
      const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
      expect(inbound.result).to.include({ total: 3, renewed: 3 });
    });

    it('supersedes a reminder notice at 08:45 when FBS shows its loans renewed meanwhile; titles from the notice on the page', async () => {
      await start({ env: { NOTICES_TOKEN: TOKEN } });
      h.clock.set(`${TODAY}T21:30:00+01:00`);
      const notice = {
        id: 'fbs-reminder-1',
        kind: 'reminder',
        patron: { cardNumber: ASE_CARD, name: 'Åse Østergård', mobile: ASE, email: null, smsOptIn: true, emailOptIn: false },
        loans: [
          { itemId: '5000103', title: 'Gåden om Østerport', dueDate: '2026-12-03' },
          { itemId: '5000105', title: 'Årets gang på Kronborg', dueDate: '2026-12-03' },
        ],
        reservation: null,
      };
      const posted = await fetch(`${h.baseUrl}/api/notices`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(notice) });
      expect(posted.status, await posted.clone().text()).to.equal(202);
      const { messageSid } = await h.text(ASE, 'HBK FORNY ALLE');
      await eventually(async () => (await h.deps.db('inbound_messages').where({ from_number: ASE }).first())?.status === 'processed', 15_000, 'the renew-all');
      const { body: inbound } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
      expect(inbound.result?.loans.find((loan) => loan.itemId === '5000103')?.title).to.equal('Gåden om Østerport');

      const loansAsked = server.count('loans');
      await h.windowOpens('2026-12-02T08:45:00+01:00');
      await queuesSettled(h.deps.queues.all);
      expect(server.count('loans')).to.be.greaterThan(loansAsked); // asked FBS just before sending
      const reminder = await h.deps.db('outbound_messages').where({ kind: 'reminder', to_address: ASE }).first();
      expect(reminder?.status).to.equal('superseded');
      expect(h.twilio.messagesTo(ASE).map((message) => message.body)).to.have.length(1); // the renew-all answer only
    });
  });
}
