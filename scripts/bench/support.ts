/**
 * What every benchmark is built from: an isolated forny (temp SQLite file, a queue prefix of its
 * own on the shared Redis, silent logs), cleaned up whatever happens, plus timing and printing.
 * Redis is BENCH_REDIS_URL or redis://127.0.0.1:6379; only this run's keys are ever deleted.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import twilio from 'twilio';
import { migrateToLatest } from '../../db/knexfile.js';
import { startWorkers, type RunningWorkers } from '../../jobs/start-workers.js';
import type { Clock } from '../../src/clock.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createDeps, redisReady, type Deps } from '../../src/deps.js';
import { createLogger } from '../../src/logger.js';
import type { OutgoingSms, SentSms, SmsTransport } from '../../src/sms/transport.js';
import { deleteQueueKeys } from '../../test/helpers/harness.js';

export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const BENCH_PUBLIC_BASE_URL = 'https://forny.bench';

/** Cleanups still to run; SIGINT/SIGTERM runs them too, so an interrupted run leaves nothing behind. */
const pending = new Set<() => Promise<void>>();

export async function runPendingCleanups(): Promise<void> {
  for (const cleanup of [...pending].reverse()) {
    pending.delete(cleanup);
    await cleanup().catch(() => undefined);
  }
}

/** A clock running at real speed whose reading can be moved (to the evening, to just before 08:45). */
export class ShiftableClock implements Clock {
  #offset = 0;

  now(): Date {
    return new Date(Date.now() + this.#offset);
  }

  /** From now on the application clock reads `instant`, and runs on. */
  setNow(instant: Date): void {
    this.#offset = instant.getTime() - Date.now();
  }

  /** performance.now() at which the application clock reads `instant`. */
  performanceAt(instant: Date): number {
    return performance.now() + (instant.getTime() - this.now().getTime());
  }
}

/** One isolated installation: its config, deps, (optionally) workers, and the way to remove it all. */
export interface BenchInstall {
  readonly config: Config;
  readonly deps: Deps;
  /** The real BullMQ workers (no reconciler); closed by dispose. */
  startWorkers(): RunningWorkers;
  dispose(): Promise<void>;
}

export interface InstallOptions {
  /** Extra environment for loadConfig (SMS_RATE_PER_SECOND, FAKE_NOW, …). */
  readonly env?: Readonly<Record<string, string>>;
  readonly clock?: Clock;
  readonly sms?: SmsTransport;
}

export async function createInstall(name: string, options: InstallOptions = {}): Promise<BenchInstall> {
  const dir = mkdtempSync(join(tmpdir(), `forny-bench-${name}-`));
  const prefix = `forny-bench-${randomBytes(6).toString('hex')}`;
  let deps: Deps | undefined;
  let workers: RunningWorkers | undefined;
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    pending.delete(dispose);
    try {
      const running = workers;
      workers = undefined;
      await running?.close(2000);
      await deps?.close();
    } finally {
      await deleteQueueKeys(BENCH_REDIS_URL, prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  };
  pending.add(dispose);
  try {
    const config = loadConfig({
      DATABASE_URL: `sqlite:${join(dir, 'forny.sqlite')}`,
      REDIS_URL: BENCH_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PUBLIC_BASE_URL: BENCH_PUBLIC_BASE_URL,
      SMS_TRANSPORT: 'sandbox',
      ADMIN_PASSWORD: 'bench-password-not-secret',
      RECONCILE_INTERVAL_MS: '3600000',
      LOG_LEVEL: 'silent',
      ...options.env,
    });
    deps = createDeps(config, {
      logger: createLogger('silent'),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.sms ? { sms: options.sms } : {}),
    });
    await migrateToLatest(deps.db);
    if (!(await redisReady(deps.redis, 5000))) throw new Error(`Redis does not answer at ${BENCH_REDIS_URL}`);
    const created = deps;
    const install: BenchInstall = {
      config,
      deps: created,
      startWorkers() {
        workers = startWorkers(created, { reconcile: false });
        return workers;
      },
      dispose,
    };
    return install;
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * An SMS transport around another one that notes (performance.now()) when each send started and
 * returned, and to whom, for all of them (the sandbox keeps only the last thousand).
 */
export interface RecordingTransport extends SmsTransport {
  /** When each send was handed to the provider (the SMS leaves forny), in call order. */
  readonly starts: number[];
  /** When each send returned, in completion order, with recipients and sids in the same order. */
  readonly times: number[];
  readonly recipients: string[];
  readonly sids: string[];
}

export function recordingTransport(inner: SmsTransport): RecordingTransport {
  const starts: number[] = [];
  const times: number[] = [];
  const recipients: string[] = [];
  const sids: string[] = [];
  return {
    ...inner, // whatever else the transport offers (look-ups) is the inner one's
    starts,
    times,
    recipients,
    sids,
    async send(sms: OutgoingSms): Promise<SentSms> {
      starts.push(performance.now());
      const sent = await inner.send(sms);
      times.push(performance.now());
      recipients.push(sms.to);
      sids.push(sent.sid);
      return sent;
    },
  };
}

/** Polls until `probe` is true; false after `timeoutMs`. */
export async function waitFor(probe: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((wake) => setTimeout(wake, ms));

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

/** Runs `work` over `items` with at most `limit` at a time. */
export async function inParallel<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      await work(items[index] as T, index);
    }
  });
  await Promise.all(lanes);
}

export interface MemorySnapshot {
  readonly rss: number;
  readonly heapUsed: number;
}

/** The garbage collector, made callable without --expose-gc (a known V8 idiom), so heap numbers are what is retained. */
const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/** Memory after a full garbage collection. */
export function memory(): MemorySnapshot {
  collectGarbage();
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed };
}

export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
export const ms = (value: number) => (value >= 100 ? `${value.toFixed(0)} ms` : value >= 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(2)} ms`);
export const perSecond = (value: number) => `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}/s`;
export const ratio = (value: number) => value.toFixed(2);

/** One printed result: a name, what was measured, against what, and whether its checks held. */
export interface BenchLine {
  readonly name: string;
  readonly text: string;
  /** undefined: informational, no check. */
  readonly ok?: boolean;
  /** Detail printed under the line. */
  readonly notes?: readonly string[];
}

export function write(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function printLine(line: BenchLine): void {
  const verdict = line.ok === undefined ? '' : line.ok ? '  OK' : '  FAIL';
  write(`${line.name.padEnd(22)} ${line.text}${verdict}`);
  for (const text of line.notes ?? []) note(text);
}

/** Detail under a result line (checks, caveats). */
export function note(text: string): void {
  write(`${' '.repeat(23)}· ${text}`);
}

/**
 * Texts `HBK FORNY ALLE` from `number` as Twilio would: a signed webhook with a fresh MessageSid.
 * Returns the HTTP status (the caller counts anything but 200 as a problem).
 */
export async function postRenewAll(baseUrl: string, authToken: string, number: string): Promise<number> {
  const params = { MessageSid: `SM${randomBytes(16).toString('hex')}`, AccountSid: `AC${'0'.repeat(32)}`, From: number, To: '1910', Body: 'HBK FORNY ALLE', NumMedia: '0' };
  const signature = twilio.getExpectedTwilioSignature(authToken, `${BENCH_PUBLIC_BASE_URL}/sms/inbound`, params);
  const response = await fetch(`${baseUrl}/sms/inbound`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params),
  });
  await response.text();
  return response.status;
}
