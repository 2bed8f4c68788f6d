import { expect } from 'chai';
import { recordReceipt } from '../../db/repositories/delivery-status.js';
import { insertOutbound, markSent, claimForSending } from '../../db/repositories/outbound.js';
import { EVERY_RULE_TODAY, EXPECTED_RENEWED, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';
import type { Failure } from '../helpers/fake-twilio.js';

/** Twilio answering with errors, timing out and dropping connections: each patron still gets one answer. */
describe('Twilio failures', function () {
  let h: Harness;
  beforeEach(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00`, env: { SEND_ATTEMPTS: '4' } });
  });
  afterEach(async () => h.stop());

  const reply = async () => {
    const row = await eventually(async () => h.deps.db('outbound_messages').where({ to_address: KAREN, purpose: 'renew-all' }).first());
    return row as { id: number };
  };
  const settled = async () => {
    const { id } = await reply();
    return eventually(async () => {
      const row = await h.deps.db('outbound_messages').where({ id }).first();
      return row?.status === 'sent' || row?.status === 'failed' ? row : undefined;
    }, 15_000, 'the reply to be sent or failed');
  };

  const retried: { name: string; failure: Failure; times: number }[] = [
    { name: 'a 503 twice', failure: { kind: 'http', status: 503, code: 20500 }, times: 2 },
    { name: 'a 429 (too many requests)', failure: { kind: 'http', status: 429, code: 20429 }, times: 1 },
    { name: 'a 500 three times', failure: { kind: 'http', status: 500 }, times: 3 },
    { name: 'a dropped connection', failure: { kind: 'reset' }, times: 1 },
  ];
  for (const row of retried) {
    it(`retries after ${row.name} and sends the reply exactly once`, async () => {
      h.twilio.failNext(row.failure, row.times);
      await h.text(KAREN, 'HBK FORNY ALLE');
      const message = await settled();
      expect(message.status).to.equal('sent');
      expect(message.attempts).to.equal(row.times + 1);
      expect(h.twilio.requests).to.equal(row.times + 1);
      expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
      expect(h.twilio.messagesTo(KAREN)[0]?.body).to.contain(`${EXPECTED_RENEWED} af`);
      expect((await h.deps.db('loans').where({ id: 'l-ontime' }).first())?.renewals).to.equal(1);
    });
  }

  it('gives up after SEND_ATTEMPTS and shows the message failed with the last error', async () => {
    h.twilio.failNext({ kind: 'http', status: 503, code: 20500, message: 'Service unavailable' }, 10);
    await h.text(KAREN, 'HBK FORNY ALLE');
    const message = await settled();
    expect(message).to.include({ status: 'failed', attempts: 4, error_code: '20500' });
    expect(message.error_message).to.contain('Service unavailable');
    expect(h.twilio.requests).to.equal(4);
    const { body } = await h.api<{ status: string }[]>(`/api/messages?direction=out&status=failed`);
    expect(body).to.have.length(1);
  });

  const permanent: { code: number; status: number; optsOut: boolean }[] = [
    { code: 21610, status: 400, optsOut: true },
    { code: 21211, status: 400, optsOut: false },
    { code: 21614, status: 400, optsOut: false },
  ];
  for (const row of permanent) {
    it(`does not retry Twilio error ${row.code}: failed with the code${row.optsOut ? ', and the patron opted out' : ''}`, async () => {
      h.twilio.failNext({ kind: 'http', status: row.status, code: row.code });
      await h.text(KAREN, 'HBK FORNY ALLE');
      const message = await settled();
      expect(message).to.include({ status: 'failed', attempts: 1, error_code: String(row.code) });
      await queuesSettled(h.deps.queues.all);
      expect(h.twilio.requests).to.equal(1);
      const patron = await h.deps.db('patrons').where({ id: 'p-karen' }).first();
      expect(Boolean(patron?.sms_opt_in)).to.equal(!row.optsOut);
    });
  }

  it('does not send again when Twilio took a message whose answer never came', async () => {
    h.twilio.failNext({ kind: 'accept-then-reset' });
    await h.text(KAREN, 'HBK FORNY ALLE');
    const message = await settled();
    // The retry asked Twilio for the newest message to the number, found this one, and recorded it.
    expect(message).to.include({ status: 'sent', attempts: 2, outcome_uncertain: 0, provider_sid: h.twilio.messagesTo(KAREN)[0]?.sid });
    expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
  });

  it('keeps asking Twilio when the look-up itself fails, and still sends only once', async () => {
    h.twilio.failNext({ kind: 'accept-then-reset' });
    h.twilio.failNextList(503);
    await h.text(KAREN, 'HBK FORNY ALLE');
    const message = await settled();
    expect(message).to.include({ status: 'sent', attempts: 3, outcome_uncertain: 0 });
    expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
  });

  it('sends again, flagged, when the provider refuses the look-up for good (no listing)', async () => {
    h.twilio.failNext({ kind: 'accept-then-reset' });
    h.twilio.failNextList(404);
    await h.text(KAREN, 'HBK FORNY ALLE');
    const message = await settled();
    expect(message).to.include({ status: 'sent', attempts: 2, outcome_uncertain: 1 });
    expect(h.twilio.messagesTo(KAREN)).to.have.length(2); // the at-least-once edge, visible to operators
  });

  it('sends again after a dropped call Twilio has no record of, flagging it for operators', async () => {
    h.twilio.failNext({ kind: 'reset' });
    await h.text(KAREN, 'HBK FORNY ALLE');
    const message = await settled();
    expect(message).to.include({ status: 'sent', attempts: 2, outcome_uncertain: 1 });
    expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
  });

  it('sends a second identical help text even though Twilio lists the first as the newest', async () => {
    await h.text(KAREN, 'HJÆLP');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1);
    h.twilio.failNext({ kind: 'reset' });
    await h.text(KAREN, 'HJÆLP');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 2, 10_000, 'the second help text');
    // Twilio has it before forny has written down that it was sent: wait for the row, not the wire.
    const rows = await eventually(async () => {
      const stored = await h.deps.db('outbound_messages').where({ to_address: KAREN }).orderBy('id');
      return stored.every((row) => row.status === 'sent') && stored;
    }, 10_000, 'both rows sent');
    expect(rows.map((row) => row.status)).to.deep.equal(['sent', 'sent']);
    expect(rows[0]?.provider_sid).not.to.equal(rows[1]?.provider_sid);
  });

  it('applies a delivery receipt that arrives before the send recorded its sid', async () => {
    const now = h.clock.now();
    const { message } = await insertOutbound(
      h.deps.db,
      { channel: 'sms', kind: 'notice', purpose: 'ill-refused', patronId: 'p-karen', inboundId: null, to: KAREN, from: '1910', body: 'x', sendAfter: now, dedupeKey: 'early-receipt', libraryId: 'default' },
      now,
    );
    await claimForSending(h.deps.db, message.id, now);
    expect(await recordReceipt(h.deps.db, { providerSid: 'SMearly', twilioStatus: 'delivered', errorCode: null }, now)).to.equal('pending');
    await h.deps.db.transaction(async (trx) => {
      await markSent(trx, message.id, 'SMearly', now);
      const { applyPendingReceipts } = await import('../../db/repositories/delivery-status.js');
      await applyPendingReceipts(trx, 'SMearly', now);
    });
    expect((await h.deps.db('outbound_messages').where({ id: message.id }).first())?.status).to.equal('delivered');
  });

  it('records an undelivered receipt with its error code, and a later delivered one wins', async () => {
    await h.text(KAREN, 'HBK FORNY ALLE');
    const sent = await eventually(() => h.twilio.messagesTo(KAREN)[0]);
    await settled();
    expect(await h.deliver(sent.sid, 'undelivered', '30003')).to.equal(200);
    expect(await h.deps.db('outbound_messages').where({ provider_sid: sent.sid }).first())?.to.include({ status: 'undelivered', error_code: '30003' });
    expect(await h.deliver(sent.sid, 'delivered')).to.equal(200);
    expect((await h.deps.db('outbound_messages').where({ provider_sid: sent.sid }).first())?.status).to.equal('delivered');
  });
});
