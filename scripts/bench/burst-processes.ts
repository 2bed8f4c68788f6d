/**
 * `burst` as an operator runs forny: compiled `web` and `worker` processes on one SQLite file (or
 * DATABASE_URL), a fixture loaded with `db:load`, Twilio on loopback over real HTTP. 1,980 patrons
 * (three loans each, two of them renewable) text HBK FORNY ALLE at once, 32 at a time; timed from
 * the first POST to the last reply accepted at the loopback Twilio.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DateTime } from 'luxon';
import { FakeTwilio } from '../../test/helpers/fake-twilio.js';
import { deleteQueueKeys } from '../../test/helpers/harness.js';
import { benchMobile } from './library.js';
import { webhookPoster } from './load.js';
import { cpuSeconds, freePort, runToEnd, startProcess, stopProcess } from './processes.js';
import { BENCH_PUBLIC_BASE_URL, BENCH_REDIS_URL, inParallel, ms, percentile, perSecond, waitFor } from './support.js';

export interface ProcessBurstPlan {
  readonly patrons: number;
  readonly connections: number;
  /** `web` processes, or 0 for one `start` process (web and workers together). */
  readonly webs: number;
  readonly workers: number;
  /** Extra node flags for the forny processes (`--cpu-prof` when profiling). */
  readonly nodeFlags?: readonly string[];
  readonly env?: Record<string, string>;
  /** After the burst, this many more patrons text one at a time, each after the last one's reply. */
  readonly atRest?: number;
}

export interface ProcessBurstResult {
  readonly perSecond: number;
  readonly totalMs: number;
  readonly postsMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly cpuMsPerPatron: { readonly web: number; readonly worker: number };
  /** One patron at a time with nothing else going on: POST to the reply at Twilio, median. */
  readonly atRestP50Ms: number | undefined;
  readonly problems: readonly string[];
}

/** Tuesday 10:00 in Copenhagen: inside the send window. */
const NOW = '2026-12-01T10:00:00+01:00';

/** Three loans a patron: due in 2 and 5 days (renewed), due in 20 (too soon): the reply is `2 af 3 lån`. */
function fixture(patrons: number): unknown {
  const today = DateTime.fromISO(NOW, { zone: 'Europe/Copenhagen' });
  const date = (days: number) => today.plus({ days }).toISODate() ?? '';
  const dues = [2, 5, 20];
  const all = Array.from({ length: patrons }, (_, index) => index);
  return {
    patrons: all.map((index) => ({ id: `p${index}`, cardNumber: `C${String(index).padStart(9, '0')}`, name: `Låner ${index}`, mobile: benchMobile(index), smsOptIn: true, email: null, emailOptIn: false })),
    titles: all.flatMap((index) => dues.map((_, n) => ({ id: `t${index}-${n}`, title: `Bog ${index}-${n}`, renewable: true }))),
    items: all.flatMap((index) => dues.map((_, n) => ({ id: `i${index}-${n}`, titleId: `t${index}-${n}`, barcode: `B${index}-${n}`, renewable: true }))),
    loans: all.flatMap((index) =>
      dues.map((due, n) => ({
        id: `l${index}-${n}`,
        patronId: `p${index}`,
        itemId: `i${index}-${n}`,
        kind: 'standard',
        loanPeriodDays: 28,
        borrowedOn: date(due - 28),
        dueDate: date(due),
        renewals: 0,
        owningLibrary: null,
      })),
    ),
  };
}

export async function runProcessBurst(plan: ProcessBurstPlan): Promise<ProcessBurstResult> {
  const dir = mkdtempSync(join(tmpdir(), 'forny-bench-burst-'));
  const prefix = `forny-bench-${randomBytes(6).toString('hex')}`;
  const twilio = await new FakeTwilio().start();
  const children: { role: 'web' | 'worker'; child: ChildProcess }[] = [];
  try {
    const env = {
      DATABASE_URL: `sqlite:${join(dir, 'forny.sqlite')}`,
      REDIS_URL: BENCH_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PUBLIC_BASE_URL: BENCH_PUBLIC_BASE_URL,
      TWILIO_ACCOUNT_SID: twilio.accountSid,
      TWILIO_AUTH_TOKEN: twilio.authToken,
      TWILIO_API_BASE_URL: twilio.url,
      SMS_RATE_PER_SECOND: '5000',
      FAKE_NOW: NOW,
      ADMIN_PASSWORD: 'bench-password-not-secret',
      LOG_LEVEL: 'info',
      ...plan.env,
    };
    const fixtureFile = join(dir, 'fixture.json');
    writeFileSync(fixtureFile, JSON.stringify(fixture(plan.patrons + (plan.atRest ?? 0))));
    await runToEnd(['dist/scripts/db-load.js', fixtureFile], env);

    const flags = plan.nodeFlags ?? [];
    const ports: number[] = [];
    if (plan.webs === 0) {
      const port = await freePort();
      ports.push(port);
      children.push({ role: 'web', child: await startProcess([...flags, 'scripts/run-compiled.js', 'start'], { ...env, PORT: String(port) }, /forny listening/) });
    }
    for (let i = 0; i < plan.webs; i++) {
      const port = await freePort();
      ports.push(port);
      children.push({ role: 'web', child: await startProcess([...flags, 'scripts/run-compiled.js', 'web'], { ...env, PORT: String(port) }, /forny listening/) });
    }
    for (let i = 0; i < plan.workers; i++) {
      children.push({ role: 'worker', child: await startProcess([...flags, 'scripts/run-compiled.js', 'worker'], env, /workers and scheduler only/) });
    }
    const cpuBefore = children.map(({ child }) => cpuSeconds(child.pid));

    const posters = ports.map((port) => webhookPoster({ port, connections: Math.ceil(plan.connections / ports.length), authToken: twilio.authToken, signedUrl: `${BENCH_PUBLIC_BASE_URL}/sms/inbound` }));
    const problems: string[] = [];
    const postedAt = new Map<string, number>();
    const start = performance.now();
    const startedAt = Date.now();
    await inParallel(
      Array.from({ length: plan.patrons }, (_, index) => index),
      plan.connections,
      async (index) => {
        const from = benchMobile(index);
        postedAt.set(from, Date.now());
        const status = await posters[index % posters.length]!.post({ MessageSid: `SM${randomBytes(16).toString('hex')}`, AccountSid: twilio.accountSid, From: from, To: '1910', Body: 'HBK FORNY ALLE', NumMedia: '0' });
        if (status !== 200) problems.push(`webhook answered ${status}`);
      },
    );
    const postsMs = performance.now() - start;
    if (!(await waitFor(() => twilio.messages.length >= plan.patrons, 120_000, 5))) problems.push(`only ${twilio.messages.length} of ${plan.patrons} replies reached Twilio within 120 s`);
    const last = Math.max(...twilio.messages.map((message) => message.createdAt.getTime()));
    const totalMs = last - startedAt;
    const cpu = children.map(({ child }, index) => cpuSeconds(child.pid) - (cpuBefore[index] ?? 0));
    const perRole = (role: 'web' | 'worker') => (1000 * children.reduce((sum, entry, index) => sum + (entry.role === role ? (cpu[index] ?? 0) : 0), 0)) / plan.patrons;
    if (new Set(twilio.messages.map((message) => message.to)).size !== twilio.messages.length) problems.push('a patron got two replies');
    const wrong = twilio.messages.filter((message) => !message.body.includes('2 af 3 lån'));
    if (wrong.length > 0) problems.push(`${wrong.length} replies do not say 2 af 3 lån, e.g. ${JSON.stringify(wrong[0]?.body)}`);
    const latencies = twilio.messages.map((message) => message.createdAt.getTime() - (postedAt.get(message.to) ?? Number.NaN));

    const atRest: number[] = [];
    for (let index = plan.patrons; index < plan.patrons + (plan.atRest ?? 0); index++) {
      const sent = twilio.messages.length;
      const posted = Date.now();
      await posters[index % posters.length]!.post({ MessageSid: `SM${randomBytes(16).toString('hex')}`, AccountSid: twilio.accountSid, From: benchMobile(index), To: '1910', Body: 'HBK FORNY ALLE', NumMedia: '0' });
      if (!(await waitFor(() => twilio.messages.length > sent, 10_000, 1))) problems.push(`patron ${index} at rest got no reply within 10 s`);
      atRest.push((twilio.messages[sent]?.createdAt.getTime() ?? Number.NaN) - posted);
    }
    for (const poster of posters) poster.close();
    return {
      perSecond: (plan.patrons / totalMs) * 1000,
      totalMs,
      postsMs,
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      cpuMsPerPatron: { web: perRole('web'), worker: perRole('worker') },
      atRestP50Ms: atRest.length > 0 ? percentile(atRest, 50) : undefined,
      problems,
    };
  } finally {
    for (const { child } of children.reverse()) await stopProcess(child);
    await twilio.stop();
    await deleteQueueKeys(BENCH_REDIS_URL, prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function describeProcessBurst(plan: ProcessBurstPlan, result: ProcessBurstResult): string {
  return (
    `${plan.patrons} patrons in ${ms(result.totalMs)} ${perSecond(result.perSecond).padStart(7)}  ` +
    (plan.webs === 0 ? `cpu ${ms(result.cpuMsPerPatron.web)} per patron  ` : `cpu web ${ms(result.cpuMsPerPatron.web)} worker ${ms(result.cpuMsPerPatron.worker)} per patron  `) +
    `(POST→reply p50 ${ms(result.p50Ms)} p95 ${ms(result.p95Ms)}${result.atRestP50Ms === undefined ? '' : `, one at a time at rest p50 ${ms(result.atRestP50Ms)}`}; ${plan.webs === 0 ? 'one npm start process' : `${plan.webs} web + ${plan.workers} worker processes`}; posts done after ${ms(result.postsMs)})`
  );
}
