import { expect } from 'chai';
import { serve, type Serving } from '../../src/http/serve.js';
import { EVERY_RULE_TODAY, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness } from '../helpers/harness.js';

const operator = { authorization: `Basic ${Buffer.from('operator:correct-horse-battery').toString('base64')}` };

/**
 * The dashboard's CSRF token used to be an HMAC keyed by the admin password, the same forever: one
 * leaked token let the password be tested offline. Now each start makes a random key.
 */
describe('security: CSRF tokens', function () {
  let h: Harness;
  let restarted: Serving;
  let action: string;

  const tokenOn = async (baseUrl: string) => {
    const page = await (await fetch(`${baseUrl}/admin/failures`, { headers: operator })).text();
    const token = new RegExp(`action="${action}"[^>]*><input type="hidden" name="_csrf" value="([^"]+)"`).exec(page)?.[1];
    expect(token, 'the retry form and its token').to.be.a('string');
    return token ?? '';
  };
  const retry = (baseUrl: string, token: string) =>
    fetch(`${baseUrl}${action}`, {
      method: 'POST',
      headers: { ...operator, 'content-type': 'application/x-www-form-urlencoded', origin: baseUrl },
      body: new URLSearchParams({ _csrf: token }),
      redirect: 'manual',
    });

  before(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
    h.twilio.failNext({ kind: 'http', status: 400, code: 21211, message: 'The To number is not a valid phone number.' });
    await h.text(KAREN, 'HBK FORNY ALLE');
    const failed = await eventually(() => h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'failed' }).first(), 10_000, 'the failed reply');
    action = `/admin/failures/messages/${failed.id}/retry`;
    // A second start of the web side, with the same password, database and Redis.
    restarted = await serve(h.deps, { port: 0, host: '127.0.0.1' });
  });
  after(async () => {
    await restarted.close();
    await h.stop();
  });

  it('differs between two starts with the same password, and is steady within one', async () => {
    const first = await tokenOn(h.baseUrl);
    expect(await tokenOn(h.baseUrl)).to.equal(first);
    const second = await tokenOn(restarted.url);
    expect(second).not.to.equal(first);
    expect(first).not.to.contain('correct-horse-battery');
  });

  it("refuses one start's token at the other, and takes it where it was issued", async () => {
    const token = await tokenOn(h.baseUrl);
    expect((await retry(restarted.url, token)).status).to.equal(403);
    expect((await retry(h.baseUrl, token)).status).to.equal(303);
  });
});
