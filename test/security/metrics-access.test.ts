import { expect } from 'chai';
import { networkInterfaces } from 'node:os';
import { loadConfig } from '../../src/config.js';
import { METRICS_REFRESH_MS } from '../../src/http/metrics.js';
import { KAREN } from '../fixtures/every-rule.js';
import { Harness } from '../helpers/harness.js';
import { parseExposition, sampleValue } from '../helpers/prometheus-text.js';

const TOKEN = 'm'.repeat(20) + '-metrics-token-of-32+';

/** An address of this machine that is not loopback, if it has one. */
const outsideAddress = () =>
  Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;

describe('security: /metrics', function () {
  describe('with METRICS_TOKEN set', () => {
    let h: Harness;
    before(async () => {
      h = await Harness.start({ env: { METRICS_TOKEN: TOKEN } });
    });
    after(async () => h.stop());

    it('answers 401 without the bearer token or with a wrong one, and 200 with it', async () => {
      const without = await fetch(`${h.baseUrl}/metrics`);
      expect(without.status).to.equal(401);
      expect(without.headers.get('www-authenticate')).to.match(/^Bearer/);
      expect(await without.text()).not.to.contain('forny_messages');
      expect((await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}x` } })).status).to.equal(401);
      expect((await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: `Basic ${Buffer.from(`operator:${TOKEN}`).toString('base64')}` } })).status).to.equal(401);
      const allowed = await fetch(`${h.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(allowed.status).to.equal(200);
      expect(await allowed.text()).to.contain('forny_messages');
    });
  });

  it('refuses a METRICS_TOKEN under 32 characters at start, naming it without showing it', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'too-short-token' })).to.throw(/METRICS_TOKEN \(value hidden\): expected at least 32 characters/);
    try {
      loadConfig({ METRICS_TOKEN: 'too-short-token' });
    } catch (error) {
      expect((error as Error).message).not.to.contain('too-short-token');
    }
  });

  describe('without METRICS_TOKEN', () => {
    let h: Harness;
    before(async () => {
      h = await Harness.start({ host: '0.0.0.0', metricsRefreshMs: 200 });
    });
    after(async () => h.stop());

    it('answers loopback clients', async () => {
      expect((await fetch(`${h.baseUrl}/metrics`)).status).to.equal(200);
    });

    it('refuses (403) a client on another address, whatever X-Forwarded-For claims', async function () {
      const address = outsideAddress();
      if (!address) this.skip(); // a machine with loopback only cannot be reached from elsewhere
      const port = new URL(h.baseUrl).port;
      const outside = await fetch(`http://${address}:${port}/metrics`, { headers: { 'x-forwarded-for': '127.0.0.1' } });
      expect(outside.status).to.equal(403);
      expect(await outside.text()).not.to.contain('forny_messages');
      expect((await fetch(`http://${address}:${port}/healthz`)).status).to.equal(200); // the rest still answers
    });

    it('refuses a loopback request relayed by a proxy on this host', async () => {
      expect((await fetch(`${h.baseUrl}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).to.equal(403);
      expect((await fetch(`${h.baseUrl}/metrics`, { headers: { forwarded: 'for=203.0.113.9' } })).status).to.equal(403);
    });

    // A local nginx with `proxy_set_header X-Real-IP $remote_addr;` and nothing else is the common set-up.
    for (const header of ['x-real-ip', 'x-forwarded-host', 'x-forwarded-proto', 'x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-cluster-client-ip', 'via']) {
      it(`refuses a loopback request carrying ${header}, as relayed by a proxy`, async () => {
        const response = await fetch(`${h.baseUrl}/metrics`, { headers: { [header]: header === 'via' ? '1.1 nginx' : '203.0.113.9' } });
        expect(response.status).to.equal(403);
        expect(await response.text()).not.to.contain('forny_messages');
      });
    }

    it('serves a scrape from the cache: no database query, and new figures once the refresh has run', async () => {
      // A harness of its own whose background refresh never comes during the test: every query
      // counted below is the scrapes' own, so the answer is exactly none, however busy the machine.
      const quiet = await Harness.start({ metricsRefreshMs: 3_600_000 });
      try {
        const scrape = async () => parseExposition(await (await fetch(`${quiet.baseUrl}/metrics`)).text());
        const received = async () => sampleValue(await scrape(), 'forny_messages', { direction: 'in', channel: 'sms', kind: 'command', status: 'received' }) ?? 0;
        await quiet.refreshMetrics();
        const before = await received();

        let queries = 0;
        const count = () => (queries += 1);
        quiet.deps.db.on('query', count);
        try {
          await scrape();
          await scrape();
        } finally {
          quiet.deps.db.off('query', count);
        }
        expect(queries).to.equal(0);

        await quiet.text(KAREN, 'HBK FORNY ALLE');
        expect(await received()).to.equal(before); // the cache, until the refresh
        await quiet.refreshMetrics();
        expect(await received()).to.equal(before + 1);
      } finally {
        await quiet.stop();
      }
    });

    it('refreshes every 15 s in production (SPEC §7: results at most 15 s old)', () => {
      expect(METRICS_REFRESH_MS).to.equal(15_000);
    });
  });
});
