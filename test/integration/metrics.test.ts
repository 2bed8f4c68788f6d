import { expect } from 'chai';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrateToLatest } from '../../db/knexfile.js';
import { loadConfig } from '../../src/config.js';
import { createDeps, type Deps } from '../../src/deps.js';
import { createApp } from '../../src/http/create-app.js';
import { createMetrics } from '../../src/http/metrics.js';
import { createLogger } from '../../src/logger.js';
import { EVERY_RULE_TODAY, KAREN, OTHER_PATRON, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness } from '../helpers/harness.js';
import { parseExposition, sampleValue, type Family } from '../helpers/prometheus-text.js';

/** Scrapes; given a harness, after refreshing the cached figures (else they may be up to 15 s old). */
const scrape = async (target: Harness | string) => {
  if (typeof target !== 'string') await target.refreshMetrics();
  const baseUrl = typeof target === 'string' ? target : target.baseUrl;
  const response = await fetch(`${baseUrl}/metrics`);
  expect(response.status).to.equal(200);
  expect(response.headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(await response.text());
};

const labelValues = (families: Map<string, Family>, name: string, label: string) => new Set((families.get(name)?.samples ?? []).map((sample) => sample.labels[label]));

describe('/metrics', function () {
  describe('by day', () => {
    let h: Harness;
    let messageSid: string;
    before(async () => {
      h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
      ({ messageSid } = await h.text(KAREN, 'HBK FORNY ALLE'));
      await eventually(async () => (await h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'sent' }).first()) !== undefined);
    });
    after(async () => h.stop());

    it('is one valid exposition with the process metrics and every queue by state', async () => {
      const families = await scrape(h);
      expect(families.get('process_cpu_seconds_total')?.type).to.equal('counter');
      expect(families.get('forny_queue_jobs')?.type).to.equal('gauge');
      expect(labelValues(families, 'forny_queue_jobs', 'queue')).to.deep.equal(new Set(['renew-all', 'sms-command', 'send-sms', 'send-email', 'reminders']));
      expect(labelValues(families, 'forny_queue_jobs', 'state')).to.deep.equal(new Set(['waiting', 'active', 'delayed', 'failed', 'completed']));
      expect(sampleValue(families, 'forny_queue_jobs', { queue: 'renew-all', state: 'completed' })).to.equal(1);
      // The reply left with the renew-all job (due at once, the rate had room): no send-sms job.
      expect(sampleValue(families, 'forny_queue_jobs', { queue: 'send-sms', state: 'completed' })).to.equal(0);
    });

    it('counts messages by direction, channel, kind and status, and renewals by outcome and reason', async () => {
      const families = await scrape(h);
      expect(sampleValue(families, 'forny_messages', { direction: 'in', channel: 'sms', kind: 'command', status: 'processed' })).to.equal(1);
      expect(sampleValue(families, 'forny_messages', { direction: 'out', channel: 'sms', kind: 'reply', status: 'sent' })).to.equal(1);
      const recorded = await h.deps.db('renewal_results').groupBy('outcome', 'reason').select<{ outcome: string; reason: string | null; n: unknown }[]>('outcome', 'reason', h.deps.db.raw('count(*) as n'));
      expect(recorded.some((row) => row.reason === 'on_reserve')).to.equal(true);
      for (const row of recorded) {
        expect(sampleValue(families, 'forny_renewal_results', { outcome: row.outcome, reason: row.reason ?? 'none' }), `${row.outcome}/${row.reason}`).to.equal(Number(row.n));
      }
      expect(families.get('forny_renewal_results')?.samples).to.have.length(recorded.length);
    });

    it('times requests by route pattern and status, never by raw URL', async () => {
      await h.api(`/api/inbound/${messageSid}`);
      await h.api('/api/inbound/SM00000000000000000000000000000000'); // 404 from inside the route
      await fetch(`${h.baseUrl}/no/such/${messageSid}`);
      const families = await scrape(h);
      const count = (route: string, status: string) => sampleValue(families, 'forny_http_request_duration_seconds_count', { method: 'GET', route, status_code: status });
      expect(families.get('forny_http_request_duration_seconds')?.type).to.equal('histogram');
      expect(sampleValue(families, 'forny_http_request_duration_seconds_count', { method: 'POST', route: '/sms/inbound', status_code: '200' })).to.equal(1);
      expect(count('/api/inbound/:messageSid', '200')).to.equal(1);
      expect(count('/api/inbound/:messageSid', '404')).to.equal(1);
      expect(count('unmatched', '404')).to.equal(1);
      const routes = [...labelValues(families, 'forny_http_request_duration_seconds_count', 'route')].join(' ');
      expect(routes).not.to.contain('SM');
    });

    it('counts failed sends by error code', async () => {
      h.twilio.failNext({ kind: 'http', status: 400, code: 21211 });
      await h.text(OTHER_PATRON, 'HJÆLP');
      await eventually(async () => (await h.deps.db('outbound_messages').where({ status: 'failed' }).first()) !== undefined);
      const families = await scrape(h);
      expect(sampleValue(families, 'forny_send_errors', { channel: 'sms', code: '21211' })).to.equal(1);
      expect(sampleValue(families, 'forny_messages', { direction: 'out', kind: 'reply', status: 'failed' })).to.equal(1);
      expect(sampleValue(families, 'forny_ready', { check: 'redis' })).to.equal(1);
    });

    it('lets one process build several apps, each with its own registry', async () => {
      const metrics = createMetrics(h.deps);
      const again = createApp(h.deps, { metrics });
      const server = await new Promise<Server>((resolve) => {
        const listening = again.listen(0, '127.0.0.1', () => resolve(listening));
      });
      try {
        const families = await scrape(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
        expect(sampleValue(families, 'forny_http_request_duration_seconds_count', { method: 'POST', route: '/sms/inbound', status_code: '200' })).to.equal(undefined);
      } finally {
        metrics.stop();
        server.close();
      }
    });
  });

  describe('at night', () => {
    let h: Harness;
    before(async () => {
      h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T22:00:00+01:00`, env: { SMS_SEND_WINDOW: '08:45-20:00' } });
    });
    after(async () => h.stop());

    it('shows the reply waiting for the window, in the gauge and on the overview', async () => {
      await h.text(KAREN, 'HBK FORNY ALLE');
      await eventually(async () => (await h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'scheduled' }).first()) !== undefined);
      const families = await scrape(h);
      expect(sampleValue(families, 'forny_sms_waiting_for_window')).to.equal(1);
      expect(sampleValue(families, 'forny_sms_due_unsent')).to.equal(0);
      expect(sampleValue(families, 'forny_queue_jobs', { queue: 'send-sms', state: 'delayed' })).to.equal(1);
      expect(sampleValue(families, 'forny_messages', { direction: 'out', kind: 'reply', status: 'scheduled' })).to.equal(1);

      const overview = await (await fetch(`${h.baseUrl}/admin`, { headers: { authorization: `Basic ${Buffer.from('operator:correct-horse-battery').toString('base64')}` } })).text();
      expect(overview).to.match(/<a id="waiting-for-window" href="[^"]*">1<\/a>/);
      expect(overview).to.contain('Vinduet åbner onsdag 2. december kl. 08:45.');
    });

    it('reports SMS whose time has come but that have not left, and for how long', async () => {
      h.clock.set('2026-12-02T09:15:00+01:00'); // the worker's delayed job still waits on the real clock
      const families = await scrape(h);
      expect(sampleValue(families, 'forny_sms_waiting_for_window')).to.equal(0);
      expect(sampleValue(families, 'forny_sms_due_unsent')).to.equal(1);
      expect(sampleValue(families, 'forny_sms_oldest_due_seconds')).to.equal(30 * 60);
    });
  });

  describe('with Redis down', () => {
    let deps: Deps;
    let server: Server;
    let baseUrl: string;
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'forny-test-'));
      const config = loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'forny.sqlite')}`, REDIS_URL: 'redis://127.0.0.1:1', ADMIN_USER: 'operator', ADMIN_PASSWORD: 'correct-horse-battery', LOG_LEVEL: 'silent' });
      deps = createDeps(config, { logger: createLogger('silent') });
      await migrateToLatest(deps.db);
      server = await new Promise<Server>((resolve) => {
        const listening = createApp(deps).listen(0, '127.0.0.1', () => resolve(listening));
      });
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      server.close();
      await deps.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('answers /readyz with 503 naming Redis, and /healthz with 200', async () => {
      expect((await fetch(`${baseUrl}/healthz`)).status).to.equal(200);
      const ready = await fetch(`${baseUrl}/readyz`);
      expect(ready.status).to.equal(503);
      const body = (await ready.json()) as { status: string; checks: { database: string; redis: string } };
      expect(body.status).to.equal('not ready');
      expect(body.checks.database).to.equal('ok');
      expect(body.checks.redis).to.match(/^down: /);
    });

    it('still answers /metrics, without the queue gauges, and says Redis is not ready', async () => {
      const families = await scrape(baseUrl);
      expect(families.get('forny_queue_jobs')?.samples).to.deep.equal([]);
      expect(sampleValue(families, 'forny_ready', { check: 'redis' })).to.equal(0);
      expect(sampleValue(families, 'forny_ready', { check: 'database' })).to.equal(1);
      expect(sampleValue(families, 'forny_sms_waiting_for_window')).to.equal(0);
    });

    it('still shows the dashboard, saying what it cannot show, and refuses retries with 503', async () => {
      const login = { authorization: `Basic ${Buffer.from('operator:correct-horse-battery').toString('base64')}` };
      const overview = await fetch(`${baseUrl}/admin`, { headers: login });
      expect(overview.status).to.equal(200);
      expect(await overview.text()).to.contain('Redis svarer ikke, så køernes tal kan ikke vises.');

      const stamp = '2026-12-01T09:00:00.000Z';
      const [row] = await deps.db('outbound_messages')
        .insert({ channel: 'sms', kind: 'reply', purpose: 'help', to_address: KAREN, from_address: '1910', body: 'Hjælp', status: 'failed', send_after: stamp, error_code: '30008', created_at: stamp, updated_at: stamp })
        .returning('id');
      const id = Number(typeof row === 'object' ? row.id : row);
      const failures = await (await fetch(`${baseUrl}/admin/failures`, { headers: login })).text();
      expect(failures).to.contain('Redis svarer ikke, så de fejlede jobs kan ikke vises.');
      const token = new RegExp(`action="/admin/failures/messages/${id}/retry"[^>]*><input type="hidden" name="_csrf" value="([^"]+)"`).exec(failures)?.[1] ?? '';
      const retry = await fetch(`${baseUrl}/admin/failures/messages/${id}/retry`, {
        method: 'POST',
        headers: { ...login, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ _csrf: token }),
      });
      expect(retry.status).to.equal(503);
      expect(await retry.text()).to.contain('Redis svarer ikke');
      expect((await deps.db('outbound_messages').where({ id }).first())?.status).to.equal('failed');
    });
  });
});
