import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { SmsSendError } from '../../src/sms/transport.js';
import { createTwilioTransport } from '../../src/sms/twilio.js';
import { FakeTwilio } from '../helpers/fake-twilio.js';

const ACCOUNT = `AC${'1'.repeat(32)}`;

/** Forny's own HTTP client under Twilio's SDK, against a server that does not behave. */
describe('the Twilio HTTP client', () => {
  let server: Server | undefined;
  const requests: IncomingMessage[] = [];
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    requests.length = 0;
  });

  it('gives up on a Twilio that never answers, as a retryable send whose outcome is uncertain', async () => {
    server = createServer((req) => void requests.push(req)); // takes the request, never answers
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const transport = createTwilioTransport({ accountSid: ACCOUNT, authToken: 'token', apiBaseUrl: url, from: '1910', messagingServiceSid: undefined, timeoutMs: 200 });
    const started = Date.now();
    const error: unknown = await transport.send({ to: '+4520000001', body: 'Hej', statusCallback: 'https://forny.test/sms/status' }).then(
      () => expect.fail('a send with no answer succeeded'),
      (thrown: unknown) => thrown,
    );
    expect(error).to.be.instanceOf(SmsSendError);
    expect(error).to.include({ code: 'ETIMEDOUT', retryable: true, certain: false });
    expect(Date.now() - started).to.be.lessThan(5_000);
    expect(requests).to.have.length(1); // it did reach the server: Twilio may have taken it
  });

  it('sends the form Twilio reads, with basic auth, and reads Twilio\'s own error codes', async () => {
    const twilio = await new FakeTwilio().start();
    try {
      const transport = createTwilioTransport({ accountSid: twilio.accountSid, authToken: twilio.authToken, apiBaseUrl: twilio.url, from: '1910', messagingServiceSid: undefined });
      const sent = await transport.send({ to: '+4520000001', body: 'Fornyet: 2 af 3 lån', statusCallback: 'https://forny.test/sms/status' });
      expect(twilio.messages).to.have.length(1);
      expect(twilio.messages[0]).to.include({ sid: sent.sid, to: '+4520000001', from: '1910', body: 'Fornyet: 2 af 3 lån', statusCallback: 'https://forny.test/sms/status' });
      twilio.failNext({ kind: 'http', status: 400, code: 21211, message: 'not a valid phone number' });
      const refused: unknown = await transport.send({ to: '+4520000001', body: 'x', statusCallback: 'https://forny.test/sms/status' }).catch((thrown: unknown) => thrown);
      expect(refused).to.include({ code: '21211', retryable: false, certain: true });
    } finally {
      await twilio.stop();
    }
  });
});
