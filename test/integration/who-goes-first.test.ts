import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadFixture } from '../../db/load-fixture.js';
import { reconcile } from '../../jobs/reconcile.js';
import { insertOutbound } from '../../db/repositories/outbound.js';
import { queueCounts } from '../../src/http/queue-reads.js';
import { enqueueOutbound } from '../../src/queue/enqueue.js';
import { eventually, Harness } from '../helpers/harness.js';

/*
 * Who goes first on the short code (SPEC §14): answers to patrons before every waiting reminder and
 * notice, and the libraries' reminders and notices in turns. Two embedded libraries, real Redis
 * and workers, loopback Twilio.
 */

const HBK_TOKEN = 'hbk-notices-token-0123456789abcdef0123';
const FRB_TOKEN = 'frb-notices-token-0123456789abcdef0123';
const PATRON = '+4520000001';
const OTHER_PATRON = '+4520000002';
const hbkMobile = (n: number) => `+4531${String(n).padStart(6, '0')}`;
const frbMobile = (n: number) => `+4541${String(n).padStart(6, '0')}`;

function librariesFile(dir: string): string {
  const path = join(dir, 'libraries.json');
  writeFileSync(
    path,
    JSON.stringify({
      gatewayName: 'Bibliotekerne',
      libraries: [
        { id: 'hbk', name: 'Helsingør Kommunes Biblioteker', keywords: ['HBK'], site: 'helsbib.dk', noticesToken: HBK_TOKEN },
        { id: 'frb', name: 'Fredensborg Bibliotekerne', keywords: ['FRB'], site: 'fredensborgbib.dk', noticesToken: FRB_TOKEN },
      ],
    }),
  );
  return path;
}

const notices = (library: 'hbk' | 'frb', count: number) =>
  Array.from({ length: count }, (_, n) => ({
    id: `${library}-${n}`,
    kind: 'overdue',
    patron: { cardNumber: `${library}-card-${n}`, name: `Låner ${n}`, mobile: library === 'hbk' ? hbkMobile(n) : frbMobile(n), email: null, smsOptIn: true, emailOptIn: false },
    loans: [{ itemId: `${library}-item-${n}`, title: 'Babettes gæstebud', dueDate: '2026-11-28' }],
    reservation: null,
  }));

/** hbk's patrons who text: one loan each, due in two days (renewable). */
const patrons = {
  patrons: [
    { id: 'p1', cardNumber: '0101', name: 'Karen Blixen', mobile: PATRON, smsOptIn: true, email: null, emailOptIn: false },
    { id: 'p2', cardNumber: '0202', name: 'Tove Ditlevsen', mobile: OTHER_PATRON, smsOptIn: true, email: null, emailOptIn: false },
  ],
  titles: [{ id: 't1', title: 'Kongens fald' }],
  items: [
    { id: 'i1', titleId: 't1', barcode: '5001' },
    { id: 'i2', titleId: 't1', barcode: '5002' },
  ],
  loans: [
    { id: 'l1', patronId: 'p1', itemId: 'i1', kind: 'standard' as const, loanPeriodDays: 30, borrowedOn: '2026-11-03', dueDate: '2026-12-03', renewals: 0 },
    { id: 'l2', patronId: 'p2', itemId: 'i2', kind: 'standard' as const, loanPeriodDays: 30, borrowedOn: '2026-11-03', dueDate: '2026-12-03', renewals: 0 },
  ],
};

describe('who goes first (SPEC §14; two libraries, real Redis and workers, loopback Twilio)', function () {
  this.timeout(60_000);
  let h: Harness;
  let dir: string;

  async function start(now: string, rate: number): Promise<void> {
    dir = mkdtempSync(join(tmpdir(), 'forny-first-'));
    h = await Harness.start({ workers: true, now, env: { LIBRARIES_FILE: librariesFile(dir), SMS_RATE_PER_SECOND: String(rate) } });
    await loadFixture(h.deps.db, patrons, h.clock.now(), 'hbk');
  }

  afterEach(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const post = async (token: string, body: unknown) => {
    const response = await fetch(`${h.baseUrl}/api/notices`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).to.equal(202);
  };
  const libraryOf = (to: string) => (to.startsWith('+4531') ? 'hbk' : to.startsWith('+4541') ? 'frb' : 'reply');

  // At 10/s BullMQ's limiter starts one send-sms job per 100 ms, so the order at Twilio is the
  // order the queue hands the jobs out in.
  it('at 08:45 a reply written after 500 waiting notices leaves before them, and the two libraries\' notices alternate whichever was written first', async () => {
    await start('2026-11-30T21:30:00+01:00', 10);
    // 21:30: hbk's 300 notices, then frb's 200, all waiting for 08:45.
    await post(HBK_TOKEN, notices('hbk', 300));
    await post(FRB_TOKEN, notices('frb', 200));
    // 21:40: a patron texts; the renewal is done at once and its answer waits for 08:45 too.
    h.clock.set('2026-11-30T21:40:00+01:00');
    await h.text(PATRON, 'HBK FORNY ALLE');
    const reply = await eventually(() => h.deps.db('outbound_messages').where({ to_address: PATRON, kind: 'reply' }).first(), 10_000, 'the reply written');
    expect(reply.status).to.equal('scheduled');
    expect(await h.deps.db('outbound_messages').where({ channel: 'sms', status: 'scheduled' }).count({ n: '*' }).first()).to.deep.equal({ n: 501 });

    // 08:45: everything is due at once.
    await h.windowOpens('2026-12-01T08:45:00+01:00');
    const first = await eventually(() => (h.twilio.messages.length >= 41 ? h.twilio.messages.slice(0, 41) : undefined), 30_000, 'the first 41 SMS');

    expect(first[0]?.to, 'the first SMS at 08:45').to.equal(PATRON);
    expect(first[0]?.body).to.match(/^Helsingør Kommunes Biblioteker: 1 af 1 lån er fornyet/);
    // Then hbk, frb, hbk, frb…: after every pair each library has had as many as the other.
    const order = first.slice(1).map((message) => libraryOf(message.to));
    expect(order).to.not.include('reply');
    for (let end = 2; end <= order.length; end += 2) {
      const pairs = order.slice(0, end);
      expect(pairs.filter((library) => library === 'frb').length, `frb's among the first ${end} notices: ${pairs.join(' ')}`).to.equal(end / 2);
    }
  });

  it('while the libraries\' notices drain, a patron\'s answer leaves within the next few SMS, not after the backlog', async () => {
    // 40/s: BullMQ's limiter starts four jobs each 100 ms, and the sends of those under way book
    // the rate further ahead than a reply may be sent at once (it then goes to send-sms).
    await start('2026-12-01T10:00:00+01:00', 40);
    await post(HBK_TOKEN, notices('hbk', 300));
    await post(FRB_TOKEN, notices('frb', 200));
    await eventually(() => h.twilio.messages.length >= 20, 30_000, 'the drain under way');

    const before = h.twilio.messages.length;
    await h.text(OTHER_PATRON, 'HBK FORNY ALLE');
    await eventually(() => h.twilio.messagesTo(OTHER_PATRON).length === 1, 30_000, 'the answer');
    const position = h.twilio.messages.findIndex((message) => message.to === OTHER_PATRON);
    // The sends already under way when the text came may leave first (measured: 3-4; half a
    // second's at 40/s allows for a loaded machine's slower renew-all).
    expect(position - before, `the answer's place after the text (${h.twilio.messages.length} sent by then)`).to.be.at.most(20);
    expect(h.twilio.messages.length, 'the backlog was still draining').to.be.below(500);
  });

  it('a night\'s notices take no send-sms job until the reconciler\'s last ticks before 08:45; a patron\'s answer keeps its job all night', async () => {
    await start('2026-11-30T21:30:00+01:00', 10);
    await post(HBK_TOKEN, notices('hbk', 30));
    await h.text(PATRON, 'HBK FORNY ALLE');
    await eventually(() => h.deps.db('outbound_messages').where({ to_address: PATRON, kind: 'reply' }).first(), 10_000, 'the reply written');
    const jobs = async () => (await h.deps.queues.sendSms.getDelayed()).map((job) => job.name).sort();
    await eventually(async () => (await jobs()).length === 1, 10_000, 'the reply\'s job');
    expect(await jobs()).to.deep.equal(['renew-all']);

    // A tick at night leaves the notices to a later one.
    h.clock.set('2026-11-30T23:00:00+01:00');
    expect((await reconcile(h.deps)).outbound).to.equal(0);
    // The tick a minute before the opening gives each its job, delayed to 08:45, in hbk's turns.
    h.clock.set('2026-12-01T08:44:00+01:00');
    expect((await reconcile(h.deps)).outbound).to.equal(30);
    const delayed = await h.deps.queues.sendSms.getDelayed();
    expect(delayed).to.have.length(31);
    const turns = delayed.filter((job) => job.name === 'overdue').map((job) => job.opts.priority).sort((a, b) => (a ?? 0) - (b ?? 0));
    expect(turns).to.deep.equal(Array.from({ length: 30 }, (_, index) => index + 1));
    expect(await h.deps.db('outbound_messages').where({ channel: 'sms', status: 'scheduled' }).count({ n: '*' }).first()).to.deep.equal({ n: 31 });
  });

  it('the overview and /metrics count the reminders and notices waiting their turn as waiting in send-sms', async () => {
    await start('2026-12-01T10:00:00+01:00', 10);
    await h.deps.queues.sendSms.pause();
    await post(HBK_TOKEN, notices('hbk', 30));
    await post(FRB_TOKEN, notices('frb', 20));
    const counts = await queueCounts(h.deps);
    expect(counts?.find((queue) => queue.queue === 'send-sms')?.counts.waiting).to.equal(50);
    await h.refreshMetrics();
    const metrics = await (await fetch(`${h.baseUrl}/metrics`)).text();
    expect(metrics).to.match(/forny_queue_jobs\{queue="send-sms",state="waiting"\} 50/);
  });

  it('notices left over at 20:00 leave at the next opening before that night\'s notices, whatever their turns were the day before', async () => {
    await start('2026-12-01T20:00:30+01:00', 10);
    // The day's first three hbk SMS took turns 1-3; the three left over had turns 4-6.
    await h.deps.queues.turns.take(Array.from({ length: 3 }, () => ({ channel: 'sms' as const, kind: 'notice' as const, libraryId: 'hbk', sendAfter: '2026-12-01T12:00:00.000Z' })));
    const leftOver = [];
    for (let n = 0; n < 3; n++) {
      const to = `+45320000${String(n).padStart(2, '0')}`;
      const { message } = await insertOutbound(
        h.deps.db,
        { channel: 'sms', kind: 'notice', purpose: 'overdue', patronId: null, inboundId: null, to, from: '1910', body: 'Helsingør Kommunes Biblioteker: tilbage fra i går', sendAfter: new Date('2026-12-01T19:59:00+01:00'), dedupeKey: `left-${n}`, libraryId: 'hbk' },
        h.clock.now(),
      );
      leftOver.push(message);
    }
    await enqueueOutbound(h.deps.queues, h.clock, leftOver);
    // 20:00:30: each job finds the window closed and waits for tomorrow's opening.
    await eventually(async () => (await h.deps.queues.sendSms.getDelayedCount()) === 3, 10_000, 'the three waiting for tomorrow');

    h.clock.set('2026-12-01T21:30:00+01:00');
    await post(HBK_TOKEN, notices('hbk', 3));
    await h.windowOpens('2026-12-02T08:45:00+01:00');
    const sent = await eventually(() => (h.twilio.messages.length >= 6 ? h.twilio.messages.map((message) => message.to) : undefined), 15_000, 'six SMS');
    expect(sent.slice(0, 3).sort(), sent.join(' ')).to.deep.equal(leftOver.map((message) => message.to).sort());
  });
});
