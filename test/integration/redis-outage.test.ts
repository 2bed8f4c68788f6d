import { expect } from 'chai';
import { NO_LOAN_DUE_DAYS_AHEAD, EVERY_RULE_TODAY, EXPECTED_RENEWED, EXPECTED_TOTAL, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';
import { RestartableRedis } from '../helpers/restartable-redis.js';

/**
 * Redis on this project's machines keeps nothing on disk. These tests run forny against a private
 * redis-server they stop and start (losing its data), and check that nothing a patron sent is lost.
 */
describe('Redis outages and data loss', function () {
  this.timeout(60_000);
  let redis: RestartableRedis;
  let h: Harness;

  beforeEach(async () => {
    redis = await RestartableRedis.start();
    h = await Harness.start({
      workers: true,
      reconcile: true,
      fixture: everyRuleLibrary(),
      now: `${EVERY_RULE_TODAY}T10:00:00+01:00`,
      // No loan of the fixture is due on 7 December: the reminder scan the reconciler catches up on writes nothing here.
      env: { REDIS_URL: redis.url, REMINDER_DAYS_BEFORE: NO_LOAN_DUE_DAYS_AHEAD },
    });
  });
  afterEach(async () => {
    await h.stop();
    await redis.dispose();
  });

  it('stores a message that arrives while Redis is down, answers 200 at once, and answers the patron once Redis is back', async () => {
    await redis.stop();
    const started = Date.now();
    const { messageSid, response } = await h.text(KAREN, 'HBK FORNY ALLE');
    expect(response.status).to.equal(200);
    expect(Date.now() - started).to.be.lessThan(5000); // fails fast instead of hanging on Redis (a bound, not a timing target)
    expect((await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first())?.status).to.equal('received');

    const ready = await fetch(`${h.baseUrl}/readyz`);
    expect(ready.status).to.equal(503);
    const readiness = (await ready.json()) as { checks: { database: string; redis: string } };
    expect(readiness.checks.database).to.equal('ok');
    expect(readiness.checks.redis).to.match(/^down: /);
    expect((await fetch(`${h.baseUrl}/healthz`)).status).to.equal(200);

    await redis.restart(); // back, empty
    await eventually(async () => (await fetch(`${h.baseUrl}/readyz`)).status === 200, 15_000, 'readiness');
    await h.workers?.reconcileNow();
    const reply = await eventually(() => h.twilio.messagesTo(KAREN)[0], 15_000, 'the reply after Redis came back');
    expect(reply.body).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
    await h.workers?.reconcileNow();
    await queuesSettled(h.deps.queues.all);
    expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
  });

  it('re-enqueues a reply waiting for the window when Redis loses its data, and sends it once at the opening', async () => {
    h.clock.set(`${EVERY_RULE_TODAY}T22:00:00+01:00`);
    const { messageSid } = await h.text(KAREN, 'HBK FORNY ALLE');
    await eventually(async () => (await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first())?.reply_id);
    await eventually(async () => (await h.deps.queues.sendSms.getDelayedCount()) === 1, 5000, 'the reply to wait in BullMQ');

    await redis.stop(); // Redis restarts with nothing: every job is gone
    await redis.restart();
    // The reconciler runs when Redis is back (and every minute): it puts the reply back, delayed to 08:45.
    const job = await eventually(async () => (await h.deps.queues.sendSms.getDelayed())[0], 15_000, 'the reply back in BullMQ');
    expect(job?.opts.delay).to.equal(Date.parse('2026-12-02T08:45:00+01:00') - Date.parse(`${EVERY_RULE_TODAY}T22:00:00+01:00`));
    h.clock.set('2026-12-02T08:45:00+01:00');
    await job?.promote();
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1, 15_000, 'the reply at the opening');
    await h.workers?.reconcileNow();
    await queuesSettled(h.deps.queues.all);
    expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
    expect((await h.deps.db('loans').where({ id: 'l-ontime' }).first())?.renewals).to.equal(1);
  });
});
