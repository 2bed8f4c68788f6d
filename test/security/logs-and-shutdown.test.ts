import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import twilio from 'twilio';
import { SANDBOX_AUTH_TOKEN } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { redactUrl, secretsOf } from '../../src/redact.js';
import { FornyProcess, freePort } from '../helpers/processes.js';

/** Collects whatever a logger writes. */
const capture = () => {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { destination, text: () => text };
};

describe('security: secrets in the log', () => {
  const SECRET = 'Zq9-very-secret-pw';

  for (const url of [`redis://:${SECRET}@cache:6379`, `rediss://default:${SECRET}@cache:6380/0`, `postgres://forny:${SECRET}@db:5432/forny`, `sip2://sc:${SECRET}@ils:6001`, `smtp://mailer:${SECRET}@smtp.example:587`]) {
    it(`takes the password out of ${url.split(':')[0]} URLs in the message, err.message, a stack and nested objects`, () => {
      const log = capture();
      const logger = createLogger('debug', log.destination);
      logger.warn(`cannot reach ${url}`);
      logger.warn({ err: new Error(`connect failed for ${url}`) }, 'failed');
      logger.info({ deep: { deeper: [{ url }] }, redis: url }, 'configured');
      expect(log.text()).not.to.contain(SECRET);
      expect(log.text()).to.contain(`${url.split('://')[0]}://`); // the address stays readable
    });
  }

  it('takes out Authorization headers, bearer tokens, secret-named fields and token parameters', () => {
    const log = capture();
    const logger = createLogger('debug', log.destination);
    logger.info({ headers: { authorization: `Bearer ${SECRET}`, Authorization: `Basic ${Buffer.from(`a:${SECRET}`).toString('base64')}` } }, 'request');
    logger.info({ config: { metricsToken: SECRET, apiKey: SECRET, notices_token: SECRET } }, 'config');
    logger.info(`called /x?token=${SECRET}&password=${SECRET} with Bearer ${SECRET}`);
    logger.info({ err: new Error(`Authorization: Basic ${Buffer.from(`a:${SECRET}`).toString('base64')}`) }, 'failed');
    expect(log.text()).not.to.contain(SECRET);
    expect(log.text()).not.to.contain(Buffer.from(`a:${SECRET}`).toString('base64'));
  });

  it('takes configured secrets out of any text, whatever their shape', () => {
    const log = capture();
    const logger = createLogger('debug', log.destination, { secrets: secretsOf(['admin-password-1', `redis://:${encodeURIComponent('p@ss/w0rd!')}@h:1`]) });
    logger.info('someone typed admin-password-1 as a user name');
    logger.info({ note: 'p@ss/w0rd! appears here' }, 'odd');
    expect(log.text()).not.to.contain('admin-password-1');
    expect(log.text()).not.to.contain('p@ss/w0rd!');
  });

  it('shows a connection URL without credentials or query', () => {
    expect(redactUrl(`redis://:${SECRET}@cache:6379/2?password=${SECRET}`)).to.equal('redis://[redacted]@cache:6379/2');
    expect(redactUrl('redis://127.0.0.1:6379')).to.equal('redis://127.0.0.1:6379');
  });
});

describe('security: a real process with Redis unreachable', function () {
  this.timeout(60_000);
  const REDIS_PASSWORD = 'unreachable-redis-pw-4711';
  const GRACE_MS = 1500;
  let dir: string;
  let forny: FornyProcess | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'forny-security-'));
  });
  after(async () => {
    await forny?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('never logs the Redis password, and exits within the grace after SIGTERM', async () => {
    const [port, redisPort] = [await freePort(), await freePort()];
    forny = FornyProcess.spawn('start.ts', {
      PORT: String(port),
      DATABASE_URL: `sqlite:${join(dir, 'forny.sqlite')}`,
      REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${redisPort}`,
      ADMIN_PASSWORD: 'correct-horse-battery',
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
      LOG_LEVEL: 'debug',
    });
    await forny.waitFor(/forny listening/, 30_000);
    const baseUrl = `http://127.0.0.1:${port}`;

    // What an outage brings out: the probe, a webhook whose enqueue fails, a failed login, a scrape.
    expect((await fetch(`${baseUrl}/readyz`)).status).to.equal(503);
    const params = { MessageSid: 'SM0123456789abcdef0123456789abcdef', From: '+4520304050', To: '1910', Body: 'HBK FORNY ALLE' };
    const signature = twilio.getExpectedTwilioSignature(SANDBOX_AUTH_TOKEN, `${baseUrl}/sms/inbound`, params);
    const webhook = await fetch(`${baseUrl}/sms/inbound`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature }, body: new URLSearchParams(params) });
    expect(webhook.status).to.equal(200);
    expect((await fetch(`${baseUrl}/api/messages`, { headers: { authorization: `Basic ${Buffer.from('admin:wrong-password').toString('base64')}` } })).status).to.equal(401);
    expect((await fetch(`${baseUrl}/metrics`)).status).to.equal(200);
    await forny.waitFor(/enqueue failed/, 10_000);

    const signalled = performance.now();
    forny.child.kill('SIGTERM');
    await forny.exited;
    const took = performance.now() - signalled;
    // The grace, a moment to close what can be closed, and the interpreter's exit.
    expect(took).to.be.lessThan(GRACE_MS + 3000 + 1000);

    const output = forny.stdout + forny.stderr;
    expect(output).to.contain('did not answer within 5 s; starting anyway');
    expect(output).to.contain(`127.0.0.1:${redisPort}`); // the address is logged…
    expect(output).not.to.contain(REDIS_PASSWORD); // …the password never
    expect(output).not.to.contain('wrong-password');
  });
});
