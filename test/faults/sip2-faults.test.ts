import { expect } from 'chai';
import type { FixtureInput } from '../../db/fixture.js';
import { eventually, found, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';
import { Sip2Server, type ReceivedMessage } from '../helpers/sip2-server.js';

/*
 * The library's system misbehaving under a burst of renew-alls (SPEC §4, §10), on forny's manual
 * clock: it dies mid-burst with more requests than pool connections, or it answers so slowly that
 * the queue outlasts the give-up time. Whatever it does, every request is renewed before its
 * give-up time or given up, no Renew leaves after that time, and every patron hears once, told
 * exactly what forny knows was renewed.
 */

const PASSWORD = 'Kodeord-fejl';
const TODAY = '2026-12-01';
const ITEMS_EACH = 2;
const number = (i: number) => `+4530${String(i).padStart(6, '0')}`;
const card = (i: number) => `C${String(i).padStart(9, '0')}`;
const itemOf = (i: number, j: number) => `P${i}-${j}`;

function directory(patrons: number): FixtureInput {
  return { patrons: Array.from({ length: patrons }, (_, i) => ({ id: `p${i}`, cardNumber: card(i), name: `Låner ${i}`, mobile: number(i), smsOptIn: true })) };
}

/** The item a `29` renews, from its `AB` field. */
const renewedItem = (message: ReceivedMessage) => /\|AB([^|]*)\|/.exec(message.text)?.[1] ?? '';

describe('SIP2 faults under a burst (simulator over TCP, real Redis and workers, manual clock)', function () {
  this.timeout(30_000);
  let server: Sip2Server;
  let h: Harness;

  async function start(patrons: number, pool: number): Promise<void> {
    server = new Sip2Server({ password: PASSWORD, institution: 'HBK', today: TODAY, renewalDays: 14 });
    for (let i = 0; i < patrons; i++) {
      server.addPatron({
        card: card(i),
        name: `Låner ${i}`,
        items: Array.from({ length: ITEMS_EACH }, (_, j) => ({ id: itemOf(i, j), title: `Bog ${i}.${j}`, dueDate: '2026-12-03', renewals: 0, maxRenewals: 2 })),
      });
    }
    const port = await server.start();
    h = await Harness.start({
      workers: true,
      fixture: directory(patrons),
      now: `${TODAY}T10:00:00+01:00`,
      env: { RENEW_ALL_GIVE_UP_MINUTES: '1' },
      libraryUrl: `sip2://forny:${PASSWORD}@127.0.0.1:${port}?institution=HBK&location=HB01&timeout_ms=2000&pool=${pool}`,
    });
  }

  afterEach(async () => {
    await h?.stop();
    await server?.stop();
  });

  const waiting = async () => Number((await h.deps.db('inbound_messages').where({ status: 'received' }).count({ n: '*' }).first())?.n);
  const renewalsAtServer = (i: number) => Array.from({ length: ITEMS_EACH }, (_, j) => server.item(itemOf(i, j))?.renewals ?? 0).reduce((a, b) => a + b, 0);
  const inboundOf = (i: number) => h.deps.db('inbound_messages').where({ from_number: number(i) }).first();
  const renewedBy = async (inboundId: number, outcome: 'renewed' | null) =>
    (await h.deps.db('ils_renewals').where({ inbound_id: inboundId }).where((q) => (outcome === null ? q.whereNull('outcome') : q.where({ outcome }))).count({ n: '*' }).first())?.n;

  /**
   * Each patron: one SMS, and it says what forny knows was renewed; the system renewed no item
   * twice, and at most the renewals whose answers were lost beyond what the SMS counts.
   */
  async function expectEachAnsweredOnceTruthfully(patrons: number): Promise<{ processed: number; failed: number }> {
    const texts = h.deps.libraries.get('default').texts;
    const tally = { processed: 0, failed: 0 };
    for (let i = 0; i < patrons; i++) {
      const inbound = await inboundOf(i);
      expect(inbound?.status, `patron ${i}`).to.be.oneOf(['processed', 'failed']);
      const sms = h.twilio.messagesTo(number(i)).map((message) => message.body);
      expect(sms, `patron ${i}`).to.have.length(1);
      const known = Number(await renewedBy(Number(inbound?.id), 'renewed'));
      const unanswered = Number(await renewedBy(Number(inbound?.id), null));
      for (let j = 0; j < ITEMS_EACH; j++) expect(server.item(itemOf(i, j))?.renewals, itemOf(i, j)).to.be.at.most(1);
      expect(renewalsAtServer(i), `patron ${i}`).to.be.within(known, known + unanswered);
      if (inbound?.status === 'processed') {
        tally.processed += 1;
        expect(sms[0], `patron ${i}`).to.equal(texts.renewAllReply({ renewed: known, total: ITEMS_EACH, provisional: 0 }));
      } else {
        tally.failed += 1;
        expect(sms[0], `patron ${i}`).to.equal(texts.renewAllGaveUp({ renewed: known, total: ITEMS_EACH }));
      }
    }
    return tally;
  }

  it('the system dies mid-burst with more requests than connections: each request renewed in time or given up, none left waiting, each patron answered once', async () => {
    const PATRONS = 16;
    const LATE = PATRONS; // texts once the system is back
    await start(PATRONS + 1, 2);
    server.answerDelayMs = 10; // slow enough that most of the burst waits for one of the two connections
    let renewsSeen = 0;
    let stopped: Promise<void> | undefined;
    server.onReceive = (message) => {
      if (message.code === '29' && ++renewsSeen === 6) stopped = server.stop();
    };
    await Promise.all(Array.from({ length: PATRONS }, (_, i) => h.text(number(i), 'HBK FORNY ALLE')));
    await eventually(() => stopped !== undefined, 10_000, 'the system to die mid-burst');
    await stopped;

    // A minute later on forny's clock every request's give-up time has passed, the system still away:
    // each request is given up (or was renewed in time), none left waiting for the system to return.
    h.clock.advance(61_000);
    const renewsBeforeGiveUpTime = server.received.filter((message) => message.code === '29').length;
    await eventually(async () => (await waiting()) === 0, 15_000, 'no request left waiting');
    await queuesSettled(h.deps.queues.all);

    // The system returns; six seconds on, past the pool's reconnect backoff (at most 5 s), a new patron texts.
    server.onReceive = null;
    await server.start();
    h.clock.advance(6_000);
    await h.text(number(LATE), 'HBK FORNY ALLE');
    await eventually(() => h.twilio.messagesTo(number(LATE))[0], 10_000, 'the answer to the patron who texted after the system came back');
    await queuesSettled(h.deps.queues.all);

    // After the give-up time only the late patron's loans were renewed.
    const lateRenews = server.received.filter((message) => message.code === '29').slice(renewsBeforeGiveUpTime);
    expect(lateRenews.map(renewedItem).sort()).to.deep.equal([itemOf(LATE, 0), itemOf(LATE, 1)]);
    const tally = await expectEachAnsweredOnceTruthfully(PATRONS + 1);
    expect(tally.failed, 'given up').to.be.above(0);
    expect((await inboundOf(LATE))?.status).to.equal('processed');
    expect(h.twilio.messagesTo(number(LATE))[0]?.body).to.contain(`${ITEMS_EACH} af ${ITEMS_EACH} lån`);
  });

  it('a slow system with a queue longer than the give-up time: no Renew after a request’s give-up time, and processed times as they happened', async () => {
    const PATRONS = 8;
    await start(PATRONS, 1);
    // Every message takes the system 5 s to answer, on forny's clock: 8 patrons need about 3½ minutes.
    const renewsAt: { item: string; at: number }[] = [];
    server.onReceive = (message) => {
      if (message.code === '29') renewsAt.push({ item: renewedItem(message), at: h.clock.now().getTime() });
      h.clock.advance(5_000);
    };
    await Promise.all(Array.from({ length: PATRONS }, (_, i) => h.text(number(i), 'HBK FORNY ALLE')));
    await eventually(async () => (await waiting()) === 0, 15_000, 'no request left waiting');
    await queuesSettled(h.deps.queues.all);

    const inbounds = await Promise.all(Array.from({ length: PATRONS }, async (_, i) => found(await inboundOf(i), `patron ${i}'s message`)));
    const renewsOf = (i: number) => renewsAt.filter((renew) => renew.item.startsWith(`P${i}-`));
    const late = inbounds.flatMap((inbound, i) => {
      const deadline = Date.parse(inbound.received_at) + h.config.jobs.renewAllGiveUpMs;
      return renewsOf(i).filter((renew) => renew.at >= deadline).map((renew) => `${renew.item} ${(renew.at - deadline) / 1000} s late`);
    });
    expect(late, 'Renews sent after the give-up time').to.deep.equal([]);
    inbounds.forEach((inbound, i) => {
      if (inbound.status !== 'processed') return;
      // Recorded when the transaction ran: after the system's last answer (5 s after its Renew).
      const lastAnswer = Math.max(...renewsOf(i).map((renew) => renew.at)) + 5_000;
      expect(Date.parse(found(inbound.processed_at, 'processed_at')), `patron ${i} processed_at`).to.be.at.least(lastAnswer);
    });
    const tally = await expectEachAnsweredOnceTruthfully(PATRONS);
    expect(tally.processed, 'renewed in time').to.be.above(0);
    expect(tally.failed, 'given up').to.be.above(0);
  });
});
