import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import twilio from 'twilio';
import type { FixtureInput } from '../../db/fixture.js';
import { migrateToLatest } from '../../db/knexfile.js';
import { loadFixture } from '../../db/load-fixture.js';
import { reconcile } from '../../jobs/reconcile.js';
import { startWorkers, type RunningWorkers } from '../../jobs/start-workers.js';
import { ManualClock } from '../../src/clock.js';
import { loadConfig, type Config } from '../../src/config.js';
import { configuredSecrets, createDeps, redisReady, type Deps } from '../../src/deps.js';
import type { LockoutOptions } from '../../src/http/basic-auth.js';
import { HTTP_TIMEOUTS, serve, type HttpTimeouts, type Serving } from '../../src/http/serve.js';
import type { LibrarySystem } from '../../src/library/library-system.js';
import { createLogger } from '../../src/logger.js';
import { FakeTwilio } from './fake-twilio.js';

export const PUBLIC_BASE_URL = 'https://forny.test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface HarnessOptions {
  /** Extra environment for loadConfig (SMS_SEND_WINDOW, SMS_REPLIES_OUTSIDE_WINDOW, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** LIBRARY_SYSTEM_URL (SPEC §10): a `sip2://` URL to the simulator; the embedded system by default. */
  readonly libraryUrl?: string;
  /** Where the manual clock starts; inside the window on a weekday by default. */
  readonly now?: string;
  /** Start BullMQ workers (real Redis); without them tests call processors directly. */
  readonly workers?: boolean;
  /** Also run the reconciler in the workers (its timer is off; tests call `workers.reconcileNow()`). */
  readonly reconcile?: boolean;
  readonly fixture?: FixtureInput;
  /** A database URL instead of a temp SQLite file (the PostgreSQL suite). */
  readonly databaseUrl?: string;
  /** The server's time-outs; the production ones by default. */
  readonly timeouts?: HttpTimeouts;
  /** The login lockout's delays; short ones by default, so tests that fail logins stay quick. */
  readonly lockout?: Partial<LockoutOptions>;
  /** Where the server listens (a test of non-loopback clients uses 0.0.0.0). */
  readonly host?: string;
  /** How often /metrics figures are refreshed in the background; production's 15 s by default. */
  readonly metricsRefreshMs?: number;
  /** Where log lines go (a test reading the log); silent by default. */
  readonly log?: { readonly level: string; readonly destination: NodeJS.WritableStream };
  /** The library system instead of the configured one (one that fails, say). */
  readonly library?: LibrarySystem;
}

/** The lockout as production has it, with delays short enough for tests. */
export const TEST_LOCKOUT: Partial<LockoutOptions> = { firstDelayMs: 20, maxDelayMs: 200 };

/** Deletes this test's keys only: other tests and other installs share the Redis. */
export async function deleteQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined); // a Redis a test has stopped has nothing left to clean
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // Nothing to delete in a Redis that is gone.
  } finally {
    redis.disconnect();
  }
}

/**
 * The real app for one test: a temp SQLite file, a unique queue prefix on the real Redis, a
 * loopback Twilio, a manual clock, and (optionally) the real workers.
 */
export class Harness {
  private http: Serving | undefined;
  private dir: string | undefined;
  workers: RunningWorkers | undefined;
  baseUrl = '';

  private constructor(
    readonly config: Config,
    readonly deps: Deps,
    readonly clock: ManualClock,
    readonly twilio: FakeTwilio,
  ) {}

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const fake = await new FakeTwilio().start();
    const dir = options.databaseUrl ? undefined : mkdtempSync(join(tmpdir(), 'forny-test-'));
    const config = loadConfig({
      DATABASE_URL: options.databaseUrl ?? `sqlite:${join(dir ?? '', 'forny.sqlite')}`,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: `forny-test-${randomBytes(6).toString('hex')}`,
      PUBLIC_BASE_URL,
      TWILIO_ACCOUNT_SID: fake.accountSid,
      TWILIO_AUTH_TOKEN: fake.authToken,
      TWILIO_API_BASE_URL: fake.url,
      ADMIN_USER: 'operator',
      ADMIN_PASSWORD: 'correct-horse-battery',
      SEND_RETRY_DELAY_MS: '20',
      RECONCILE_INTERVAL_MS: '3600000',
      LOG_LEVEL: 'silent',
      ...(options.libraryUrl ? { LIBRARY_SYSTEM_URL: options.libraryUrl } : {}),
      ...options.env,
    });
    const clock = new ManualClock(options.now ?? '2026-12-01T10:00:00+01:00');
    const logger = options.log
      ? createLogger(options.log.level, options.log.destination, { secrets: configuredSecrets(config) })
      : createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
    const deps = createDeps(config, { clock, logger, ...(options.library ? { librarySystems: { default: options.library } } : {}) });
    const harness = new Harness(config, deps, clock, fake);
    harness.dir = dir;
    await migrateToLatest(deps.db);
    await redisReady(deps.redis, 5000);
    if (options.fixture) await loadFixture(deps.db, options.fixture, clock.now());
    if (options.workers) harness.workers = startWorkers(deps, { reconcile: options.reconcile ?? false });
    harness.http = await serve(deps, {
      port: 0,
      host: options.host ?? '127.0.0.1',
      timeouts: options.timeouts ?? HTTP_TIMEOUTS,
      app: { lockout: options.lockout ?? TEST_LOCKOUT },
      ...(options.metricsRefreshMs ? { metrics: { refreshMs: options.metricsRefreshMs } } : {}),
    });
    harness.baseUrl = harness.http.url.replace('0.0.0.0', '127.0.0.1');
    return harness;
  }

  /** The HTTP server (its address, its connections). */
  get server() {
    if (!this.http) throw new Error('harness not started');
    return this.http.server;
  }

  /**
   * Moves the manual clock to a window's opening and does what the real clock would have by then:
   * the reconciler's tick before it gives the night's notices their send-sms jobs, and every
   * delayed send-sms job due wakes, all before the workers look (BullMQ wakes jobs due at once
   * together, in the order written).
   */
  async windowOpens(at: string): Promise<void> {
    // The last tick before the opening (within what the reconciler looks ahead).
    this.clock.set(new Date(Date.parse(at) - Math.min(60_000, this.config.jobs.reconcileIntervalMs)).toISOString());
    await reconcile(this.deps);
    this.clock.set(at);
    const queue = this.deps.queues.sendSms;
    await queue.pause();
    try {
      const delayed = await queue.getDelayed();
      for (const job of delayed.sort((a, b) => a.data.outboundId - b.data.outboundId)) await job.promote();
    } finally {
      await queue.resume();
    }
  }

  /** Reads the /metrics figures now instead of waiting for the background refresh. */
  async refreshMetrics(): Promise<void> {
    await this.http?.refreshMetrics();
  }

  async stop(): Promise<void> {
    await this.workers?.close(2000);
    const closed = this.http?.close();
    this.http?.server.closeAllConnections();
    await closed;
    await this.deps.close();
    await this.twilio.stop();
    await deleteQueueKeys(this.config.redisUrl, this.config.queuePrefix);
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** POSTs a form to the app, signed as Twilio signs it (for `signedUrl`, by default the public URL + path). */
  async signedPost(
    path: string,
    params: Record<string, string>,
    options: { signedUrl?: string; authToken?: string; signature?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const signature =
      options.signature === undefined
        ? twilio.getExpectedTwilioSignature(options.authToken ?? this.twilio.authToken, options.signedUrl ?? `${PUBLIC_BASE_URL}${path}`, params)
        : options.signature;
    return fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(signature === null ? {} : { 'x-twilio-signature': signature }),
        ...options.headers,
      },
      body: new URLSearchParams(params),
    });
  }

  /** Texts forny as a patron would (through Twilio): a signed inbound webhook. */
  async text(from: string, body: string, messageSid = newMessageSid()): Promise<{ messageSid: string; response: Response }> {
    const response = await this.signedPost('/sms/inbound', { MessageSid: messageSid, AccountSid: this.twilio.accountSid, From: from, To: '1910', Body: body, NumMedia: '0' });
    return { messageSid, response };
  }

  /** The gateway operator's login (ADMIN_USER), as an Authorization header. */
  get operatorAuthorization(): string {
    return `Basic ${Buffer.from(`${this.config.admin.user}:${this.config.admin.password}`).toString('base64')}`;
  }

  /** GET with the operator login: the status and the text (a dashboard page). */
  async page(path: string): Promise<{ status: number; text: string }> {
    const response = await fetch(`${this.baseUrl}${path}`, { headers: { authorization: this.operatorAuthorization } });
    return { status: response.status, text: await response.text() };
  }

  /** GET on the operators' API with the operator login; returns status and parsed JSON. */
  async api<T = unknown>(path: string): Promise<{ status: number; body: T }> {
    const { status, text } = await this.page(path);
    return { status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** The readiness probe, as a load balancer reads it. */
  async readyz(): Promise<{ status: number; text: string }> {
    const response = await fetch(`${this.baseUrl}/readyz`);
    return { status: response.status, text: await response.text() };
  }

  /** Posts a signed delivery receipt, as Twilio would. */
  deliver(sid: string, status: string, errorCode?: string): Promise<number> {
    return this.twilio.deliver(sid, status, {
      publicStatusUrl: `${PUBLIC_BASE_URL}/sms/status`,
      localStatusUrl: `${this.baseUrl}/sms/status`,
      ...(errorCode ? { errorCode } : {}),
    });
  }
}

/** The overview's line on the library system, its tags taken out. */
export const librarySystemLine = (page: string): string | undefined => /<p id="library-system"[^>]*>(.*?)<\/p>/s.exec(page)?.[1]?.replace(/<[^>]+>/g, '');

export const newMessageSid = () => `SM${randomBytes(16).toString('hex')}`;

/** Polls `probe` until it returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((wake) => setTimeout(wake, 25));
  }
}

/** The value, or a failed test naming what was missing (for rows a test expects to exist). */
export function found<T>(value: T | undefined | null, what = 'row'): T {
  if (value === undefined || value === null) throw new Error(`expected ${what} to exist`);
  return value;
}

/** The error a promise rejects with; fails the test when it resolves instead. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}
