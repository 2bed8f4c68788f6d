import { expect } from 'chai';
import type { FixtureInput } from '../../db/fixture.js';
import { FbsServer } from '../helpers/fbs-server.js';
import { eventually, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';

/*
 * FBS dying under a burst of renew-alls (SPEC §13), with more requests than its concurrency: it goes
 * away in the middle of a renew call it has applied (the answer lost), and comes back. Every patron
 * hears once, told exactly what FBS renewed; no loan is renewed twice.
 */

const PASSWORD = 'Kodeord-fbs-fejl';
const TODAY = '2026-12-01';
const PATRONS = 24;
const number = (i: number) => `+4530${String(i).padStart(6, '0')}`;
const card = (i: number) => `C${String(i).padStart(9, '0')}`;

function directory(): FixtureInput {
  return { patrons: Array.from({ length: PATRONS }, (_, i) => ({ id: `p${i}`, cardNumber: card(i), name: `Låner ${i}`, mobile: number(i), smsOptIn: true })) };
}

describe('FBS faults under a burst (simulator over HTTP, real Redis and workers, manual clock)', function () {
  this.timeout(40_000);
  let server: FbsServer;
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
    await server?.stop();
  });

  it('FBS gone mid-burst while applying a renew call, then back: each loan renewed once, each patron one answer counting what FBS did', async () => {
    server = new FbsServer({ password: PASSWORD, today: TODAY, renewalDays: 14 });
    for (let i = 0; i < PATRONS; i++) {
      server.addPatron({ card: card(i), patronId: 5000 + i, loans: [0, 1].map((j) => ({ loanId: 100 * i + j + 1, itemNumber: `${i}-${j}`, dueDate: '2026-12-03', renewals: 0 })) });
    }
    const port = await server.start();
    h = await Harness.start({
      workers: true,
      fixture: directory(),
      now: `${TODAY}T10:00:00+01:00`,
      libraryUrl: `fbs+http://forny:${PASSWORD}@127.0.0.1:${port}?agency=761500&timeout_ms=2000&concurrency=2`,
    });
    let stopped: Promise<void> | undefined;
    server.onRequest = (call) => {
      // The eighth renew call is applied, and FBS is gone before it answers.
      if (call === 'renew' && server.count('renew') === 8 && !stopped) stopped = server.stop();
    };
    for (let i = 0; i < PATRONS; i++) await h.text(number(i), 'HBK FORNY ALLE');
    await eventually(() => stopped !== undefined, 15_000, 'FBS to go away mid-burst');
    await stopped;
    h.clock.advance(30_000); // past any call that may still await its answer
    await server.start(port);
    server.onRequest = null;

    for (let i = 0; i < PATRONS; i++) await eventually(() => h.twilio.messagesTo(number(i))[0], 20_000, `the answer to patron ${i}`);
    await queuesSettled(h.deps.queues.all);
    expect(server.renewedLoans.length).to.equal(new Set(server.renewedLoans).size);
    // Every renew call FBS received it applied: one per patron, the lost one's loans never asked again.
    expect(server.count('renew')).to.equal(PATRONS);
    for (let i = 0; i < PATRONS; i++) {
      const sent = h.twilio.messagesTo(number(i));
      expect(sent, `patron ${i}`).to.have.length(1);
      const renewed = [1, 2].filter((j) => server.loan(100 * i + j)!.renewals === 1).length;
      expect(sent[0]?.body, `patron ${i}`).to.contain(`${renewed} af 2 lån`);
      expect(renewed, `patron ${i}`).to.equal(2);
    }
  });
});
