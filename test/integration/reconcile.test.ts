import { Worker } from 'bullmq';
import { expect } from 'chai';
import { insertInbound } from '../../db/repositories/inbound.js';
import { claimForSending, insertOutbound } from '../../db/repositories/outbound.js';
import { RECONCILE_LOCK_MS, reconcile, startReconciler } from '../../jobs/reconcile.js';
import { SEND_UNDER_WAY_MS } from '../../src/outbox/send-claim.js';
import { DEFAULT_KEYWORDS, parseCommand } from '../../src/domain/sms-command.js';
import { NO_LOAN_DUE_DAYS_AHEAD, EVERY_RULE_TODAY, EXPECTED_RENEWED, EXPECTED_TOTAL, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { deleteQueueKeys, eventually, Harness, newMessageSid } from '../helpers/harness.js';
import { watchReconciliations } from '../helpers/reconciliations.js';

/** The database says what is unfinished; reconciliation makes the queues agree, without duplicates. */
describe('reconciliation', function () {
  let h: Harness;
  beforeEach(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00`, env: { REMINDER_DAYS_BEFORE: NO_LOAN_DUE_DAYS_AHEAD } });
  });
  afterEach(async () => h.stop());

  it('answers a message stored by a process that died before enqueueing it', async () => {
    // What the webhook leaves behind when killed between answering Twilio and enqueueing.
    await insertInbound(
      h.deps.db,
      { messageSid: newMessageSid(), accountSid: null, fromNumber: KAREN, toNumber: '1910', body: 'HBK FORNY ALLE', command: parseCommand('HBK FORNY ALLE', DEFAULT_KEYWORDS), status: 'received', libraryId: 'default' },
      h.clock.now(),
    );
    const report = await reconcile(h.deps);
    expect(report.inbound).to.equal(1);
    const sent = await eventually(() => h.twilio.messagesTo(KAREN)[0]);
    expect(sent.body).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
  });

  it('runs again a message whose job completed without finishing it, and leaves finished ones alone', async () => {
    await h.text(KAREN, 'HJÆLP');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1);
    const reply = await eventually(async () => {
      const row = await h.deps.db('outbound_messages').where({ to_address: KAREN }).first();
      return row?.status === 'sent' && row;
    });
    // Sent and its job completed: nothing to do.
    expect((await reconcile(h.deps)).outbound).to.equal(0);
    // The row says it still has to leave (restored from a backup, say) while its job is completed.
    await h.deps.db('outbound_messages').where({ id: reply.id }).update({ status: 'queued', provider_sid: null });
    expect((await reconcile(h.deps)).outbound).to.equal(1);
    await eventually(() => h.twilio.messagesTo(KAREN).length === 2, 10_000, 'the message sent again');
  });

  it('leaves alone a reply whose send started moments ago, and sends it once that call must have ended', async () => {
    // What a renew-all job sending its reply at once looks like from outside: claimed, no send job.
    const { message: reply } = await insertOutbound(
      h.deps.db,
      { channel: 'sms', kind: 'reply', purpose: 'help', patronId: null, inboundId: null, to: KAREN, from: '1910', body: 'Svar', sendAfter: h.clock.now(), dedupeKey: null, libraryId: 'default' },
      h.clock.now(),
    );
    await claimForSending(h.deps.db, reply.id, h.clock.now());
    expect((await reconcile(h.deps)).outbound).to.equal(0);
    expect(h.twilio.messages).to.have.length(0);
    // Past any call's time-out: that process died mid-call. Twilio has no record of it, so it goes again, flagged.
    h.clock.advance(SEND_UNDER_WAY_MS);
    expect((await reconcile(h.deps)).outbound).to.equal(1);
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1, 10_000, 'the reply sent');
    const row = await eventually(async () => {
      const current = await h.deps.db('outbound_messages').where({ id: reply.id }).first();
      return current?.status === 'sent' && current;
    });
    expect(row.outcome_uncertain).to.be.oneOf([1, true]);
  });

  it('a process restarted right after a crash still reconciles at start, once the dead owner\'s lock lapses', async function () {
    this.timeout(20_000);
    await insertInbound(
      h.deps.db,
      { messageSid: newMessageSid(), accountSid: null, fromNumber: KAREN, toNumber: '1910', body: 'HBK FORNY ALLE', command: 'renew-all', status: 'received', libraryId: 'default' },
      h.clock.now(),
    );
    // The lock a process killed mid-reconciliation leaves behind: nobody renews or releases it.
    await h.deps.redis.set(`${h.config.queuePrefix}:forny:reconcile-lock`, 'dead-process', 'PX', RECONCILE_LOCK_MS);
    const restarted = startReconciler(h.deps);
    try {
      const sent = await eventually(() => h.twilio.messagesTo(KAREN)[0], RECONCILE_LOCK_MS + 5_000, 'the start-up reconciliation');
      expect(sent.body).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
    } finally {
      await restarted.stop();
    }
  });

  it('three processes ticking at different moments reconcile once per tick between them, not once per process', async function () {
    this.timeout(20_000);
    const interval = 600;
    const deps = { ...h.deps, config: { ...h.config, jobs: { ...h.config.jobs, reconcileIntervalMs: interval } } };
    const watch = watchReconciliations(h.deps.redis, h.config.queuePrefix);
    // Processes started a third of an interval apart: their timers tick at three different phases.
    const reconcilers: ReturnType<typeof startReconciler>[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        reconcilers.push(startReconciler(deps));
        await new Promise((wake) => setTimeout(wake, interval / 3));
      }
      const from = Date.now() + interval; // past every start-up run
      const intervals = 6;
      await eventually(() => Date.now() > from + intervals * interval, (intervals + 2) * interval, 'six intervals');
      const ticks = watch.finishes.filter((finish) => finish > from && finish <= from + intervals * interval);
      expect(ticks.length, `reconciliations in ${intervals} intervals`).to.be.within(intervals - 1, intervals + 1);
    } finally {
      await watch.stop();
      await Promise.all(reconcilers.map((reconciler) => reconciler.stop()));
    }
  });

  it('sends a reply written by a job that died before enqueueing the send', async () => {
    const now = h.clock.now();
    await insertOutbound(
      h.deps.db,
      { channel: 'sms', kind: 'reply', purpose: 'help', patronId: 'p-karen', inboundId: null, to: KAREN, from: '1910', body: 'Helsingør Kommunes Biblioteker: hjælp', sendAfter: now, dedupeKey: 'orphan', libraryId: 'default' },
      now,
    );
    expect((await reconcile(h.deps)).outbound).to.equal(1);
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1);
  });

  it('adds nothing when the queues already hold the work, however often it runs', async () => {
    h.clock.set(`${EVERY_RULE_TODAY}T22:00:00+01:00`);
    await h.text(KAREN, 'HBK FORNY ALLE');
    await eventually(async () => (await h.deps.queues.sendSms.getDelayedCount()) === 1);
    for (let run = 0; run < 3; run += 1) expect(await reconcile(h.deps)).to.deep.equal({ inbound: 0, outbound: 0, failed: 0 });
    expect(await h.deps.queues.sendSms.getDelayedCount()).to.equal(1);
  });

  it('puts back every lost job when the queue keys are flushed, each once', async () => {
    h.clock.set(`${EVERY_RULE_TODAY}T22:00:00+01:00`);
    const numbers = [KAREN, '+4561000002'];
    for (const number of numbers) await h.text(number, 'HBK FORNY ALLE');
    await eventually(async () => (await h.deps.queues.sendSms.getDelayedCount()) === 2);
    await h.workers?.close(2000);
    h.workers = undefined;
    await deleteQueueKeys(h.config.redisUrl, h.config.queuePrefix);
    expect(await h.deps.queues.sendSms.getDelayedCount()).to.equal(0);

    expect((await reconcile(h.deps)).outbound).to.equal(2);
    expect((await reconcile(h.deps)).outbound).to.equal(0);
    const delays = (await h.deps.queues.sendSms.getDelayed()).map((job) => job.opts.delay);
    expect(delays).to.deep.equal([10.75 * 3600 * 1000, 10.75 * 3600 * 1000]); // 22:00 → 08:45
  });

  it('marks failed a message whose job gave up without saying so in the database', async () => {
    const now = h.clock.now();
    const { message } = await insertOutbound(
      h.deps.db,
      { channel: 'sms', kind: 'reply', purpose: 'help', patronId: 'p-karen', inboundId: null, to: KAREN, from: '1910', body: 'x', sendAfter: new Date(now.getTime() + 3_600_000), dedupeKey: 'lost-failure', libraryId: 'default' },
      now,
    );
    await h.workers?.close(2000);
    h.workers = undefined;
    // A worker that fails the job for good and dies before it can write that down.
    await h.deps.queues.sendSms.add('help', { outboundId: message.id }, { jobId: `out-${message.id}`, attempts: 1 });
    const dying = new Worker(
      'send-sms',
      async () => {
        throw new Error('worker died');
      },
      { connection: { url: h.config.redisUrl }, prefix: h.config.queuePrefix },
    );
    await eventually(async () => (await h.deps.queues.sendSms.getJobState(`out-${message.id}`)) === 'failed');
    await dying.close();
    expect((await reconcile(h.deps)).failed).to.equal(1);
    expect((await h.deps.db('outbound_messages').where({ id: message.id }).first())?.status).to.equal('failed');
  });
});
