import { expect } from 'chai';
import type { Job } from 'bullmq';
import { handleRenewAll } from '../../src/renewals/renew-all.js';
import { sendSms, type SendAttempt } from '../../src/outbox/send-sms.js';
import { smsSlotKey } from '../../src/sms/sms-rate.js';
import { EXPECTED_RENEWED, EXPECTED_TOTAL, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness, found } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';
import type { MessageView } from '../helpers/api-views.js';

/** The reply's outbox row and the BullMQ job that carries it. */
async function replyOf(h: Harness, messageSid: string) {
  const inbound = await eventually(async () => {
    const row = await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first();
    return row?.reply_id ? row : undefined;
  });
  const reply = found(await h.deps.db('outbound_messages').where({ id: inbound.reply_id ?? 0 }).first(), 'the reply');
  const job = (await h.deps.queues.sendSms.getJob(`out-${reply.id}`)) as Job | undefined;
  return { reply, job };
}

/** Moves the manual clock and wakes every delayed send-sms job, as the real clock would at that hour. */
async function morning(h: Harness, at: string) {
  h.clock.set(at);
  for (const job of await h.deps.queues.sendSms.getDelayed()) await job.promote();
}

describe('the SMS send window (08:45–20:00, Europe/Copenhagen)', function () {
  describe('a renew-all written outside the window', () => {
    const rows: { name: string; at: string; leaves: string }[] = [
      { name: 'at 21:30', at: '2026-12-01T21:30:00+01:00', leaves: '2026-12-02T08:45:00.000+01:00' },
      { name: 'at 03:00', at: '2026-12-02T03:00:00+01:00', leaves: '2026-12-02T08:45:00.000+01:00' },
      { name: 'at 20:00:30', at: '2026-12-01T20:00:30+01:00', leaves: '2026-12-02T08:45:00.000+01:00' },
      { name: 'at 08:44', at: '2026-12-02T08:44:00+01:00', leaves: '2026-12-02T08:45:00.000+01:00' },
      { name: 'the night before summer time', at: '2027-03-27T21:30:00+01:00', leaves: '2027-03-28T08:45:00.000+02:00' },
      { name: 'the night before winter time', at: '2026-10-24T21:30:00+02:00', leaves: '2026-10-25T08:45:00.000+01:00' },
    ];
    for (const row of rows) {
      it(`${row.name} renews at once and waits until ${row.leaves}`, async () => {
        const h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: row.at });
        try {
          const { messageSid } = await h.text(KAREN, 'HBK FORNY ALLE');
          const { reply, job } = await replyOf(h, messageSid);
          // The rules ran at once, for every loan: only the answer waits for the window.
          const decided = await h.deps.db('renewal_results').count({ n: '*' }).first();
          expect(Number(decided?.n)).to.equal(EXPECTED_TOTAL);

          const { body: messages } = await h.api<MessageView[]>(`/api/messages?direction=out&to=${encodeURIComponent(KAREN)}`);
          expect(messages[0]).to.include({ status: 'scheduled', sendAfter: row.leaves, sentAt: null });
          // The job sleeps in BullMQ until exactly then (the manual clock stands still, so the delay is exact).
          expect(await job?.getState()).to.equal('delayed');
          expect(job?.opts.delay).to.equal(Date.parse(row.leaves) - Date.parse(row.at));
          expect(h.twilio.messages).to.have.length(0);

          // Woken a second early (a clock skew, an operator's promote), it waits again and sends nothing.
          await morning(h, new Date(Date.parse(row.leaves) - 1000).toISOString());
          await eventually(async () => (await job?.getState()) === 'delayed' && (await h.deps.db('outbound_messages').where({ id: reply.id }).first())?.send_after);
          expect(h.twilio.messages).to.have.length(0);

          await morning(h, row.leaves);
          const sent = await eventually(() => h.twilio.messagesTo(KAREN)[0]);
          expect(sent.body).to.contain(`af ${EXPECTED_TOTAL} lån`);
        } finally {
          await h.stop();
        }
      });
    }
  });

  it('folds three renew-alls of one night into one reply in the morning', async () => {
    const h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: '2026-12-01T22:00:00+01:00' });
    try {
      const first = await h.text(KAREN, 'HBK FORNY ALLE');
      await replyOf(h, first.messageSid);
      h.clock.set('2026-12-01T23:15:00+01:00');
      const second = await h.text(KAREN, 'hbk forny alle');
      await replyOf(h, second.messageSid);
      h.clock.set('2026-12-02T02:40:00+01:00');
      const third = await h.text(KAREN, 'HKB FORNY ALLE');
      const { reply } = await replyOf(h, third.messageSid);

      const outbox = await h.deps.db('outbound_messages').where({ to_address: KAREN }).orderBy('id');
      expect(outbox.map((row) => row.status)).to.deep.equal(['superseded', 'superseded', 'scheduled']);
      expect(outbox[0]?.superseded_by).to.equal(outbox[1]?.id);
      expect(outbox[1]?.superseded_by).to.equal(outbox[2]?.id);
      // Every loan renewed in the night counts, each once; M is the active loans now. After midnight
      // l-too-soon (due 12-09) reached due − 7 and renewed too: the first request's loans plus that one.
      expect(reply.body).to.contain(`${EXPECTED_RENEWED + 1} af ${EXPECTED_TOTAL} lån`);
      const renewedLoans = await h.deps.db('renewal_results').where({ outcome: 'renewed' }).select('loan_id');
      expect(renewedLoans.map((row) => row.loan_id)).to.have.length(EXPECTED_RENEWED + 1).and.include('l-too-soon');
      // All three messages now point at the one reply the patron will get.
      for (const sid of [first.messageSid, second.messageSid, third.messageSid]) {
        expect((await h.api<{ replyId: string }>(`/api/inbound/${sid}`)).body.replyId).to.equal(`out-${reply.id}`);
      }

      await morning(h, '2026-12-02T08:45:00+01:00');
      await eventually(() => h.twilio.messagesTo(KAREN).length === 1);
      await queuesSettled(h.deps.queues.all);
      expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
      expect(h.twilio.messagesTo(KAREN)[0]?.body).to.equal(reply.body);
    } finally {
      await h.stop();
    }
  });

  it('with SMS_REPLIES_OUTSIDE_WINDOW=send answers at once at night, while reminders still wait', async () => {
    const h = await Harness.start({
      workers: true,
      fixture: everyRuleLibrary(),
      now: '2026-12-01T21:30:00+01:00',
      env: { SMS_REPLIES_OUTSIDE_WINDOW: 'send', REMINDER_DAYS_BEFORE: '2' },
    });
    try {
      await h.text(KAREN, 'HBK FORNY ALLE');
      const sent = await eventually(() => h.twilio.messagesTo(KAREN)[0]);
      expect(sent.body).to.contain(`af ${EXPECTED_TOTAL} lån`);
      const { runReminderScan } = await import('../../src/reminders/reminder-scan.js');
      await runReminderScan(h.deps);
      const reminders = await h.deps.db('outbound_messages').where({ kind: 'reminder', channel: 'sms' });
      expect(reminders.length).to.be.greaterThan(0);
      for (const reminder of reminders) expect(reminder).to.include({ status: 'scheduled', send_after: '2026-12-02T07:45:00.000Z' });
    } finally {
      await h.stop();
    }
  });

  it('drains a morning backlog throttled, and what has not left at 20:00 waits for the next opening, none lost or doubled', async () => {
    const h = await Harness.start({ workers: true, now: '2026-12-01T19:59:00+01:00', env: { SMS_RATE_PER_SECOND: '40' } });
    try {
      const { insertOutbound } = await import('../../db/repositories/outbound.js');
      const { enqueueOutbound } = await import('../../src/queue/enqueue.js');
      const numbers = Array.from({ length: 120 }, (_, index) => `+456300${String(index).padStart(4, '0')}`);
      const messages = [];
      for (const to of numbers) {
        const { message } = await insertOutbound(
          h.deps.db,
          { channel: 'sms', kind: 'notice', purpose: 'reminder', patronId: null, inboundId: null, to, from: '1910', body: 'Helsingør Kommunes Biblioteker: test', sendAfter: h.clock.now(), dedupeKey: `drain:${to}`, libraryId: 'default' },
          h.clock.now(),
        );
        messages.push(message);
      }
      await enqueueOutbound(h.deps.queues, h.clock, messages);
      await eventually(() => h.twilio.messages.length >= 20, 10_000, 'the first sends');
      h.clock.set('2026-12-01T20:00:00+01:00'); // the window closes while the backlog drains
      await eventually(
        async () => Number((await h.deps.db('outbound_messages').where({ status: 'queued' }).count({ n: '*' }).first())?.n) === 0,
        15_000,
        'every message either sent or waiting for tomorrow',
      );
      const leftBeforeClose = h.twilio.messages.length;
      const waiting = await h.deps.db('outbound_messages').where({ status: 'scheduled' });
      expect(leftBeforeClose + waiting.length).to.equal(numbers.length);
      expect(waiting.length).to.be.greaterThan(0);
      for (const row of waiting) expect(row.send_after).to.equal('2026-12-02T07:45:00.000Z');

      await morning(h, '2026-12-02T08:45:00+01:00');
      await eventually(() => h.twilio.messages.length === numbers.length, 15_000, 'the rest at the next opening');
      expect(new Set(h.twilio.messages.map((message) => message.to)).size).to.equal(numbers.length); // each once
    } finally {
      await h.stop();
    }
  });

  it('a send that wakes up at 20:00:01 waits for tomorrow’s opening instead of sending', async () => {
    const h = await Harness.start({ fixture: everyRuleLibrary(), now: '2026-12-01T19:59:59+01:00' });
    try {
      const { messageSid } = await h.text(KAREN, 'HBK FORNY ALLE');
      const inbound = found(await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first());
      // The cluster's next place in the SMS rate is a minute away, so the reply is not sent at once but waits for its send job.
      const slotKey = smsSlotKey(h.config.queuePrefix);
      const [seconds, micros] = await h.deps.redis.time();
      await h.deps.redis.set(slotKey, String(Number(seconds) * 1000 + Number(micros) / 1000 + 60_000), 'PX', 120_000);
      const outcome = await handleRenewAll(h.deps, inbound.id);
      await h.deps.redis.del(slotKey);
      expect(outcome.state).to.equal('renewed');
      const replyId = outcome.state === 'renewed' ? (outcome.reply?.id ?? 0) : 0;
      expect((await h.deps.db('outbound_messages').where({ id: replyId }).first())?.status).to.equal('queued'); // inside the window

      h.clock.set('2026-12-01T20:00:01+01:00');
      const waits: Date[] = [];
      const attempt: SendAttempt = { attemptsMade: 0, maxAttempts: 3, waitUntil: async (instant) => void waits.push(instant) };
      expect(await sendSms(h.deps, replyId, attempt)).to.equal('not-due');
      expect(waits.map((instant) => instant.toISOString())).to.deep.equal(['2026-12-02T07:45:00.000Z']);
      expect(await h.deps.db('outbound_messages').where({ id: replyId }).first())?.to.include({ status: 'scheduled', send_after: '2026-12-02T07:45:00.000Z' });
      expect(h.twilio.messages).to.have.length(0);
    } finally {
      await h.stop();
    }
  });
});
