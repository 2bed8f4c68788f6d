/**
 * `burst`: 2,000 patrons text HBK FORNY ALLE at once (signed webhooks, 32 at a time, real workers,
 * sandbox SMS with the limiter out of the way), timed from the first POST to the last reply sent;
 * against BullMQ's own no-op add-and-process of the same number of jobs on the same Redis.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { createApp } from '../../src/http/create-app.js';
import { createSandboxTransport } from '../../src/sms/sandbox.js';
import { deleteQueueKeys } from '../../test/helpers/harness.js';
import { benchMobile, writeLibrary } from './library.js';
import { NOW, renewalLibrary } from './renew-all.js';
import { BENCH_REDIS_URL, createInstall, inParallel, ms, percentile, perSecond, postRenewAll, ratio, recordingTransport, waitFor, type BenchLine } from './support.js';

export interface BurstPlan {
  readonly patrons: number;
  readonly connections: number;
}

/** BullMQ alone: add `count` jobs as concurrent single adds and process them with a no-op worker. */
async function bullmqNoOp(count: number, connections: number): Promise<{ perSecond: number; cpuMs: number }> {
  const prefix = `forny-bench-${randomBytes(6).toString('hex')}`;
  const connection = { url: BENCH_REDIS_URL };
  const queue = new Queue('noop', { connection, prefix });
  let done = 0;
  const worker = new Worker('noop', async () => undefined, { connection, prefix, concurrency: 50 });
  worker.on('completed', () => (done += 1));
  try {
    await worker.waitUntilReady();
    const start = performance.now();
    const cpuBefore = process.cpuUsage();
    await inParallel(
      Array.from({ length: count }, (_, index) => index),
      connections,
      async (index) => {
        await queue.add('noop', { index }, { jobId: `j${index}` });
      },
    );
    await waitFor(() => done >= count, 60_000, 5);
    const cpu = process.cpuUsage(cpuBefore);
    return { perSecond: (count / (performance.now() - start)) * 1000, cpuMs: (cpu.user + cpu.system) / 1000 / count };
  } finally {
    await worker.close();
    await queue.close();
    await deleteQueueKeys(BENCH_REDIS_URL, prefix);
  }
}

export async function benchBurst(plan: BurstPlan): Promise<BenchLine> {
  const sms = recordingTransport(createSandboxTransport());
  const install = await createInstall('burst', { sms, env: { FAKE_NOW: NOW, SMS_RATE_PER_SECOND: '5000' } });
  let server: Server | undefined;
  try {
    const { deps, config } = install;
    const count = plan.patrons;
    await writeLibrary(deps.db, renewalLibrary(count), deps.clock.now());
    const app = createApp(deps);
    server = await new Promise<Server>((resolve) => {
      const started = app.listen(0, '127.0.0.1', () => resolve(started));
    });
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    install.startWorkers();

    const problems: string[] = [];
    const cpuBefore = process.cpuUsage();
    const postedAt = new Map<string, number>();
    const start = performance.now();
    await inParallel(
      Array.from({ length: count }, (_, index) => benchMobile(index)),
      plan.connections,
      async (number) => {
        postedAt.set(number, performance.now());
        const status = await postRenewAll(baseUrl, config.sms.authToken, number);
        if (status !== 200) problems.push(`webhook answered ${status}`);
      },
    );
    const postsMs = performance.now() - start;
    if (!(await waitFor(() => sms.times.length >= count, 120_000, 10))) problems.push(`only ${sms.times.length} of ${count} replies sent within 120 s`);
    const cpu = process.cpuUsage(cpuBefore);
    const cpuPerPatron = (cpu.user + cpu.system) / 1000 / count;
    const totalMs = (sms.times[sms.times.length - 1] ?? Number.NaN) - start;
    const rate = (count / totalMs) * 1000;
    if (new Set(sms.recipients).size !== sms.recipients.length) problems.push('a patron got two replies');
    const latencies = sms.recipients.map((to, index) => (sms.times[index] ?? Number.NaN) - (postedAt.get(to) ?? Number.NaN));

    const noop = await bullmqNoOp(count, plan.connections);
    return {
      name: 'burst',
      text:
        `${count} patrons in ${ms(totalMs)} ${perSecond(rate).padStart(7)} cpu ${ms(cpuPerPatron)}/patron  vs  bullmq no-op ${perSecond(noop.perSecond)} cpu ${ms(noop.cpuMs)}/job  ratio ${ratio(rate / noop.perSecond)}  ` +
        `(POST→reply p50 ${ms(percentile(latencies, 50))} p95 ${ms(percentile(latencies, 95))})`,
      ok: problems.length === 0,
      notes: [`signed webhooks ${plan.connections} at a time, all answered after ${ms(postsMs)}; web, workers and load in one process; sandbox SMS`, ...problems.slice(0, 5)],
    };
  } finally {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await install.dispose();
  }
}
