import { expect } from 'chai';
import twilio from 'twilio';
import { KAREN, everyRuleLibrary, EVERY_RULE_TODAY } from '../fixtures/every-rule.js';
import { eventually, Harness, newMessageSid, PUBLIC_BASE_URL } from '../helpers/harness.js';

/**
 * Every kind of bad or odd request at the inbound webhook: the right status, nothing stored for a
 * refused request, and the server keeps serving (each case is followed by a good request).
 */
describe('POST /sms/inbound with bad and odd input', function () {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
  });
  after(async () => h.stop());

  const storedCount = async () => Number((await h.deps.db('inbound_messages').count({ n: '*' }).first())?.n);
  const form = (overrides: Record<string, string | undefined> = {}) => {
    const params: Record<string, string> = {};
    for (const [key, value] of Object.entries({ MessageSid: newMessageSid(), From: KAREN, To: '1910', Body: 'HBK FORNY ALLE', ...overrides })) {
      if (value !== undefined) params[key] = value;
    }
    return params;
  };
  const sign = (params: Record<string, string>, url = `${PUBLIC_BASE_URL}/sms/inbound`, token = h.twilio.authToken) =>
    twilio.getExpectedTwilioSignature(token, url, params);

  interface Refusal {
    readonly name: string;
    readonly status: number;
    readonly error: string;
    send(): Promise<Response>;
  }

  const refusals: Refusal[] = [
    { name: 'no signature', status: 400, error: 'missing_signature', send: () => h.signedPost('/sms/inbound', form(), { signature: null }) },
    { name: 'a forged signature', status: 403, error: 'bad_signature', send: () => h.signedPost('/sms/inbound', form(), { signature: 'bm90IGEgc2lnbmF0dXJl' }) },
    { name: 'a signature made with another token', status: 403, error: 'bad_signature', send: () => h.signedPost('/sms/inbound', form(), { authToken: 'someone-else' }) },
    {
      name: 'a signature for another URL',
      status: 403,
      error: 'bad_signature',
      send: () => h.signedPost('/sms/inbound', form(), { signedUrl: 'https://elsewhere.test/sms/inbound' }),
    },
    {
      name: 'a signature over other parameters',
      status: 403,
      error: 'bad_signature',
      send: async () => {
        const params = form();
        const signature = sign({ ...params, Body: 'STOP' });
        return h.signedPost('/sms/inbound', params, { signature });
      },
    },
    { name: 'no MessageSid', status: 400, error: 'missing_field', send: () => h.signedPost('/sms/inbound', form({ MessageSid: undefined })) },
    { name: 'no From', status: 400, error: 'missing_field', send: () => h.signedPost('/sms/inbound', form({ From: undefined })) },
    { name: 'no Body', status: 400, error: 'missing_field', send: () => h.signedPost('/sms/inbound', form({ Body: undefined })) },
    { name: 'a MessageSid that is no sid', status: 400, error: 'invalid_field', send: () => h.signedPost('/sms/inbound', form({ MessageSid: "SM'; drop table" })) },
    {
      name: 'a repeated Body field',
      status: 400,
      error: 'invalid_field',
      send: async () => {
        const messageSid = newMessageSid();
        const body = `MessageSid=${messageSid}&From=%2B4561000001&Body=a&Body=b`;
        // Signed correctly over both values, as Twilio signs repeated parameters.
        const signature = twilio.getExpectedTwilioSignature(h.twilio.authToken, `${PUBLIC_BASE_URL}/sms/inbound`, {
          MessageSid: messageSid,
          From: KAREN,
          Body: ['a', 'b'],
        });
        return fetch(`${h.baseUrl}/sms/inbound`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
          body,
        });
      },
    },
    {
      name: 'JSON instead of a form',
      status: 415,
      error: 'unsupported_media_type',
      send: () =>
        fetch(`${h.baseUrl}/sms/inbound`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-twilio-signature': sign(form()) },
          body: JSON.stringify(form()),
        }),
    },
    {
      name: 'no content type at all',
      status: 415,
      error: 'unsupported_media_type',
      send: () => fetch(`${h.baseUrl}/sms/inbound`, { method: 'POST', headers: { 'x-twilio-signature': 'x' }, body: new Blob([new TextEncoder().encode('MessageSid=SM1')]) }),
    },
    {
      name: 'a body over 64 KiB',
      status: 413,
      error: 'payload_too_large',
      send: () => h.signedPost('/sms/inbound', form({ Body: 'x'.repeat(70 * 1024) })),
    },
  ];

  for (const refusal of refusals) {
    it(`answers ${refusal.status} to ${refusal.name}, stores nothing and keeps serving`, async () => {
      const before = await storedCount();
      const response = await refusal.send();
      expect(response.status).to.equal(refusal.status);
      const answer = (await response.json()) as { error: string; message: string };
      expect(answer.error).to.equal(refusal.error);
      expect(answer.message).to.be.a('string').and.not.match(/\n/);
      expect(await storedCount()).to.equal(before);
      expect((await h.text(KAREN, 'HJÆLP')).response.status).to.equal(200);
    });
  }

  const oddBodies: { name: string; body: string }[] = [
    { name: 'emoji', body: '👍🏽 tak!' },
    { name: 'NUL characters', body: 'HBK\u0000FORNY\u0000' },
    { name: 'right-to-left text', body: '\u202Eالسلام عليكم' },
    { name: '1600 characters', body: 'å'.repeat(1600) },
    { name: 'an empty body', body: '' },
  ];

  it('answers odd bodies with 200 and the help text at most once a day, never echoing them', async () => {
    const number = '+4561000002';
    const sentBefore = h.twilio.messagesTo(number).length;
    for (const odd of oddBodies) {
      const { response, messageSid } = await h.text(number, odd.body);
      expect(response.status, odd.name).to.equal(200);
      await eventually(async () => (await h.api<{ status: string }>(`/api/inbound/${messageSid}`)).body.status !== 'received', 5000, odd.name);
    }
    const sent = h.twilio.messagesTo(number).slice(sentBefore);
    expect(sent.filter((message) => message.body.includes('HBK FORNY ALLE'))).to.have.length.at.most(1);
    for (const message of sent) for (const odd of oddBodies.filter((o) => o.body)) expect(message.body).not.to.contain(odd.body.slice(0, 5));
  });

  it('stores and ignores a message whose From is not a phone number (200, no answer)', async () => {
    const { response, messageSid } = await h.text('LIBRARYBOT', 'HBK FORNY ALLE');
    expect(response.status).to.equal(200);
    const { body } = await h.api<{ status: string; from: string }>(`/api/inbound/${messageSid}`);
    expect(body).to.include({ status: 'ignored', from: 'LIBRARYBOT' });
  });
});
