import { rejection } from '../helpers/harness.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';
import { insertInbound } from '../../db/repositories/inbound.js';
import { listIlsRenewals } from '../../db/repositories/ils-renewals.js';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/logger.js';
import { LibrarySystemUnavailable } from '../../src/library/library-system-unavailable.js';
import type { Patron } from '../../db/repositories/library.js';
import type { CalendarDate } from '../../src/domain/calendar-date.js';
import type { LibrarySystem } from '../../src/library/library-system.js';
import { createSip2LibrarySystem } from '../../src/library/sip2/adapter.js';
import { parseSip2Url } from '../../src/library/sip2/url.js';
import { createPostgresDatabase } from '../helpers/postgres.js';
import { Sip2Server, type SimItem } from '../helpers/sip2-server.js';

const PASSWORD = 'Kodeord-77';
const CARD = '0102030405';
const NOW = '2026-11-29T10:00:00Z';
/** Far enough that no test reaches the request's give-up time. */
const DEADLINE = new Date('2026-11-30T10:00:00Z');
const patron = (cardNumber: string): Patron => ({ id: `P-${cardNumber}`, cardNumber, name: 'Åse Østergård', mobile: '+4520304050', smsOptIn: true, email: null, emailOptIn: false, libraryId: 'default' });

/** 25 loans: I-03 and I-07 reserved by someone else, I-11 renewed as often as allowed. */
function loans(): SimItem[] {
  return Array.from({ length: 25 }, (_, i) => {
    const n = String(i + 1).padStart(2, '0');
    return {
      id: `I-${n}`,
      title: i === 0 ? 'Ærøs blå fjorde' : `Bog nr. ${n} – søvnløs i Helsingør`,
      dueDate: '2026-12-02',
      renewals: n === '11' ? 2 : 0,
      maxRenewals: 2,
      onHold: n === '03' || n === '07',
    };
  });
}

const count = (codes: string[], code: string) => codes.filter((c) => c === code).length;

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`SIP2 renew-all against the simulator (${dialect})`, function () {
    let dir: string;
    let dropDatabase: (() => Promise<void>) | null = null;
    let db: Knex;
    let server: Sip2Server;
    let clock: ManualClock;
    let system: LibrarySystem;
    let nextSid = 1;

    async function inbound(): Promise<number> {
      const { message } = await insertInbound(
        db,
        { messageSid: `SM${String(nextSid++).padStart(32, '0')}`, accountSid: null, fromNumber: '+4520304050', toNumber: '1910', body: 'HBK FORNY ALLE', command: 'renew-all', status: 'received', libraryId: 'default' },
        clock.now(),
      );
      return message.id;
    }

    /** The port's renewAll for the one card, as the renew-all job calls it (before its transaction). */
    const renewAll = (inboundId: number, cardNumber = CARD) => system.renewAll({ db, inboundId, patrons: [patron(cardNumber)], now: clock.now(), deadline: DEADLINE });

    beforeEach(async () => {
      if (dialect === 'sqlite') {
        dir = mkdtempSync(join(tmpdir(), 'forny-sip2-'));
        db = createKnex(`sqlite:${join(dir, 'test.sqlite')}`);
      } else {
        const database = await createPostgresDatabase();
        dropDatabase = () => database.drop();
        db = createKnex(database.url);
      }
      await migrateToLatest(db);
      clock = new ManualClock(NOW);
      server = new Sip2Server({ password: PASSWORD, pageSize: 10, today: '2026-11-29', renewalDays: 14 });
      server.addPatron({ card: CARD, name: 'Åse Østergård', items: loans() });
      const port = await server.start();
      const options = parseSip2Url(`sip2://forny:${PASSWORD}@127.0.0.1:${port}?institution=HBK&location=HB01&timeout_ms=2000`);
      system = createSip2LibrarySystem(options, { db, clock, logger: createLogger('silent') }, { backoff: { initialMs: 1000, maxMs: 10_000 } });
    });

    afterEach(async () => {
      await system.close();
      await server.stop();
      await db.destroy();
      if (dropDatabase) await dropDatabase();
      dropDatabase = null;
      if (dialect === 'sqlite') rmSync(dir, { recursive: true, force: true });
    });

    it('renews N of M charged items, paging 63 until every AU is read, refusals with the system’s message', async () => {
      const report = await renewAll(await inbound());
      expect(report.patronKnown).to.equal(true);
      expect(report.results).to.have.length(25);
      expect(report.results.filter((loan) => loan.outcome === 'renewed')).to.have.length(22);
      expect(report.results[0]).to.deep.equal({
        inboundId: report.results[0]!.inboundId,
        loanId: 'I-01',
        patronId: `P-${CARD}`,
        provisional: false,
        itemId: 'I-01',
        title: 'Ærøs blå fjorde',
        outcome: 'renewed',
        reason: null,
        systemMessage: null,
        oldDueDate: '2026-12-02',
        newDueDate: '2026-12-16',
      });
      expect(report.results[2]).to.deep.include({ itemId: 'I-03', outcome: 'refused', reason: 'ils_refused', systemMessage: 'Reserveret af en anden låner', newDueDate: null });
      expect(report.results[10]).to.deep.include({ itemId: 'I-11', outcome: 'refused', reason: 'ils_refused', systemMessage: 'Maksimalt antal fornyelser er nået' });

      const codes = server.codes();
      expect(codes.slice(0, 5)).to.deep.equal(['93', '99', '63', '63', '63']);
      expect(server.received.filter((m) => m.code === '63').map((m) => /BP(\d+)\|BQ(\d+)/.exec(m.text)?.slice(1).map(Number))).to.deep.equal([
        [1, 50],
        [11, 60],
        [21, 70],
      ]);
      expect(codes.slice(5)).to.deep.equal(Array.from({ length: 25 }, () => ['17', '29']).flat());
      expect(server.violations).to.deep.equal([]);
      expect(server.item('I-01')!.renewals).to.equal(1);
    });

    it('a rerun of the same SMS renews nothing again: finished items come from the table without asking', async () => {
      const inboundId = await inbound();
      const first = await renewAll(inboundId);
      server.received.length = 0;
      const second = await renewAll(inboundId);
      expect(second).to.deep.equal(first);
      expect(server.codes().filter((c) => c === '17' || c === '29')).to.deep.equal([]);
      expect(server.item('I-02')!.renewals).to.equal(1);
    });

    it('a renewal the system applied and whose answer was lost is not applied twice and counts as renewed', async () => {
      const inboundId = await inbound();
      server.faults.push({ kind: 'loseRenewAnswer', item: 'I-05' });
      const error = await rejection(renewAll(inboundId));
      expect(error).to.be.instanceOf(LibrarySystemUnavailable);
      expect(error.message).not.to.contain(PASSWORD);
      const rows = await listIlsRenewals(db, inboundId);
      expect(rows.map((row) => [row.itemId, row.outcome])).to.deep.equal([
        ['I-01', 'renewed'],
        ['I-02', 'renewed'],
        ['I-03', 'refused'],
        ['I-04', 'renewed'],
        ['I-05', null],
      ]);

      server.received.length = 0;
      const report = await renewAll(inboundId);
      expect(report.results.filter((loan) => loan.outcome === 'renewed')).to.have.length(22);
      expect(report.results[4]).to.deep.equal({
        inboundId,
        loanId: 'I-05',
        patronId: `P-${CARD}`,
        provisional: false,
        itemId: 'I-05',
        title: 'Bog nr. 05 – søvnløs i Helsingør',
        outcome: 'renewed',
        reason: null,
        systemMessage: null,
        oldDueDate: '2026-12-02',
        newDueDate: '2026-12-16',
      });
      expect(server.item('I-05')!.renewals).to.equal(1);
      // I-01..I-04 finished before: not asked again. I-05: looked up, not renewed. The rest: 17 + 29.
      const asked = server.received.filter((m) => m.code === '17' || m.code === '29').map((m) => `${m.code} ${/AB([^|]*)\|/.exec(m.text)![1]}`);
      expect(asked.slice(0, 3)).to.deep.equal(['17 I-05', '17 I-06', '29 I-06']);
      expect(count(server.codes(), '29')).to.equal(20);
      for (const item of loans()) {
        const expected = item.onHold || item.id === 'I-11' ? item.renewals : item.renewals + 1;
        expect(server.item(item.id)!.renewals, item.id).to.equal(expected);
      }
    });

    it('a Renew that never reached the system is sent again once 17 shows the due date unchanged and no run can still await it', async () => {
      const inboundId = await inbound();
      server.faults.push({ kind: 'drop', on: '29' });
      expect(await rejection(renewAll(inboundId))).to.be.instanceOf(LibrarySystemUnavailable);
      expect((await listIlsRenewals(db, inboundId)).map((row) => [row.itemId, row.outcome])).to.deep.equal([['I-01', null]]);
      expect(server.item('I-01')!.renewals).to.equal(0);

      // Right away, another run may still be waiting for that Renew's answer: leave it be.
      const early = await rejection(renewAll(inboundId));
      expect(early).to.be.instanceOf(LibrarySystemUnavailable);
      expect(early.message).to.match(/renewal of I-01 may still be awaiting its answer/);
      expect(server.item('I-01')!.renewals).to.equal(0);

      clock.advance(4000); // twice timeout_ms: any Renew in flight has had its answer or its time-out
      const report = await renewAll(inboundId);
      expect(report.results[0]).to.deep.include({ itemId: 'I-01', outcome: 'renewed', newDueDate: '2026-12-16' });
      expect(server.item('I-01')!.renewals).to.equal(1);
      expect(report.results.filter((loan) => loan.outcome === 'renewed')).to.have.length(22);
    });

    it('doneSoFar() reads back what runs did for the cards, without asking the system: the listing’s count and each finished item', async () => {
      const inboundId = await inbound();
      const doneSoFar = (cardNumber = CARD) => system.doneSoFar({ inboundId, patrons: [patron(cardNumber)] });
      expect(await doneSoFar()).to.deep.equal({ results: [], total: 0 });
      server.faults.push({ kind: 'loseRenewAnswer', item: 'I-02' }); // I-02 renewed, its answer lost
      await rejection(renewAll(inboundId));
      server.received.length = 0;
      const partway = await doneSoFar();
      // An intent with no outcome is counted in the total, not reported as renewed.
      expect(partway.total).to.equal(25);
      expect(partway.results.map((result) => [result.loanId, result.outcome])).to.deep.equal([['I-01', 'renewed']]);
      clock.advance(4000); // past the time a Renew may still be awaiting its answer
      await renewAll(inboundId);
      server.received.length = 0;
      const done = await doneSoFar();
      expect(done.total).to.equal(25);
      expect(done.results).to.have.length(25);
      expect(done.results[1]).to.deep.include({ loanId: 'I-02', outcome: 'renewed', newDueDate: '2026-12-16', patronId: `P-${CARD}` });
      expect(done.results.filter((result) => result.outcome === 'renewed')).to.have.length(22);
      // Another card's view of the same request holds nothing of this card's.
      expect(await doneSoFar('0000000000')).to.deep.equal({ results: [], total: 0 });
      expect(server.received).to.deep.equal([]);
    });

    it('a patron the system does not know (BL N) is reported unknown, nothing renewed', async () => {
      const report = await renewAll(await inbound(), '9999999999');
      expect(report).to.deep.equal({ patronKnown: false, results: [] });
      expect(server.codes()).to.deep.equal(['93', '99', '63']);
    });

    it('the system down: LibrarySystemUnavailable; back up: the renew-all completes, each item renewed once', async () => {
      const inboundId = await inbound();
      await server.stop();
      const error = await rejection(renewAll(inboundId));
      expect(error).to.be.instanceOf(LibrarySystemUnavailable);
      expect(error.message).to.match(/cannot connect/).and.not.to.contain(PASSWORD);
      expect(await system.check()).to.deep.include({ ok: false });

      await server.start();
      clock.advance(10_000); // past the pool's backoff
      const report = await renewAll(inboundId);
      expect(report.results.filter((loan) => loan.outcome === 'renewed')).to.have.length(22);
      await renewAll(inboundId);
      expect(count(server.codes(), '29')).to.equal(25);
      expect(server.item('I-25')!.renewals).to.equal(1);
      expect(await system.check()).to.deep.equal({ ok: true });
    });

    it('check() names why the login failed, never the password', async () => {
      server.refuseLogins = true;
      const result = await system.check();
      expect(result.ok).to.equal(false);
      if (result.ok) return;
      expect(result.reason).to.match(/login refused/).and.to.contain('sip2://forny@127.0.0.1');
      expect(result.reason).not.to.contain(PASSWORD);
    });

    it('loansStillDue() asks 17 per item: due on the named date is kept, renewed or unknown to the system is not', async () => {
      await renewAll(await inbound()); // I-01 renewed to 2026-12-16; I-03 reserved, still due 2026-12-02
      const named = (itemId: string) => ({ itemId, title: itemId, dueDate: '2026-12-02' as CalendarDate });
      const still = await system.loansStillDue(db, 0, [named('I-01'), named('I-03'), named('NOPE')]);
      expect(still.map((loan) => loan.itemId)).to.deep.equal(['I-03']);
    });
  });
}
