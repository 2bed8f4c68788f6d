import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';
import { insertInbound } from '../../db/repositories/inbound.js';
import { listIlsRenewals } from '../../db/repositories/ils-renewals.js';
import { getPatron, upsertPatronsByCard, type Patron } from '../../db/repositories/library.js';
import { insertNotices } from '../../db/repositories/notices.js';
import { insertOutbound } from '../../db/repositories/outbound.js';
import { ManualClock } from '../../src/clock.js';
import type { CalendarDate } from '../../src/domain/calendar-date.js';
import { createLogger } from '../../src/logger.js';
import { createFbsLibrarySystem } from '../../src/library/fbs/adapter.js';
import { parseFbsUrl } from '../../src/library/fbs/url.js';
import type { LibrarySystem } from '../../src/library/library-system.js';
import { LibrarySystemUnavailable } from '../../src/library/library-system-unavailable.js';
import { FbsServer, type SimFbsLoan } from '../helpers/fbs-server.js';
import { rejection } from '../helpers/harness.js';
import { createPostgresDatabase } from '../helpers/postgres.js';

/*
 * The FBS adapter behind the library-system port (SPEC §13), against the simulator over real HTTP
 * and a real database: the renew-all as the job calls it, exactly once per request across reruns
 * and lost answers, the statuses' reasons, titles, dates, and the reminder's send-time check.
 */

const PASSWORD = 'Fbs-kodeord-23';
const CARD = '0102030405';
const CHILD = '0102030499';
const NOW = '2026-12-01T10:00:00Z';
const TIMEOUT_MS = 1000;
/** Far enough that no test reaches the request's give-up time. */
const DEADLINE = new Date('2026-12-02T10:00:00Z');

/** Ten loans: 1001 reserved, 1002 renewed as often as allowed, 1003 not loanable, 1004 an ILL, 1005 an unknown status; the rest plain. */
function loans(): SimFbsLoan[] {
  return Array.from({ length: 10 }, (_, i) => {
    const loanId = 1001 + i;
    return {
      loanId,
      itemNumber: `50000${loanId}`,
      dueDate: '2026-12-03',
      renewals: loanId === 1002 ? 3 : 0,
      reserved: loanId === 1001,
      notLoanable: loanId === 1003,
      ...(loanId === 1004 ? { loanType: 'interLibraryLoan' as const, title: 'Fjernlånt: Kongens Fald' } : {}),
      ...(loanId === 1005 ? { otherStatus: 'deniedSomethingNew' } : {}),
    };
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`FBS renew-all against the simulator (${dialect})`, function () {
    let dir: string;
    let dropDatabase: (() => Promise<void>) | null = null;
    let db: Knex;
    let server: FbsServer;
    let clock: ManualClock;
    let system: LibrarySystem;
    let patron: Patron;
    let child: Patron;
    let nextSid = 1;

    async function inbound(): Promise<number> {
      const { message } = await insertInbound(
        db,
        { messageSid: `SM${String(nextSid++).padStart(32, '0')}`, accountSid: null, fromNumber: '+4520304050', toNumber: '1910', body: 'HBK FORNY ALLE', command: 'renew-all', status: 'received', libraryId: 'default' },
        clock.now(),
      );
      return message.id;
    }

    const renewAll = (inboundId: number, patrons: Patron[] = [patron], deadline = DEADLINE) => system.renewAll({ db, inboundId, patrons, now: clock.now(), deadline });
    const build = (query = '') =>
      createFbsLibrarySystem(parseFbsUrl(`fbs+http://forny:${PASSWORD}@127.0.0.1:${server.port}?agency=761500&timeout_ms=${TIMEOUT_MS}${query}`), { db, clock, logger: createLogger('silent') }, { loginBackoff: { initialMs: 1000, maxMs: 1000 } });

    beforeEach(async () => {
      if (dialect === 'sqlite') {
        dir = mkdtempSync(join(tmpdir(), 'forny-fbs-'));
        db = createKnex(`sqlite:${join(dir, 'test.sqlite')}`);
      } else {
        const database = await createPostgresDatabase();
        dropDatabase = () => database.drop();
        db = createKnex(database.url);
      }
      await migrateToLatest(db);
      clock = new ManualClock(NOW);
      const ids = await upsertPatronsByCard(
        db,
        'default',
        [
          { cardNumber: CARD, name: 'Åse Østergård', mobile: '+4520304050', email: null, smsOptIn: true, emailOptIn: false },
          { cardNumber: CHILD, name: 'Bo Østergård', mobile: '+4520304050', email: null, smsOptIn: true, emailOptIn: false },
        ],
        clock.now(),
      );
      patron = (await getPatron(db, ids.get(CARD)!))!;
      child = (await getPatron(db, ids.get(CHILD)!))!;
      // The library's notices named two of the loans by title (FBS lists ordinary loans without one).
      await insertNotices(
        db,
        [
          {
            id: 'fbs-notice-1',
            libraryId: 'default',
            kind: 'reminder',
            cardNumber: CARD,
            patronId: patron.id,
            contentHash: 'x',
            loans: [
              { itemId: '500001006', title: 'Babettes gæstebud', dueDate: '2026-12-03' as CalendarDate },
              { itemId: '500001001', title: 'Ærøs blå fjorde', dueDate: '2026-12-03' as CalendarDate },
            ],
            smsMessageId: null,
            emailMessageId: null,
          },
        ],
        clock.now(),
      );
      server = new FbsServer({ password: PASSWORD, today: '2026-12-01', renewalDays: 14, maxRenewals: 3, dateSuffix: 'T00:00:00.000+01:00' });
      server.addPatron({ card: CARD, patronId: 7001, loans: loans() });
      server.addPatron({ card: CHILD, patronId: 7002, loans: [{ loanId: 2001, itemNumber: '500002001', dueDate: '2026-12-04', renewals: 0 }] });
      await server.start();
      system = build();
    });

    afterEach(async () => {
      await system?.close();
      await server?.stop();
      await db.destroy();
      if (dropDatabase) await dropDatabase();
      dropDatabase = null;
      if (dialect === 'sqlite') rmSync(dir, { recursive: true, force: true });
    });

    it('renews in one call what FBS did not list as refused; N of M, reasons, systemMessage, ILL provisional, titles and dates', async () => {
      const inboundId = await inbound();
      const report = await renewAll(inboundId);
      expect(report.patronKnown).to.equal(true);
      expect(report.results).to.have.length(10);
      expect(report.results.filter((result) => result.outcome === 'renewed')).to.have.length(6);
      expect(server.count('login')).to.equal(1);
      expect(server.count('renew')).to.equal(1);
      // Refused in the listing with reasons: not asked.
      expect(JSON.parse(server.received.find((request) => request.call === 'renew')!.body)).to.deep.equal([1004, 1006, 1007, 1008, 1009, 1010]);
      const byLoan = new Map(report.results.map((result) => [result.loanId, result]));
      expect(byLoan.get('1001')).to.deep.equal({
        inboundId,
        loanId: '1001',
        patronId: patron.id,
        itemId: '500001001',
        title: 'Ærøs blå fjorde',
        outcome: 'refused',
        reason: 'on_reserve',
        systemMessage: 'deniedReserved',
        oldDueDate: '2026-12-03',
        newDueDate: null,
        provisional: false,
      });
      expect(byLoan.get('1002')).to.deep.include({ outcome: 'refused', reason: 'too_many', systemMessage: 'deniedMaxRenewalsReached', title: null });
      expect(byLoan.get('1003')).to.deep.include({ outcome: 'refused', reason: 'not_renewable', systemMessage: 'deniedMaterialIsNotLoanable' });
      expect(byLoan.get('1005')).to.deep.include({ outcome: 'refused', reason: 'ils_refused', systemMessage: 'deniedSomethingNew' });
      expect(byLoan.get('1004')).to.deep.include({ outcome: 'renewed', provisional: true, title: 'Fjernlånt: Kongens Fald', newDueDate: '2026-12-17' });
      expect(byLoan.get('1006')).to.deep.equal({
        inboundId,
        loanId: '1006',
        patronId: patron.id,
        itemId: '500001006',
        title: 'Babettes gæstebud',
        outcome: 'renewed',
        reason: null,
        systemMessage: null,
        oldDueDate: '2026-12-03',
        newDueDate: '2026-12-17',
        provisional: false,
      });
      expect(server.violations).to.deep.equal([]);
    });

    it('isRenewable is not trusted: FBS skipping its evaluation lists every loan renewable, and the renew answer decides', async () => {
      server.skipEvaluation = true;
      server.patrons.get(CARD)!.blocked = true;
      const report = await renewAll(await inbound());
      expect(JSON.parse(server.received.find((request) => request.call === 'renew')!.body)).to.have.length(10);
      expect(report.results.filter((result) => result.outcome === 'renewed')).to.have.length(0);
      expect(report.results.find((result) => result.loanId === '1001')).to.deep.include({ reason: 'patron_blocked', systemMessage: 'deniedLoanerIsBlocked, deniedReserved' });
      expect(report.results.find((result) => result.loanId === '1007')).to.deep.include({ reason: 'patron_blocked', systemMessage: 'deniedLoanerIsBlocked' });
    });

    it('a rerun of the same SMS asks FBS to renew nothing again: finished loans come from forny’s records', async () => {
      const inboundId = await inbound();
      const first = await renewAll(inboundId);
      const second = await renewAll(inboundId);
      expect(second).to.deep.equal(first);
      expect(server.count('renew')).to.equal(1);
      expect(server.count('login')).to.equal(1);
      expect(server.loan(1006)!.renewals).to.equal(1);
    });

    it('a renew answer lost after FBS applied it: the loans read again, recorded renewed with the moved date, never asked again', async () => {
      const inboundId = await inbound();
      server.faults.push({ kind: 'loseRenewAnswer' });
      const error = await rejection(renewAll(inboundId));
      expect(error).to.be.instanceOf(LibrarySystemUnavailable);
      expect(error.message).not.to.contain(PASSWORD);
      const rows = await listIlsRenewals(db, inboundId);
      expect(rows.filter((row) => row.outcome === null).map((row) => row.loanId)).to.deep.equal(['1004', '1006', '1007', '1008', '1009', '1010']);

      const report = await renewAll(inboundId);
      expect(server.count('renew')).to.equal(1);
      expect(report.results.filter((result) => result.outcome === 'renewed')).to.have.length(6);
      expect(report.results.find((result) => result.loanId === '1006')).to.deep.include({ outcome: 'renewed', oldDueDate: '2026-12-03', newDueDate: '2026-12-17', title: 'Babettes gæstebud' });
      expect(report.results.find((result) => result.loanId === '1004')).to.deep.include({ outcome: 'renewed', provisional: true });
      expect([...server.renewedLoans].sort()).to.deep.equal([1004, 1006, 1007, 1008, 1009, 1010]);
      expect(await renewAll(inboundId)).to.deep.equal(report);
      expect(server.count('renew')).to.equal(1);
    });

    it('a renew answered 503 (not applied): not asked again while a run may await it; then asked once more and renewed once', async () => {
      const inboundId = await inbound();
      server.faults.push({ kind: 'status', on: 'renew', status: 503 });
      expect(await rejection(renewAll(inboundId))).to.include({ down: 'failing' });
      expect(server.renewedLoans).to.deep.equal([]);
      const early = await rejection(renewAll(inboundId));
      expect(early.message).to.match(/may still be awaiting its answer/);
      expect(server.count('renew')).to.equal(1);
      clock.advance(5 * TIMEOUT_MS);
      const report = await renewAll(inboundId);
      expect(server.count('renew')).to.equal(2);
      expect(report.results.filter((result) => result.outcome === 'renewed')).to.have.length(6);
      expect([...server.renewedLoans].sort()).to.deep.equal([1004, 1006, 1007, 1008, 1009, 1010]);
    });

    it('FBS not answering before the renew call: nothing recorded as asked, the next run renews', async () => {
      const inboundId = await inbound();
      await server.stop();
      const error = await rejection(renewAll(inboundId));
      expect(error).to.include({ down: 'not answering' });
      expect(await system.check()).to.deep.include({ ok: false, down: 'not answering' });
      await server.start();
      const report = await renewAll(inboundId);
      expect(report.results.filter((result) => result.outcome === 'renewed')).to.have.length(6);
      expect(await system.check()).to.deep.equal({ ok: true });
    });

    it('past the request’s give-up time no renew call is made, and the intents are withdrawn', async () => {
      const inboundId = await inbound();
      const error = await rejection(renewAll(inboundId, [patron], new Date(clock.now().getTime() - 1)));
      expect(error).to.be.instanceOf(LibrarySystemUnavailable);
      expect(server.count('renew')).to.equal(0);
      expect((await listIlsRenewals(db, inboundId)).filter((row) => row.outcome === null)).to.deep.equal([]);
    });

    it('a card FBS does not know is unknown; with a known card beside it, the number is known', async () => {
      const stranger: Patron = { ...patron, id: 'p-stranger', cardNumber: '9999999999' };
      expect(await renewAll(await inbound(), [stranger])).to.deep.equal({ patronKnown: false, results: [] });
      const both = await renewAll(await inbound(), [stranger, child]);
      expect(both.patronKnown).to.equal(true);
      expect(both.results.map((result) => [result.loanId, result.outcome])).to.deep.equal([['2001', 'renewed']]);
    });

    it('two cards on one number: each card’s loans renewed in its own call, one report', async () => {
      const report = await renewAll(await inbound(), [patron, child]);
      expect(report.results).to.have.length(11);
      expect(server.count('renew')).to.equal(2);
      expect(report.results.find((result) => result.loanId === '2001')).to.deep.include({ patronId: child.id, outcome: 'renewed' });
    });

    it('doneSoFar() reads back what was done, asking FBS nothing', async () => {
      const inboundId = await inbound();
      server.faults.push({ kind: 'loseRenewAnswer' });
      await rejection(renewAll(inboundId));
      const before = server.received.length;
      const partway = await system.doneSoFar({ inboundId, patrons: [patron] });
      expect(partway.total).to.equal(10);
      // The four refused from the listing are decided; the six asked have no answer yet.
      expect(partway.results.map((result) => [result.loanId, result.reason])).to.deep.equal([
        ['1001', 'on_reserve'],
        ['1002', 'too_many'],
        ['1003', 'not_renewable'],
        ['1005', 'ils_refused'],
      ]);
      expect(server.received.length).to.equal(before);
    });

    it('check(): a refused login is `login refused`, never the password', async () => {
      server.refuseLogins = true;
      const result = await system.check();
      expect(result).to.deep.include({ ok: false, down: 'login refused' });
      if (!result.ok) expect(result.reason).to.contain('fbs+http://forny@127.0.0.1').and.not.to.contain(PASSWORD);
    });

    it('loansStillDue(): the card’s loans at FBS; renewed (due later) or gone is no longer due', async () => {
      await renewAll(await inbound()); // 1006 renewed to 2026-12-17; 1001 reserved, still due 2026-12-03
      const { message } = await insertOutbound(
        db,
        { channel: 'sms', kind: 'reminder', purpose: 'reminder', patronId: patron.id, inboundId: null, to: '+4520304050', from: '1910', body: 'x', sendAfter: clock.now(), dedupeKey: 'notice:fbs-notice-1:sms', libraryId: 'default' },
        clock.now(),
      );
      const named = (itemId: string) => ({ itemId, title: itemId, dueDate: '2026-12-03' as CalendarDate });
      const still = await system.loansStillDue(db, message.id, [named('500001006'), named('500001001'), named('gone')]);
      expect(still.map((loan) => loan.itemId)).to.deep.equal(['500001001']);
    });
  });
}
