import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Express } from 'express';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { migrateToLatest } from '../../db/knexfile.js';
import { loadConfig } from '../../src/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { DEFAULT_LOCKOUT, loginDelayMs } from '../../src/http/basic-auth.js';
import { createApp } from '../../src/http/create-app.js';
import { failureKey } from '../../src/http/login-failures.js';
import { serve, type Serving } from '../../src/http/serve.js';
import { createLogger } from '../../src/logger.js';
import { eventually, Harness, TEST_LOCKOUT, TEST_REDIS_URL } from '../helpers/harness.js';

const USER = 'operator';
const PASSWORD = 'correct-horse-battery';
const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}` });

/** One login attempt on /api; its status and how long the answer took. */
async function attempt(baseUrl: string, password: string, headers: Record<string, string> = {}): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}/api/messages?limit=1`, { headers: { ...basic(password), ...headers } });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

const FREE = DEFAULT_LOCKOUT.freeFailures;
const FIRST = TEST_LOCKOUT.firstDelayMs ?? 0;

/**
 * No attempt waits: one that would be slowed down is answered 429 at once. So a 401 or 200 is an
 * attempt whose password was checked without a delay, and a 429 one that the lockout held back,
 * and the tests count answers instead of timing them.
 */
const NO_WAITING = { ...TEST_LOCKOUT, maxWaiting: 0 };

/** One login attempt as `user`; its status and the Set-Cookie it got. */
async function login(baseUrl: string, user: string, password: string, headers: Record<string, string> = {}): Promise<{ status: number; setCookie: string[] }> {
  const response = await fetch(`${baseUrl}/api/messages?limit=1`, { headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, ...headers } });
  await response.arrayBuffer();
  return { status: response.status, setCookie: response.headers.getSetCookie() };
}

/** The `name=value` of the device cookie among Set-Cookie headers. */
const deviceCookieOf = (setCookie: readonly string[]) => setCookie.find((cookie) => /^(__Host-)?forny-device=/.test(cookie));
const cookiePair = (setCookie: string) => setCookie.split(';')[0] ?? '';

/**
 * Login attempts at once: every connection is opened first, then every request is written in the
 * same turn of the event loop, so the server has them all before it answers any. Their statuses.
 */
async function loginBurst(attempts: readonly { baseUrl: string; user: string; password: string }[]): Promise<number[]> {
  const sockets = await Promise.all(
    attempts.map(({ baseUrl }) => {
      const { hostname, port } = new URL(baseUrl);
      return new Promise<Socket>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => resolve(socket));
        socket.once('error', reject);
      });
    }),
  );
  const answers = sockets.map(
    (socket) =>
      new Promise<number>((resolve) => {
        let head = '';
        socket.on('data', (chunk: Buffer) => {
          head += chunk.toString('latin1');
          const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
          if (status) {
            resolve(Number(status[1]));
            socket.destroy();
          }
        });
        socket.on('error', () => resolve(0));
        socket.on('close', () => resolve(0));
      }),
  );
  attempts.forEach(({ user, password }, index) =>
    sockets[index]?.write(`GET /api/messages?limit=1 HTTP/1.1\r\nHost: forny\r\nAuthorization: Basic ${Buffer.from(`${user}:${password}`).toString('base64')}\r\nConnection: close\r\n\r\n`),
  );
  return Promise.all(answers);
}

const tally = (statuses: readonly number[]) => statuses.reduce<Record<number, number>>((counts, status) => ({ ...counts, [status]: (counts[status] ?? 0) + 1 }), {});

describe('security: login lockout', function () {
  it('grows the delay after the free failures, up to a ceiling (production: 1 s doubling to 15 s after 5 failures)', () => {
    expect([0, 4, 5, 6, 7, 8, 9, 10, 50].map((failures) => loginDelayMs(failures))).to.deep.equal([0, 0, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  describe('with no proxy trusted (the default)', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await Harness.start();
    });
    afterEach(async () => h.stop());

    it('is not bypassed by a fresh X-Forwarded-For per try: all tries count against the socket address, in Redis', async () => {
      const tries: number[] = [];
      for (let index = 0; index < FREE + 3; index += 1) {
        const { status, ms } = await attempt(h.baseUrl, `wrong-${index}`, { 'x-forwarded-for': `198.51.100.${index + 1}` });
        expect(status).to.equal(401);
        tries.push(ms);
      }
      // The tries after the free ones waited, longer each time (lower bounds: sleeps never end early).
      expect(tries[FREE]).to.be.at.least(FIRST);
      expect(tries[FREE + 1]).to.be.at.least(2 * FIRST);
      expect(tries[FREE + 2]).to.be.at.least(4 * FIRST);
      const redis = new Redis(TEST_REDIS_URL);
      try {
        expect(await redis.get(`${h.config.queuePrefix}:login-failures:${failureKey(USER, '127.0.0.1')}`)).to.equal(String(FREE + 3));
        for (let index = 0; index < FREE + 3; index += 1) expect(await redis.exists(`${h.config.queuePrefix}:login-failures:${failureKey(USER, `198.51.100.${index + 1}`)}`)).to.equal(0);
      } finally {
        redis.disconnect();
      }
    });

    it('lets the right password in while someone on the same address keeps hammering wrong ones', async () => {
      let hammering = true;
      const hammer = (async () => {
        for (let index = 0; hammering && index < 200; index += 1) await attempt(h.baseUrl, `guess-${index}`);
      })();
      try {
        // Wait until the hammering has reached the longest delays.
        const failures = async () => Number((await h.deps.redis.get(`${h.config.queuePrefix}:login-failures:${failureKey(USER, '127.0.0.1')}`)) ?? 0);
        await eventually(async () => loginDelayMs(await failures(), { ...DEFAULT_LOCKOUT, ...TEST_LOCKOUT }) === TEST_LOCKOUT.maxDelayMs, 15_000, 'the longest delay');
        for (let login = 0; login < 3; login += 1) {
          const { status } = await attempt(h.baseUrl, PASSWORD);
          expect(status, `login ${login}`).to.equal(200);
        }
      } finally {
        hammering = false;
        await hammer;
      }
    });

    it('holds across web processes: a second server on the same Redis slows the first try', async () => {
      for (let index = 0; index < FREE + 2; index += 1) await attempt(h.baseUrl, `wrong-${index}`);
      const other = await serve(h.deps, { port: 0, host: '127.0.0.1', app: { lockout: { ...TEST_LOCKOUT, maxDelayMs: 2000 } } });
      try {
        const { status, ms } = await attempt(other.url, 'wrong-again');
        expect(status).to.equal(401);
        expect(ms).to.be.at.least(4 * FIRST); // FREE + 2 failures seen by the other server: the third delay
      } finally {
        await other.close();
      }
    });
  });

  describe('a browser that has logged in before (a device cookie, as OWASP advises for lockouts)', () => {
    let h: Harness;
    beforeEach(async () => {
      h = await Harness.start({ lockout: NO_WAITING });
    });
    afterEach(async () => h.stop());
    const addressKey = () => `${h.config.queuePrefix}:login-failures:${failureKey(USER, '127.0.0.1')}`;

    it('gets in at once while wrong passwords from the same address hold everyone else back', async () => {
      const first = await login(h.baseUrl, USER, PASSWORD);
      expect(first.status).to.equal(200);
      const device = deviceCookieOf(first.setCookie);
      expect(device, 'a device cookie after a successful login').to.be.a('string');

      // Someone on the office's shared address loops through wrong passwords.
      const hammering: number[] = [];
      for (let index = 0; index < FREE + 3; index += 1) hammering.push((await login(h.baseUrl, USER, `wrong-${index}`)).status);
      expect(tally(hammering)).to.deep.equal({ 401: FREE, 429: 3 });

      // A browser that never logged in is held back with them, even with the right password...
      expect((await login(h.baseUrl, USER, PASSWORD)).status).to.equal(429);
      // ...the operator's browser is not.
      for (let page = 0; page < 3; page += 1) expect((await login(h.baseUrl, USER, PASSWORD, { cookie: cookiePair(device ?? '') })).status, `page ${page}`).to.equal(200);
      expect(await h.deps.redis.get(addressKey())).to.equal(String(FREE + 3 - 3)); // the held-back tries were never checked
    });

    it('sets the cookie HttpOnly, SameSite=Strict, Secure and __Host- (PUBLIC_BASE_URL is https), for the whole site and 90 days', async () => {
      const device = deviceCookieOf((await login(h.baseUrl, USER, PASSWORD)).setCookie) ?? '';
      expect(device).to.match(/^__Host-forny-device=/);
      const attributes = device.split(';').slice(1).map((part) => part.trim().toLowerCase());
      expect(attributes).to.have.members(['httponly', 'samesite=strict', 'secure', 'path=/', `max-age=${90 * 24 * 3600}`]);
      // Not set again on every page: the browser keeps the one it has.
      expect(deviceCookieOf((await login(h.baseUrl, USER, PASSWORD, { cookie: cookiePair(device) })).setCookie)).to.equal(undefined);
      // Never for a wrong password.
      expect(deviceCookieOf((await login(h.baseUrl, USER, 'wrong')).setCookie)).to.equal(undefined);
    });

    it('counts wrong passwords sent with the cookie against that browser only', async () => {
      const device = cookiePair(deviceCookieOf((await login(h.baseUrl, USER, PASSWORD)).setCookie) ?? '');
      const tries: number[] = [];
      for (let index = 0; index < FREE + 2; index += 1) tries.push((await login(h.baseUrl, USER, `wrong-${index}`, { cookie: device })).status);
      expect(tally(tries)).to.deep.equal({ 401: FREE, 429: 2 });
      expect((await login(h.baseUrl, USER, PASSWORD, { cookie: device })).status).to.equal(429); // that browser now waits
      expect(await h.deps.redis.get(addressKey())).to.equal(null);
      expect((await login(h.baseUrl, USER, PASSWORD)).status).to.equal(200); // the address is untouched
    });

    it('treats an altered cookie, or one of another user, as none: the try counts against the address', async () => {
      const device = cookiePair(deviceCookieOf((await login(h.baseUrl, USER, PASSWORD)).setCookie) ?? '');
      const altered = device.slice(0, -2) + (device.endsWith('AA') ? 'BB' : 'AA');
      expect((await login(h.baseUrl, USER, 'wrong', { cookie: altered })).status).to.equal(401);
      expect(await h.deps.redis.get(addressKey())).to.equal('1');
      expect((await login(h.baseUrl, 'someone-else', 'wrong', { cookie: device })).status).to.equal(401);
      expect(await h.deps.redis.get(`${h.config.queuePrefix}:login-failures:${failureKey('someone-else', '127.0.0.1')}`)).to.equal('1');
    });

    it('is neither Secure nor __Host- when PUBLIC_BASE_URL is http (a browser would drop it)', async () => {
      const plain = await Harness.start({ lockout: NO_WAITING, env: { PUBLIC_BASE_URL: 'http://127.0.0.1:3000' } });
      try {
        const device = deviceCookieOf((await login(plain.baseUrl, USER, PASSWORD)).setCookie) ?? '';
        expect(device).to.match(/^forny-device=/);
        expect(device.split(';').map((part) => part.trim().toLowerCase())).not.to.include('secure');
      } finally {
        await plain.stop();
      }
    });
  });

  describe('parallel attempts', () => {
    let h: Harness;
    let servers: Server[] = [];
    before(async () => {
      h = await Harness.start({ lockout: NO_WAITING });
    });
    afterEach(async () => {
      for (const server of servers) server.closeAllConnections();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
      servers = [];
    });
    after(async () => h.stop());

    /**
     * A server that holds requests until `size` have arrived and then hands them all to the apps
     * (in turn) at once: a burst in its purest form, whatever the machine's speed. Each app is one
     * web process's app on the same Redis.
     */
    async function burstServer(apps: readonly Express[], size: number): Promise<string> {
      let held: (() => void)[] = [];
      let arrived = 0;
      const server = createServer((req, res) => {
        const app = apps[arrived % apps.length];
        arrived += 1;
        held.push(() => {
          app?.(req, res);
        });
        if (held.length < size) return;
        const all = held;
        held = [];
        for (const go of all) go();
      });
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
    const wrongPasswords = (baseUrl: string, user: string, count: number) => Array.from({ length: count }, (_, index) => ({ baseUrl, user, password: `wrong-${index}` }));

    it('lets a burst of wrong passwords have no more checks before the delays than a sequential run', async () => {
      const app = createApp(h.deps, { lockout: NO_WAITING });
      const oneByOne = await burstServer([app], 1);
      const sequential: number[] = [];
      for (const attempt of wrongPasswords(oneByOne, 'guesser-in-turn', 40)) sequential.push(...(await loginBurst([attempt])));
      expect(tally(sequential)).to.deep.equal({ 401: FREE, 429: 40 - FREE });

      const burst = await loginBurst(wrongPasswords(await burstServer([app], 40), 'guesser-at-once', 40));
      expect(tally(burst)[401] ?? 0, 'checked without a delay').to.be.at.most(FREE);
      expect(tally(burst)[401] ?? 0, 'checked without a delay').to.be.at.least(1);
    });

    it('holds across web processes: a burst split over two apps on one Redis gets no more', async () => {
      const burst = await loginBurst(wrongPasswords(await burstServer([createApp(h.deps, { lockout: NO_WAITING }), createApp(h.deps, { lockout: NO_WAITING })], 40), 'guesser-two-processes', 40));
      expect(tally(burst)[401] ?? 0, 'checked without a delay').to.be.at.most(FREE);
    });

    it('does not hold back a burst of right passwords (a page and its requests at once)', async () => {
      const url = await burstServer([createApp(h.deps, { lockout: NO_WAITING })], 3 * FREE);
      const burst = await loginBurst(Array.from({ length: 3 * FREE }, () => ({ baseUrl: url, user: USER, password: PASSWORD })));
      expect(tally(burst)).to.deep.equal({ 200: 3 * FREE });
    });
  });

  describe('behind one trusted proxy (TRUST_PROXY=1)', () => {
    let h: Harness;
    before(async () => {
      h = await Harness.start({ env: { TRUST_PROXY: '1' } });
    });
    after(async () => h.stop());

    it('counts by the address the proxy reports', async () => {
      for (let index = 0; index < 3; index += 1) await attempt(h.baseUrl, 'wrong', { 'x-forwarded-for': '198.51.100.7' });
      await attempt(h.baseUrl, 'wrong', { 'x-forwarded-for': '198.51.100.8' });
      const key = (address: string) => `${h.config.queuePrefix}:login-failures:${failureKey(USER, address)}`;
      expect(await h.deps.redis.get(key('198.51.100.7'))).to.equal('3');
      expect(await h.deps.redis.get(key('198.51.100.8'))).to.equal('1');
      expect(await h.deps.redis.get(key('127.0.0.1'))).to.equal(null);
    });
  });

  describe('with Redis unreachable', () => {
    let deps: Deps;
    let http: Serving;
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'forny-test-'));
      const config = loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'forny.sqlite')}`, REDIS_URL: 'redis://127.0.0.1:1', ADMIN_USER: USER, ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: 'silent' });
      deps = createDeps(config, { logger: createLogger('silent') });
      await migrateToLatest(deps.db);
      http = await serve(deps, { port: 0, host: '127.0.0.1', app: { lockout: TEST_LOCKOUT } });
    });
    after(async () => {
      http.server.closeAllConnections();
      await http.close();
      await deps.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('counts failures in the process instead: still slowed down, and the right password still gets in', async () => {
      const tries: number[] = [];
      for (let index = 0; index < FREE + 2; index += 1) {
        const { status, ms } = await attempt(http.url, `wrong-${index}`);
        expect(status).to.equal(401);
        tries.push(ms);
      }
      expect(tries[FREE + 1]).to.be.at.least(2 * FIRST);
      expect((await attempt(http.url, PASSWORD)).status).to.equal(200);
    });
  });
});
