import { expect } from 'chai';
import { REPLY_BUDGET_PER_DAY } from '../../src/outbox/replies.js';
import { RENEW_ALLS_PER_WINDOW } from '../../src/renewals/renew-all.js';
import { NO_LOAN_DUE_DAYS_AHEAD, EVERY_RULE_TODAY, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';

/** Per-number limits: a patron never meets them; a script, a prankster or an auto-responder does. */
describe('abuse limits', function () {
  let h: Harness;
  beforeEach(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00`, env: { REMINDER_DAYS_BEFORE: NO_LOAN_DUE_DAYS_AHEAD } });
  });
  afterEach(async () => h.stop());

  const handled = (messageSid: string) =>
    eventually(async () => {
      const row = await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first();
      return row && row.status !== 'received' ? (row) : undefined;
    });

  it(`answers ${RENEW_ALLS_PER_WINDOW} renew-alls from one number in ten minutes and ignores the rest until the ten minutes have passed`, async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < RENEW_ALLS_PER_WINDOW + 2; i += 1) {
      const { messageSid } = await h.text(KAREN, 'HBK FORNY ALLE');
      const row = await handled(messageSid);
      outcomes.push(row.ignored_reason ?? row.status);
      h.clock.advance(60_000);
    }
    expect(outcomes).to.deep.equal([...Array<string>(RENEW_ALLS_PER_WINDOW).fill('processed'), 'rate_limited', 'rate_limited']);
    await eventually(() => h.twilio.messagesTo(KAREN).length === RENEW_ALLS_PER_WINDOW);

    h.clock.advance(10 * 60_000);
    const { messageSid } = await h.text(KAREN, 'HBK FORNY ALLE');
    expect((await handled(messageSid)).status).to.equal('processed');
  });

  it(`stops answering a number after ${REPLY_BUDGET_PER_DAY} replies in 24 hours`, async () => {
    const statuses: string[] = [];
    for (let i = 0; i < REPLY_BUDGET_PER_DAY + 1; i += 1) {
      const { messageSid } = await h.text(KAREN, 'HJÆLP');
      const row = await handled(messageSid);
      statuses.push(row.ignored_reason ?? row.status);
    }
    expect(statuses.filter((status) => status === 'processed')).to.have.length(REPLY_BUDGET_PER_DAY);
    expect(statuses.at(-1)).to.equal('reply_budget');
    await eventually(() => h.twilio.messagesTo(KAREN).length === REPLY_BUDGET_PER_DAY, 15_000);
  });

  it('does not keep a conversation going with an auto-responder', async () => {
    // The auto-responder answers every SMS it gets; forny must fall silent after one help text.
    let answered = 0;
    await h.text(KAREN, 'Tak for påmindelsen');
    for (let round = 0; round < 5; round += 1) {
      await queuesSettled(h.deps.queues.all);
      const received = h.twilio.messagesTo(KAREN).length;
      if (received > answered) {
        answered = received;
        await h.text(KAREN, 'Autosvar: Jeg er på ferie til og med søndag.');
      }
    }
    expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
  });
});
