import { expect } from 'chai';
import { Writable } from 'node:stream';
import { KAREN } from '../fixtures/every-rule.js';
import { Harness, newMessageSid } from '../helpers/harness.js';
import { parseExposition, sampleValue } from '../helpers/prometheus-text.js';

/** Log lines written by the app, parsed. */
class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

/**
 * An unsigned sender could write a warn line per forged webhook, 500 a second. Refusals are
 * counted, every one, in a metric, and logged at most once a minute with the number left out; the
 * minute is the app's clock's (the harness's, moved by hand), so the test never sleeps.
 */
describe('security: forged webhooks in the log', function () {
  let h: Harness;
  const log = new LogCapture();
  before(async () => {
    h = await Harness.start({ log: { level: 'info', destination: log } });
  });
  after(async () => h.stop());

  const forge = () => h.signedPost('/sms/inbound', { MessageSid: newMessageSid(), From: KAREN, Body: 'HBK FORNY ALLE' }, { signature: 'bm90IGEgc2lnbmF0dXJl' });
  const refusalLines = () => log.lines.filter((line) => typeof line.msg === 'string' && /signature/.test(line.msg));
  const refused = async (reason: string) =>
    sampleValue(parseExposition(await (await fetch(`${h.baseUrl}/metrics`)).text()), 'forny_webhooks_refused_total', { webhook: 'inbound', reason }) ?? 0;

  it('writes one line for a flood of forged webhooks, and counts them all', async () => {
    for (let index = 0; index < 30; index += 1) expect((await forge()).status).to.equal(403);
    await Promise.all(Array.from({ length: 20 }, async () => expect((await forge()).status).to.equal(403)));
    expect(refusalLines()).to.have.length(1);
    expect(await refused('bad_signature')).to.equal(50);
  });

  it('writes the next line once the minute has passed, with how many were left out', async () => {
    h.clock.advance(59_000);
    expect((await forge()).status).to.equal(403);
    expect(refusalLines()).to.have.length(1);
    h.clock.advance(1_000);
    expect((await forge()).status).to.equal(403);
    expect(refusalLines()).to.have.length(2);
    expect(refusalLines()[1]).to.include({ level: 40, suppressed: 50 });
    expect(await refused('bad_signature')).to.equal(52);
  });

  it('counts unsigned webhooks under their own reason', async () => {
    expect((await h.signedPost('/sms/inbound', { MessageSid: newMessageSid(), From: KAREN, Body: 'x' }, { signature: null })).status).to.equal(400);
    expect(await refused('missing_signature')).to.equal(1);
  });
});
