/**
 * `webhook`: signed, unique inbound webhooks at 32 keep-alive connections against `npm run web`
 * (its own temp SQLite file and queue prefix, logs at info) vs a bare Express handler that only
 * parses the form, A B A B in one run. Prints req/s, p50/p99 and each server's RSS after its load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SANDBOX_AUTH_TOKEN } from '../../src/config.js';
import { deleteQueueKeys } from '../../test/helpers/harness.js';
import { postWebhooks, type LoadResult } from './load.js';
import { BENCH_PUBLIC_BASE_URL, BENCH_REDIS_URL, type BenchLine } from './support.js';

export interface WebhookPlan {
  readonly connections: number;
  /** Seconds of load per round; the rounds alternate forny, bare, forny, bare … */
  readonly seconds: number;
  readonly rounds: number;
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

/** Starts a TypeScript entry point in its own node (no tsx wrapper process, so the pid is the server's). */
async function startServer(script: string, env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 30 s: ${seen.slice(-500)}`)), 30_000);
    const look = (chunk: Buffer) => {
      if (seen.length < 100_000) seen += chunk.toString();
      if (ready.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', look);
    child.stderr?.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}: ${seen.slice(-500)}`));
    });
  });
  // Keep draining its output so a full pipe never stalls it.
  child.stdout?.removeAllListeners('data');
  child.stdout?.resume();
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

const rssMb = (pid: number | undefined): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
};

/** CPU seconds (user + system) the process has used so far: a cost per request that other load on the machine does not move. */
const cpuSeconds = (pid: number | undefined): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

export async function benchWebhook(plan: WebhookPlan): Promise<BenchLine> {
  const dir = mkdtempSync(join(tmpdir(), 'forny-bench-webhook-'));
  const prefix = `forny-bench-${randomBytes(6).toString('hex')}`;
  const children: ChildProcess[] = [];
  try {
    const [fornyPort, barePort] = await Promise.all([freePort(), freePort()]);
    const forny = await startServer(
      'scripts/web.ts',
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
    const bare = await startServer('scripts/bench/bare-express.ts', { PORT: String(barePort) }, /listening/);
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
    for (const child of children.reverse()) await stop(child);
    await deleteQueueKeys(BENCH_REDIS_URL, prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}
