import { expect } from 'chai';
import { Redis } from 'ioredis';
import { claimForSending, getOutbound, insertOutbound, type OutboundMessage } from '../../db/repositories/outbound.js';
import { sendSms, type SendAttempt } from '../../src/outbox/send-sms.js';
import { SEND_UNDER_WAY_MS } from '../../src/outbox/send-claim.js';
import { eventually, Harness } from '../helpers/harness.js';

const MOBILE = '+4530405060';

/** A send-sms attempt outside BullMQ: records the instant it was told to wait for. */
function attempt(): SendAttempt & { waitedFor: Date[] } {
  const waitedFor: Date[] = [];
  return { attemptsMade: 0, maxAttempts: 3, waitedFor, waitUntil: async (instant) => void waitedFor.push(instant) };
}

async function storeNotice(h: Harness, kind: 'notice' | 'reply' = 'notice'): Promise<OutboundMessage> {
  const { message } = await insertOutbound(
    h.deps.db,
    {
      channel: 'sms',
      kind,
      purpose: kind === 'notice' ? 'overdue' : 'renew-all',
      patronId: null,
      inboundId: null,
      to: MOBILE,
      from: '1910',
      body: 'Helsingør Kommunes Biblioteker: 1 lån har overskredet afleveringsfristen.',
      sendAfter: h.clock.now(),
      dedupeKey: null,
      libraryId: 'default',
    },
    h.clock.now(),
  );
  return message;
}

/**
 * The moment just before an SMS leaves (SPEC §4, issue 19): what a wait for the rate may have
 * changed is looked at again, the send window and who holds the message.
 */
describe('the last look before an SMS leaves', function () {
  this.timeout(20_000);
  let h: Harness;
  afterEach(async () => h?.stop());

  it('a notice that waited for the rate until 20:00 does not leave: it waits for the next opening', async () => {
    h = await Harness.start({ now: '2026-12-01T19:59:59.900+01:00', env: { SMS_RATE_PER_SECOND: '1' } });
    const message = await storeNotice(h);
    // The cluster's next slot at Twilio is two seconds away (the sends of other processes).
    const redis = new Redis(h.config.redisUrl);
    try {
      const [seconds, micros] = await redis.time();
      const now = Number(seconds) * 1000 + Number(micros) / 1000;
      await redis.set(`${h.config.queuePrefix}:forny:sms-next-slot`, String(now + 2000), 'PX', 60_000);
    } finally {
      redis.disconnect();
    }

    const sending = attempt();
    const result = sendSms(h.deps, message.id, sending);
    // Claimed inside the window; while it waits for its slot the clock passes 20:00.
    await eventually(async () => (await getOutbound(h.deps.db, message.id))?.sendStartedAt !== null, 1500, 'the claim');
    h.clock.set('2026-12-01T20:00:00.014+01:00');

    expect(await result).to.equal('not-due');
    expect(h.twilio.messages).to.have.length(0);
    const row = await getOutbound(h.deps.db, message.id);
    expect(row).to.include({ status: 'scheduled', sendAfter: '2026-12-02T07:45:00.000Z', sendStartedAt: null }); // 08:45 in Copenhagen
    expect(sending.waitedFor.map((instant) => instant.toISOString())).to.deep.equal(['2026-12-02T07:45:00.000Z']);
  });

  it('a message another attempt holds is left to it until its claim lapses, then taken over after asking Twilio', async () => {
    h = await Harness.start();
    const message = await storeNotice(h, 'reply');
    // A renew-all job wrote the reply claimed and went quiet (paused, not dead).
    const paused = await claimForSending(h.deps.db, message.id, h.clock.now());
    expect(paused?.attempts).to.equal(1);

    // The rerun's send job finds the claim fresh: it waits, sending nothing.
    const early = attempt();
    expect(await sendSms(h.deps, message.id, early)).to.equal('not-due');
    expect(early.waitedFor.map((instant) => instant.getTime())).to.deep.equal([h.clock.now().getTime() + SEND_UNDER_WAY_MS]);
    expect(h.twilio.messages).to.have.length(0);

    // Past the lapse it takes the message over, asks Twilio (nothing there) and sends it once.
    h.clock.advance(SEND_UNDER_WAY_MS);
    expect(await sendSms(h.deps, message.id, attempt())).to.equal('sent');
    expect(h.twilio.messagesTo(MOBILE)).to.have.length(1);

    // The paused process wakes and sends its own copy the way a claimed writer does: its last look
    // finds its fence moved and calls the send off.
    h.clock.advance(1000);
    expect(await sendSms(h.deps, message.id, attempt(), paused ?? undefined, { claimedAtWrite: true })).to.equal('nothing-to-do');
    expect(h.twilio.messagesTo(MOBILE)).to.have.length(1);
    expect(await getOutbound(h.deps.db, message.id)).to.include({ status: 'sent', attempts: 2 });
  });

  it('a sender paused between reading a message and claiming it does not claim over the one that claimed it meanwhile', async () => {
    h = await Harness.start();
    const message = await storeNotice(h, 'reply');
    // Read by a sender that is then paused; another attempt claims the message meanwhile.
    const read = await getOutbound(h.deps.db, message.id);
    expect(await claimForSending(h.deps.db, message.id, h.clock.now())).to.include({ attempts: 1 });
    // The paused one wakes and claims from what it read: refused, the other's claim stands.
    expect(await claimForSending(h.deps.db, message.id, h.clock.now(), read)).to.equal(undefined);
    expect(await getOutbound(h.deps.db, message.id)).to.include({ attempts: 1 });
  });

  it('a sender that still holds its claim after a long wait stamps it again and sends', async () => {
    h = await Harness.start();
    const message = await storeNotice(h, 'reply');
    const claimed = await claimForSending(h.deps.db, message.id, h.clock.now());
    // Waited 25 s (for the rate, or paused) without anyone taking over: still its to send.
    h.clock.advance(25_000);
    expect(await sendSms(h.deps, message.id, attempt(), claimed ?? undefined, { claimedAtWrite: true })).to.equal('sent');
    expect(h.twilio.messagesTo(MOBILE)).to.have.length(1);
    expect(await getOutbound(h.deps.db, message.id)).to.include({ status: 'sent', attempts: 1 });
  });
});
