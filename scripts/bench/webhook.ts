/**
 * `webhook`: signed, unique inbound webhooks at 32 keep-alive connections against `npm run web` (compiled: build first)
 * (its own temp SQLite file and queue prefix, logs at info) vs a bare Express handler that only
 * parses the form, A B A B in one run. Prints req/s, p50/p99 and each server's RSS after its load.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_AUTH_TOKEN } from '../../src/config.js';
import { deleteQueueKeys } from '../../test/helpers/harness.js';
import { postWebhooks, type LoadResult } from './load.js';
import { cpuSeconds, freePort, rssMb, startProcess, stopProcess } from './processes.js';
import { BENCH_PUBLIC_BASE_URL, BENCH_REDIS_URL, type BenchLine } from './support.js';

export interface WebhookPlan {
  readonly connections: number;
  /** Seconds of load per round; the rounds alternate forny, bare, forny, bare … */
  readonly seconds: number;
  readonly rounds: number;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

export async function benchWebhook(plan: WebhookPlan): Promise<BenchLine> {
  const dir = mkdtempSync(join(tmpdir(), 'forny-bench-webhook-'));
  const prefix = `forny-bench-${randomBytes(6).toString('hex')}`;
  const children: ChildProcess[] = [];
  try {
    const [fornyPort, barePort] = await Promise.all([freePort(), freePort()]);
    const forny = await startProcess(
      ['scripts/run-compiled.js', 'web'],
      {
        PORT: String(fornyPort),
        DATABASE_URL: `sqlite:${join(dir, 'forny.sqlite')}`,
        REDIS_URL: BENCH_REDIS_URL,
        QUEUE_PREFIX: prefix,
        PUBLIC_BASE_URL: BENCH_PUBLIC_BASE_URL,
        SMS_TRANSPORT: 'sandbox',
        ADMIN_PASSWORD: 'bench-password-not-secret',
        LOG_LEVEL: 'info',
      },
      /forny listening/,
    );
    children.push(forny);
    const bare = await startProcess(['--import', 'tsx', 'scripts/bench/bare-express.ts'], { PORT: String(barePort) }, /listening/);
    children.push(bare);

    const runs: { forny: LoadResult[]; bare: LoadResult[] } = { forny: [], bare: [] };
    const cpu = { forny: 0, bare: 0 };
    const measured = async (child: ChildProcess, side: 'forny' | 'bare', load: () => Promise<LoadResult>) => {
      const before = cpuSeconds(child.pid);
      const result = await load();
      cpu[side] += cpuSeconds(child.pid) - before;
      runs[side].push(result);
    };
    const base = { connections: plan.connections, seconds: plan.seconds, authToken: SANDBOX_AUTH_TOKEN, signedUrl: `${BENCH_PUBLIC_BASE_URL}/sms/inbound` };
    for (let round = 0; round < plan.rounds; round++) {
      await measured(forny, 'forny', () => postWebhooks({ ...base, port: fornyPort, sidPrefix: `${round}f${randomBytes(4).toString('hex')}` }));
      await measured(bare, 'bare', () => postWebhooks({ ...base, port: barePort, sidPrefix: `${round}b${randomBytes(4).toString('hex')}` }));
    }
    const fornyRss = rssMb(forny.pid);
    const bareRss = rssMb(bare.pid);
    const ratios = runs.forny.map((run, i) => run.perSecond / (runs.bare[i]?.perSecond ?? 1));
    const ratio = median(ratios);
    const refused = runs.forny.reduce((sum, run) => sum + run.refused, 0);
    const cpuPerRequest = (side: 'forny' | 'bare') => (1000 * cpu[side]) / runs[side].reduce((sum, run) => sum + run.requests, 0);
    const f = (side: 'forny' | 'bare') => {
      const results = runs[side];
      return `${median(results.map((r) => r.perSecond)).toFixed(0)}/s p50 ${median(results.map((r) => r.p50Ms)).toFixed(1)} ms p99 ${median(results.map((r) => r.p99Ms)).toFixed(1)} ms cpu ${cpuPerRequest(side).toFixed(2)} ms/req`;
    };
    return {
      name: 'webhook',
      text:
        `${plan.connections} conn  ${f('forny')} rss ${fornyRss.toFixed(0)} MB  vs  bare express ${f('bare')} rss ${bareRss.toFixed(0)} MB` +
        `  ratio ${ratio.toFixed(2)}  (median of ${plan.rounds} A/B pairs: ${ratios.map((r) => r.toFixed(2)).join(' ')}; refused ${refused})`,
      ok: refused === 0,
    };
  } finally {
    for (const child of children.reverse()) await stopProcess(child);
    await deleteQueueKeys(BENCH_REDIS_URL, prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}
