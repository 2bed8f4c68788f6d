import { expect } from 'chai';
import { ManualClock } from '../../src/clock.js';
import { FbsClient, FbsUnavailable } from '../../src/library/fbs/client.js';
import { parseFbsUrl } from '../../src/library/fbs/url.js';
import { LibrarySystemUnavailable } from '../../src/library/library-system-unavailable.js';
import { rejection } from '../helpers/harness.js';
import { FbsServer, type SimFbsLoan } from '../helpers/fbs-server.js';

/*
 * The FBS client against the simulator over real HTTP (SPEC §13): one login shared by every call,
 * a timed-out key replaced by one new login, refusals and outages as LibrarySystemUnavailable with
 * the `down` operators act on, the card's patronId kept up to a day, at most `concurrency` at once.
 */

const PASSWORD = 'Hemmeligt-kodeord-23';
const CARD = '0102030405';
const NOW = '2026-12-01T10:00:00Z';

const loans = (): SimFbsLoan[] => [
  { loanId: 501, itemNumber: '5000000001', dueDate: '2026-12-03', renewals: 0 },
  { loanId: 502, itemNumber: '5000000002', dueDate: '2026-12-03', renewals: 0, reserved: true },
  { loanId: 503, itemNumber: '5000000003', dueDate: '2026-12-03', renewals: 0, loanType: 'interLibraryLoan', title: 'Fjernlånt: Kongens Fald' },
];

describe('FBS client against the simulator', function () {
  let server: FbsServer;
  let clock: ManualClock;
  const clients: FbsClient[] = [];

  const client = (query = '', tuning: ConstructorParameters<typeof FbsClient>[2] = {}) => {
    const made = new FbsClient(parseFbsUrl(`fbs+http://forny:${PASSWORD}@127.0.0.1:${server.port}?agency=761500&timeout_ms=1000${query}`), clock, tuning);
    clients.push(made);
    return made;
  };

  beforeEach(async () => {
    clock = new ManualClock(NOW);
    server = new FbsServer({ password: PASSWORD, today: '2026-12-01' });
    server.addPatron({ card: CARD, patronId: 7001, loans: loans() });
    server.addPatron({ card: '0000000001', patronId: 7002, loans: [] });
    await server.start();
  });

  afterEach(async () => {
    for (const made of clients.splice(0)) made.close();
    await server.stop();
  });

  it('logs in once for many calls at once: every caller awaits the one login, every call carries its key', async () => {
    const fbs = client();
    const cards = [CARD, '0000000001', CARD, '0000000001', CARD, CARD];
    const found = await Promise.all(cards.map((card) => fbs.patron(card)));
    expect(found.every((patron) => patron.known)).to.equal(true);
    expect(server.count('login')).to.equal(1);
    const key = server.received.filter((request) => request.call !== 'login').map((request) => request.session);
    expect(new Set(key).size).to.equal(1);
    expect(key[0]).to.be.a('string');
    await fbs.loans('7001');
    expect(server.count('login')).to.equal(1);
    expect(server.violations).to.deep.equal([]);
  });

  it('a key that timed out (401): one new login, the call repeated once, shared by callers meanwhile', async () => {
    const fbs = client();
    await fbs.loans('7001');
    server.expireSessions();
    const [first, second] = await Promise.all([fbs.loans('7001'), fbs.loans('7002')]);
    expect(first).to.have.length(3);
    expect(second).to.have.length(0);
    expect(server.count('login')).to.equal(2);
    expect(server.count('loans')).to.equal(5); // 1 + two refused + two repeated
  });

  it('the card as bare text under application/json; VALID kept up to a day, anything else not known', async () => {
    const fbs = client();
    expect(await fbs.patron(CARD)).to.deep.equal({ known: true, patronId: '7001' });
    const asked = server.received.find((request) => request.call === 'patron');
    expect(asked).to.include({ body: CARD, contentType: 'application/json' });
    await fbs.patron(CARD);
    expect(server.count('patron')).to.equal(1);
    clock.advance(23 * 3600_000);
    await fbs.patron(CARD);
    expect(server.count('patron')).to.equal(1);
    clock.advance(2 * 3600_000);
    await fbs.patron(CARD);
    expect(server.count('patron')).to.equal(2);
    expect(await fbs.patron('9999999999')).to.deep.equal({ known: false, status: 'INVALID' });
  });

  it('reads loans v2 and renews in one call with a JSON array of loanIds; statuses and the new due date come back', async () => {
    const fbs = client();
    const listed = await fbs.loans('7001');
    expect(listed[0]).to.deep.equal({ loanId: '501', materialItemNumber: '5000000001', dueDate: '2026-12-03', loanType: 'loan', title: null, isRenewable: true, renewalStatusList: [] });
    expect(listed[1]).to.deep.include({ isRenewable: false, renewalStatusList: ['deniedReserved'] });
    expect(listed[2]).to.deep.include({ loanType: 'interLibraryLoan', title: 'Fjernlånt: Kongens Fald' });
    const renewed = await fbs.renew('7001', ['501', '502', '503']);
    expect(server.count('renew')).to.equal(1);
    expect(server.received.find((request) => request.call === 'renew')?.body).to.equal('[501,502,503]');
    expect(renewed.map((entry) => [entry.loan.loanId, entry.renewalStatus, entry.loan.dueDate])).to.deep.equal([
      ['501', ['renewed'], '2026-12-17'],
      ['502', ['deniedReserved'], '2026-12-03'],
      ['503', ['renewed'], '2026-12-17'],
    ]);
  });

  it('a refused login (403) is `login refused`, never naming the password, and is not tried again at once', async () => {
    server.refuseLogins = true;
    const fbs = client('', { loginBackoff: { initialMs: 5000, maxMs: 60_000 } });
    const error = await rejection(fbs.patron(CARD));
    expect(error).to.be.instanceOf(LibrarySystemUnavailable);
    expect(error).to.include({ down: 'login refused' });
    expect(error.message).to.contain('login refused').and.not.to.contain(PASSWORD);
    expect(await rejection(fbs.check())).to.include({ down: 'login refused' });
    expect(server.count('login')).to.equal(1);
    server.refuseLogins = false;
    clock.advance(5000);
    await fbs.check();
    expect(fbs.loggedIn).to.equal(true);
    expect(server.count('login')).to.equal(2);
  });

  it('FBS down: connection refused is `not answering` and sent nothing; a 503 is `failing`; a slow answer times out', async () => {
    const fbs = client();
    await fbs.check();
    server.faults.push({ kind: 'status', on: 'renew', status: 503 });
    const failing = await rejection(fbs.renew('7001', ['501']));
    expect(failing).to.be.instanceOf(FbsUnavailable);
    expect(failing).to.include({ down: 'failing', sent: true, status: 503 });

    server.faults.push({ kind: 'slow', on: 'loans', ms: 1500 });
    const slow = await rejection(fbs.loans('7001'));
    expect(slow).to.include({ down: 'not answering', sent: true });
    expect(slow.message).to.match(/no answer within 1000 ms/);

    await server.stop();
    const refused = await rejection(fbs.renew('7001', ['501']));
    expect(refused).to.include({ down: 'not answering', sent: false });
    expect(refused.message).to.match(/cannot connect/).and.not.to.contain(PASSWORD);
    expect(server.loan(501)?.renewals).to.equal(0);
  });

  it('a renew answer lost after FBS applied it: sent, and not repeated by the client', async () => {
    const fbs = client();
    server.faults.push({ kind: 'loseRenewAnswer' });
    const lost = await rejection(fbs.renew('7001', ['501']));
    expect(lost).to.include({ sent: true, down: 'not answering' });
    expect(server.count('renew')).to.equal(1);
    expect(server.loan(501)?.renewals).to.equal(1);
  });

  it('at most `concurrency` calls at once', async () => {
    const fbs = client('&concurrency=2');
    await fbs.check();
    for (let i = 0; i < 6; i += 1) server.faults.push({ kind: 'slow', on: 'loans', ms: 60 });
    await Promise.all(Array.from({ length: 6 }, () => fbs.loans('7001')));
    expect(server.maxInFlight).to.equal(2);
  });

  it('two clients (two libraries) hold their own sessions', async () => {
    const one = client();
    const two = client();
    await Promise.all([one.patron(CARD), two.patron(CARD)]);
    expect(server.count('login')).to.equal(2);
  });
});
