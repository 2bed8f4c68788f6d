import { expect } from 'chai';
import type { FixtureInput } from '../../db/fixture.js';
import { AT_ONCE_WITHIN_MS } from '../../src/sms/sms-rate.js';
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

  it('replies sent at once take slots in the same sequence as every send at Twilio, only while the next is near', async () => {
    // 50/s is a slot every 20 ms: asked together, the slots 0 to 100 ms ahead are taken, the next refused.
    const near = AT_ONCE_WITHIN_MS / (1000 / RATE) + 1;
    const asks = await Promise.all(Array.from({ length: near + 1 }, () => h.deps.smsRate.slotSoon()));
    expect(asks.map((slot) => slot !== undefined)).to.deep.equal([...Array<boolean>(near).fill(true), false]);
  });

  it('sends already waiting for their slots at Twilio make a reply queue instead of waiting behind them', async () => {
    // Ten sends booked ahead (a fifth of a second at 50/s) before the reply asks, in the same call to Redis.
    const booked = Array.from({ length: 10 }, () => h.deps.smsRate.waitForSlot());
    expect(await h.deps.smsRate.slotSoon()).to.equal(undefined);
    await Promise.all(booked);
  });
});
