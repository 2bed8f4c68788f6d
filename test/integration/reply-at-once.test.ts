import { expect } from 'chai';
import type { FixtureInput } from '../../db/fixture.js';
import { takeSmsSlot } from '../../src/queue/sms-rate.js';
import { eventually, Harness } from '../helpers/harness.js';

const PATRONS = 150;
const RATE = 50;
/** BullMQ's limiter cuts a second into windows (5 per 100 ms at 50/s). */
const PER_WINDOW = 5;
const number = (index: number) => `+4571${String(index).padStart(6, '0')}`;

/** `count` patrons with one loan each, due in two days (renewed by HBK FORNY ALLE). */
function onePerPatron(count: number): FixtureInput {
  const all = Array.from({ length: count }, (_, index) => index);
  return {
    patrons: all.map((index) => ({ id: `p${index}`, cardNumber: `C${index}`, name: `Låner ${index}`, mobile: number(index), smsOptIn: true, email: null, emailOptIn: false })),
    titles: all.map((index) => ({ id: `t${index}`, title: `Bog ${index}`, renewable: true })),
    items: all.map((index) => ({ id: `i${index}`, titleId: `t${index}`, barcode: `B${index}`, renewable: true })),
    loans: all.map((index) => ({ id: `l${index}`, patronId: `p${index}`, itemId: `i${index}`, kind: 'standard', loanPeriodDays: 28, borrowedOn: '2026-11-05', dueDate: '2026-12-03', renewals: 0, owningLibrary: null })),
  };
}

/** Replies due now leave with the renew-all job itself when the rate has room, and through send-sms when not. */
describe('replies sent at once', function () {
  this.timeout(30_000);
  let h: Harness;
  beforeEach(async () => {
    h = await Harness.start({ workers: true, fixture: onePerPatron(PATRONS), env: { SMS_RATE_PER_SECOND: String(RATE) } });
  });
  afterEach(async () => h.stop());

  it('a burst gets every reply once, never faster than SMS_RATE_PER_SECOND, the overflow through send-sms', async () => {
    await Promise.all(Array.from({ length: PATRONS }, (_, index) => h.text(number(index), 'HBK FORNY ALLE')));
    await eventually(() => h.twilio.messages.length >= PATRONS, 20_000, 'every reply at Twilio');
    const recipients = h.twilio.messages.map((message) => message.to);
    expect(new Set(recipients).size).to.equal(PATRONS);
    expect(h.twilio.messages.every((message) => message.body.includes('1 af 1 lån'))).to.equal(true);
    // Over the burst, never faster than the rate: N replies take at least (N - one second's worth - a window) / rate.
    // (How even each second is, is measured across processes by the fault suite: here the load, the
    // workers and the loopback Twilio share one event loop, whose lag bunches Twilio's own timestamps.)
    const accepted = h.twilio.messages.map((message) => message.createdAt.getTime());
    expect(Math.max(...accepted) - Math.min(...accepted)).to.be.at.least(((PATRONS - RATE - PER_WINDOW) / RATE) * 1000);
    // Both ways were taken: the first replies at once, the rest waiting for the rate in send-sms.
    const viaQueue = (await h.deps.queues.sendSms.getJobCounts('completed')).completed ?? 0;
    expect(viaQueue).to.be.greaterThan(0).and.lessThan(PATRONS);
    // Each row is marked sent just after Twilio took its message: the last may be a moment behind.
    const settled = async () => {
      const rows = await h.deps.db('outbound_messages').where({ kind: 'reply' }).select('status', 'attempts', 'outcome_uncertain');
      return rows.map((row) => `${row.status}/${row.attempts}${row.outcome_uncertain ? '/uncertain' : ''}`);
    };
    await eventually(async () => (await settled()).every((row) => row !== 'queued/1'), 5_000, 'every sent reply marked');
    // One attempt each, none taken for an attempt that had died mid-call (no look-up at Twilio).
    expect(await settled()).to.deep.equal(Array<string>(PATRONS).fill('sent/1'));
    expect(h.twilio.listings).to.equal(0);
  });

  it('a send taken without a job counts in the same window as send-sms jobs', async () => {
    // 50/s is five SMS per 100 ms window: the sixth ask in a window is refused until it ends.
    const asks = await Promise.all(Array.from({ length: PER_WINDOW + 1 }, () => takeSmsSlot(h.deps.redis, h.deps.queues, h.config)));
    expect(asks).to.deep.equal([...Array<boolean>(PER_WINDOW).fill(true), false]);
    // The five are counted in BullMQ's own counter, as its workers count, with the window's expiry.
    // Read at once (one MULTI): either the window is still on, or, on a busy machine, it has ended
    // already; never a count without an expiry (a window that would never end) or one longer than
    // the window.
    const limiter = `${h.deps.queues.sendSms.qualifiedName}:limiter`;
    const [[, count] = [], [, ttl] = []] = (await h.deps.redis.multi().get(limiter).pttl(limiter).exec()) ?? [];
    if (count === null) expect(ttl, 'an ended window').to.equal(-2);
    else expect({ count: Number(count), expires: Number(ttl) > 0 && Number(ttl) <= 100 }).to.deep.equal({ count: PER_WINDOW, expires: true });
    await eventually(() => takeSmsSlot(h.deps.redis, h.deps.queues, h.config), 2_000, 'the next window');
  });

  it("a window BullMQ's workers have closed refuses sends taken without a job until BullMQ opens it", async () => {
    // Queue#rateLimit is how a worker closes the window (a 429 from Twilio, say); a minute, so that
    // no load on the machine ends it before the asks below.
    await h.deps.queues.sendSms.rateLimit(60_000);
    expect(await takeSmsSlot(h.deps.redis, h.deps.queues, h.config)).to.equal(false);
    expect(await takeSmsSlot(h.deps.redis, h.deps.queues, h.config)).to.equal(false);
    await h.deps.queues.sendSms.removeRateLimitKey();
    expect(await takeSmsSlot(h.deps.redis, h.deps.queues, h.config)).to.equal(true);
  });
});
