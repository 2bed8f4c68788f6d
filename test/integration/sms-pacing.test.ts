import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pacedSmsTransport } from '../../src/sms/paced.js';
import type { SmsTransport } from '../../src/sms/transport.js';
import { deleteQueueKeys, TEST_REDIS_URL } from '../helpers/harness.js';

/** A transport that records when each call reached it. */
function recording(): SmsTransport & { readonly at: number[] } {
  const at: number[] = [];
  return {
    name: 'twilio',
    at,
    async send() {
      at.push(performance.now());
      return { sid: `SM${randomBytes(16).toString('hex')}` };
    },
    async findRecent() {
      return null;
    },
  };
}

/** SMS_RATE_PER_SECOND at the call to Twilio, across processes (each with its own Redis connection). */
describe('SMS pacing (real Redis)', () => {
  const prefix = `forny-pacing-${randomBytes(5).toString('hex')}`;
  const connections: Redis[] = [];
  afterEach(async () => {
    for (const connection of connections.splice(0)) connection.disconnect();
    await deleteQueueKeys(TEST_REDIS_URL, prefix);
  });

  it('sends handed over at once by three processes reach Twilio 1000/rate ms apart, one after the other', async () => {
    const inner = recording();
    const processes = Array.from({ length: 3 }, () => {
      const redis = new Redis(TEST_REDIS_URL);
      connections.push(redis);
      return pacedSmsTransport(inner, { redis, key: `${prefix}:forny:sms-next-slot`, ratePerSecond: 50 });
    });
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      const paced = processes[i % 3];
      if (paced) sends.push(paced.send({ to: '+4530000000', body: 'x', statusCallback: 'https://forny.test/sms/status' }));
    }
    await Promise.all(sends);
    const at = [...inner.at].sort((a, b) => a - b);
    // 30 sends at 50/s: slots 20 ms apart on Redis's clock, so the last leaves 29 slots after the
    // first, and any 10 in a row span 9 slots (less one slot for the replies' own differing delays).
    expect((at[29] ?? 0) - (at[0] ?? 0)).to.be.at.least(28 * 20);
    for (let i = 0; i + 9 < at.length; i++) expect((at[i + 9] ?? 0) - (at[i] ?? 0), `sends ${i}..${i + 9}`).to.be.at.least(8 * 20);
  });

  it('never stops a send: while Redis does not answer, the send goes out unpaced', async () => {
    const inner = recording();
    const failures: string[] = [];
    const paced = pacedSmsTransport(inner, {
      redis: { eval: () => Promise.reject(new Error('Connection is closed.')), evalsha: () => Promise.reject(new Error('Connection is closed.')) },
      key: `${prefix}:forny:sms-next-slot`,
      ratePerSecond: 1,
      onUnavailable: (error) => failures.push(error.message),
    });
    await paced.send({ to: '+4530000000', body: 'x', statusCallback: 'https://forny.test/sms/status' });
    await paced.send({ to: '+4530000000', body: 'x', statusCallback: 'https://forny.test/sms/status' });
    expect(inner.at).to.have.length(2);
    expect(failures).to.deep.equal(['Connection is closed.', 'Connection is closed.']);
  });
});
