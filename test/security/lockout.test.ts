import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { migrateToLatest } from '../../db/knexfile.js';
import { loadConfig } from '../../src/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { DEFAULT_LOCKOUT, loginDelayMs } from '../../src/http/basic-auth.js';
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
