import { expect } from 'chai';
import { createEmbeddedLibrarySystem } from '../../src/library/embedded.js';
import { Writable } from 'node:stream';
import { createKnex } from '../../db/knexfile.js';
import { Redis } from 'ioredis';
import type { Libraries } from '../../src/libraries.js';
import { checkReadiness, downReason } from '../../src/http/health.js';
import { KAREN, everyRuleLibrary, EVERY_RULE_TODAY } from '../fixtures/every-rule.js';
import { eventually, Harness } from '../helpers/harness.js';
import { TEST_POSTGRES_URL } from '../helpers/postgres.js';
import { freePort } from '../helpers/processes.js';
import { parseExposition } from '../helpers/prometheus-text.js';

const INTERNAL_BASE_URL = 'https://forny-internal.example.net:8443/sms-gateway';

/** Log lines written by the app, parsed. */
class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

describe('security: what error answers and probes tell', function () {
  let h: Harness;
  const log = new LogCapture();
  before(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00`, env: { PUBLIC_BASE_URL: INTERNAL_BASE_URL }, log: { level: 'info', destination: log } });
  });
  after(async () => h.stop());
  const login = { authorization: `Basic ${Buffer.from('operator:correct-horse-battery').toString('base64')}` };

  it('answers a bad signature 403 without the host, port or path of PUBLIC_BASE_URL', async () => {
    const response = await h.signedPost('/sms/inbound', { MessageSid: 'SM1', From: KAREN, Body: 'HBK FORNY ALLE' }, { signature: 'bm90IGEgc2lnbmF0dXJl' });
    expect(response.status).to.equal(403);
    const body = await response.text();
    expect(body).to.contain('bad_signature');
    for (const part of ['forny-internal', 'example.net', '8443', 'sms-gateway', 'https://']) expect(body).not.to.contain(part);
  });

  for (const path of ['/api/inbound/%E0%A4%A', '/api/inbound/%00', '/api/inbound/SM1%00', '/api/messages?to=%00', '/api/messages?to=%E0%A4%A', '/admin/messages?number=%zz', '/sms/inbound%00']) {
    it(`answers ${path} with 400 and a one-line error, never 500 or a stack in the log`, async () => {
      const before = log.lines.length;
      const response = await fetch(`${h.baseUrl}${path}`, { headers: login });
      expect(response.status).to.equal(400);
      const body = (await response.json()) as { error: string; message: string };
      expect(body.error).to.equal('malformed_url');
      expect(body.message).not.to.contain('\n');
      const logged = log.lines.slice(before);
      expect(logged.filter((line) => Number(line.level) >= 50)).to.deep.equal([]);
      expect(JSON.stringify(logged)).not.to.contain('stack');
    });
  }

  it('sends Cache-Control: no-store on /api answers, the refusals too', async () => {
    expect((await fetch(`${h.baseUrl}/api/messages`, { headers: login })).headers.get('cache-control')).to.equal('no-store');
    expect((await fetch(`${h.baseUrl}/api/messages`)).headers.get('cache-control')).to.equal('no-store');
    expect((await fetch(`${h.baseUrl}/api/inbound/SM00000000000000000000000000000000`, { headers: login })).headers.get('cache-control')).to.equal('no-store');
  });

  it('sends HSTS when PUBLIC_BASE_URL is https', async () => {
    expect((await fetch(`${h.baseUrl}/healthz`)).headers.get('strict-transport-security')).to.match(/max-age=\d+/);
  });

});

describe('security: ErrorCode of delivery receipts', function () {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
  });
  after(async () => h.stop());

  it('stores an ErrorCode that is not a number as unknown, so it never becomes a metrics label', async () => {
    await h.text(KAREN, 'HBK FORNY ALLE');
    const reply = await eventually(() => h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'sent' }).first(), 10_000, 'the reply');
    expect(await h.deliver(reply.provider_sid ?? '', 'undelivered', 'evil"label{x="1"}<script>')).to.equal(200);
    const stored = await h.deps.db('outbound_messages').where({ id: reply.id }).first();
    expect(stored?.status).to.equal('undelivered');
    expect(stored?.error_code).to.equal('unknown');
    await h.refreshMetrics();
    const families = parseExposition(await (await fetch(`${h.baseUrl}/metrics`)).text());
    const codes = (families.get('forny_send_errors')?.samples ?? []).map((sample) => sample.labels.code);
    expect(codes).to.deep.equal(['unknown']);
  });

  it('keeps a numeric ErrorCode as it is', async () => {
    await h.text(KAREN, 'HBK FORNY ALLE');
    const reply = await eventually(() => h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'sent' }).first(), 10_000, 'the second reply');
    expect(await h.deliver(reply.provider_sid ?? '', 'failed', '30003')).to.equal(200);
    expect((await h.deps.db('outbound_messages').where({ id: reply.id }).first())?.error_code).to.equal('30003');
  });
});

describe('security: HSTS on plain HTTP', () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ env: { PUBLIC_BASE_URL: 'http://forny.lan:3000' } });
  });
  after(async () => h.stop());

  it('is not sent when PUBLIC_BASE_URL is http', async () => {
    expect((await fetch(`${h.baseUrl}/healthz`)).headers.get('strict-transport-security')).to.equal(null);
  });
});

describe('security: /readyz with a dependency down', function () {
  it('says "not answering" for an unreachable Redis, without its host, port or password', async () => {
    const port = await freePort();
    const log = new LogCapture();
    const h = await Harness.start({ env: { REDIS_URL: `redis://:redis-secret-pw@127.0.0.1:${port}` }, log: { level: 'warn', destination: log } });
    try {
      const ready = await fetch(`${h.baseUrl}/readyz`);
      expect(ready.status).to.equal(503);
      const text = await ready.text();
      expect(JSON.parse(text)).to.deep.equal({ status: 'not ready', checks: { database: 'ok', redis: 'down: not answering', librarySystem: 'ok' } });
      for (const part of ['127.0.0.1', String(port), 'redis-secret-pw']) expect(text).not.to.contain(part);
      // The details are the log's, at warn, without the password.
      const warned = log.lines.find((line) => line.msg === 'not ready');
      expect(warned?.level).to.equal(40);
      expect(JSON.stringify(log.lines)).not.to.contain('redis-secret-pw');
    } finally {
      await h.stop();
    }
  });

  it('says "login refused" for a database that refuses the login, without host or user', async () => {
    const url = new URL(TEST_POSTGRES_URL);
    url.username = 'no_such_forny_role';
    url.password = 'db-secret-pw';
    const db = createKnex(url.toString());
    const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      const readiness = await checkReadiness({ db, redis, libraries: { several: false, all: [{ system: createEmbeddedLibrarySystem({ timeZone: 'Europe/Copenhagen' }) }] as unknown as Libraries['all'] } });
      expect(readiness.checks).to.deep.equal({ database: 'down: login refused', redis: 'ok', librarySystem: 'ok' });
      expect(readiness.details.database).to.contain('no_such_forny_role');
    } finally {
      redis.disconnect();
      await db.destroy();
    }
  });

  it('sorts driver errors by kind', () => {
    expect(downReason(Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432'), { code: 'ECONNREFUSED' }))).to.equal('not answering');
    expect(downReason(new Error('WRONGPASS invalid username-password pair or user is disabled.'))).to.equal('login refused');
    expect(downReason(Object.assign(new Error('password authentication failed for user "forny"'), { code: '28P01' }))).to.equal('login refused');
    expect(downReason(new Error('SQLITE_CORRUPT: database disk image is malformed'))).to.equal('failing');
  });
});
