import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import twilio from 'twilio';
import type { FixtureInput } from '../../db/fixture.js';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';
import { loadFixture } from '../../db/load-fixture.js';
import { reconciledAtKey } from '../../jobs/reconcile.js';
import { QUEUE } from '../../src/queue/queues.js';
import { FakeTwilio } from '../helpers/fake-twilio.js';
import { deleteQueueKeys, eventually, newMessageSid, TEST_REDIS_URL } from '../helpers/harness.js';
import { freePort, FornyProcess } from '../helpers/processes.js';
import { RestartableRedis } from '../helpers/restartable-redis.js';
import { queuesSettled } from '../helpers/settled.js';

/*
 * Fault injection with real processes: `npm start` killed with SIGKILL mid-burst, stopped with
 * SIGTERM mid-burst, its queue keys flushed, its Redis stopped and started empty, Twilio failing on
 * command. Every case ends the same way: each message Twilio delivered is answered exactly once,
 * and each loan is renewed exactly once.
 */

const PATRONS = 30;
const PUBLIC_BASE_URL = 'https://forny.test';
const number = (i: number) => `+4564${String(i).padStart(6, '0')}`;

/** One patron per number, each with one loan that renews today (2026-12-01). */
function burstLibrary(): FixtureInput {
  const ids = Array.from({ length: PATRONS }, (_, i) => i);
  return {
    patrons: ids.map((i) => ({ id: `p${i}`, cardNumber: `c${i}`, name: `Låner ${i}`, mobile: number(i), smsOptIn: true })),
    titles: ids.map((i) => ({ id: `t${i}`, title: `Titel ${i}` })),
    items: ids.map((i) => ({ id: `i${i}`, titleId: `t${i}`, barcode: `b${i}` })),
    loans: ids.map((i) => ({ id: `l${i}`, patronId: `p${i}`, itemId: `i${i}`, kind: 'standard' as const, loanPeriodDays: 30, borrowedOn: '2026-11-03', dueDate: '2026-12-03' })),
  };
}

class Rig {
  readonly twilio = new FakeTwilio();
  readonly prefix = `forny-fault-${randomBytes(5).toString('hex')}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'forny-fault-'));
  readonly databaseUrl = `sqlite:${join(this.dir, 'forny.sqlite')}`;
  redisUrl = TEST_REDIS_URL;
  private ownRedis: RestartableRedis | undefined;
  port = 0;
  server: FornyProcess | undefined;
  /** Every message Twilio has delivered with a 200, by sid. */
  readonly acknowledged = new Map<string, string>();

  async setUp(): Promise<void> {
    await this.twilio.start();
    this.port = await freePort();
    const db = createKnex(this.databaseUrl);
    await migrateToLatest(db);
    await loadFixture(db, burstLibrary(), new Date('2026-12-01T09:00:00Z'));
    await db.destroy();
  }

  /** Runs forny against a redis-server of this test's own, which the test may stop and restart. */
  async useOwnRedis(): Promise<RestartableRedis> {
    this.ownRedis = await RestartableRedis.start();
    this.redisUrl = this.ownRedis.url;
    return this.ownRedis;
  }

  async start(fakeNow = '2026-12-01T10:00:00+01:00'): Promise<void> {
    this.server = FornyProcess.spawn('start.ts', {
      PORT: String(this.port),
      PUBLIC_BASE_URL,
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.prefix,
      TWILIO_ACCOUNT_SID: this.twilio.accountSid,
      TWILIO_AUTH_TOKEN: this.twilio.authToken,
      TWILIO_API_BASE_URL: this.twilio.url,
      ADMIN_PASSWORD: 'operator-password',
      FAKE_NOW: fakeNow,
      // Every loan is due 3 December: a scan for 7 December writes nothing (7 is the most allowed).
      REMINDER_DAYS_BEFORE: '6',
      RECONCILE_INTERVAL_MS: '500',
      SEND_RETRY_DELAY_MS: '50',
      SHUTDOWN_GRACE_MS: '5000',
      LOG_LEVEL: 'warn',
    });
    const server = this.server;
    await eventually(async () => {
      if (server.child.exitCode !== null) throw new Error(`forny exited at start:\n${server.stdout}\n${server.stderr}`);
      return (await fetch(`http://127.0.0.1:${this.port}/healthz`).catch(() => undefined))?.ok;
    }, 30_000, 'the server to listen');
  }

  /** Posts one signed inbound SMS as Twilio would; true when forny acknowledged it with 200. */
  async deliver(messageSid: string, from: string): Promise<boolean> {
    const params = { MessageSid: messageSid, AccountSid: this.twilio.accountSid, From: from, To: '1910', Body: 'HBK FORNY ALLE' };
    const signature = twilio.getExpectedTwilioSignature(this.twilio.authToken, `${PUBLIC_BASE_URL}/sms/inbound`, params);
    try {
      const response = await fetch(`http://127.0.0.1:${this.port}/sms/inbound`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params),
        signal: AbortSignal.timeout(10_000),
      });
      if (response.status === 200) this.acknowledged.set(messageSid, from);
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** Sends one message from every patron at once; returns the ones forny did not acknowledge. */
  async burst(onAcknowledged?: (count: number) => void): Promise<{ messageSid: string; from: string }[]> {
    const messages = Array.from({ length: PATRONS }, (_, i) => ({ messageSid: newMessageSid(), from: number(i) }));
    const missed: { messageSid: string; from: string }[] = [];
    await Promise.all(
      messages.map(async (message) => {
        if (await this.deliver(message.messageSid, message.from)) onAcknowledged?.(this.acknowledged.size);
        else missed.push(message);
      }),
    );
    return missed;
  }

  /** Twilio's retry: whatever forny did not acknowledge is delivered again, same MessageSid. */
  async redeliver(missed: readonly { messageSid: string; from: string }[]): Promise<void> {
    for (const message of missed) expect(await this.deliver(message.messageSid, message.from), message.messageSid).to.equal(true);
  }

  /** Each patron who wrote got exactly one reply, and each loan was renewed exactly once. */
  async expectEveryPatronAnsweredOnce(): Promise<void> {
    const senders = new Set(this.acknowledged.values());
    // A job a killed process held is handed on when its lock expires (10 s) and the next stall check runs (5 s).
    await eventually(() => [...senders].every((from) => this.twilio.messagesTo(from).length >= 1), 45_000, 'a reply to every patron');
    // A duplicate would come from a job still on its way or from a reconciliation: let both pass.
    await this.settled();
    const since = Date.now();
    await eventually(async () => Number(await this.redis().get(reconciledAtKey(this.prefix))) > since, 15_000, 'a reconciliation after the queues settled');
    await this.settled();
    for (const from of senders) {
      const replies = this.twilio.messagesTo(from);
      expect(replies.map((reply) => reply.body), from).to.deep.equal(['Helsingør Kommunes Biblioteker: 1 af 1 lån er fornyet.']);
    }
    const db = createKnex(this.databaseUrl);
    try {
      const loans = await db('loans').whereIn('patron_id', [...senders].map((from) => `p${Number(from.slice(5))}`)).select('id', 'renewals', 'due_date');
      for (const loan of loans) expect(loan, loan.id).to.include({ renewals: 1, due_date: '2027-01-02' });
    } finally {
      await db.destroy();
    }
  }

  private redisClient: Redis | undefined;
  private queueHandles: Queue[] = [];

  private redis(): Redis {
    this.redisClient ??= new Redis(this.redisUrl, { maxRetriesPerRequest: 1 });
    return this.redisClient;
  }

  /** Waits until forny's queues (read from outside the process, as an operator would) have nothing left to run. */
  private async settled(): Promise<void> {
    if (this.queueHandles.length === 0) {
      this.queueHandles = Object.values(QUEUE).map((name) => new Queue(name, { connection: this.redis(), prefix: this.prefix }));
    }
    await queuesSettled(this.queueHandles, { timeoutMs: 45_000 });
  }

  async tearDown(): Promise<void> {
    await Promise.all(this.queueHandles.map((queue) => queue.close()));
    this.redisClient?.disconnect();
    await this.server?.stop('SIGKILL');
    await this.twilio.stop();
    await deleteQueueKeys(this.redisUrl, this.prefix);
    await this.ownRedis?.dispose();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('fault injection (real processes)', function () {
  this.timeout(120_000);
  let rig: Rig;
  beforeEach(async () => {
    rig = new Rig();
    await rig.setUp();
  });
  afterEach(async () => rig.tearDown());

  it('kill -9 mid-burst, restart: every message answered once, every loan renewed once', async () => {
    await rig.start();
    let killed = false;
    const missed = await rig.burst((count) => {
      if (count >= PATRONS / 3 && !killed) {
        killed = true;
        rig.server?.child.kill('SIGKILL');
      }
    });
    await rig.server?.exited;
    await rig.start();
    await rig.redeliver(missed);
    await rig.expectEveryPatronAnsweredOnce();
  });

  it('SIGTERM mid-burst stops cleanly; after restart every message is answered once', async () => {
    await rig.start();
    let stopping: Promise<number | null> | undefined;
    const missed = await rig.burst((count) => {
      if (count >= PATRONS / 2 && !stopping) stopping = rig.server?.stop('SIGTERM');
    });
    expect(await stopping).to.equal(0);
    await rig.start();
    await rig.redeliver(missed);
    await rig.expectEveryPatronAnsweredOnce();
  });

  it('Redis down while messages arrive, forny killed, Redis back empty, restart: nothing lost', async () => {
    const redis = await rig.useOwnRedis();
    await rig.start();
    await redis.stop();
    const missed = await rig.burst(); // stored and acknowledged, but nothing can be enqueued
    expect(missed).to.deep.equal([]);
    await rig.server?.stop('SIGKILL'); // killed right after answering Twilio
    await redis.restart();
    await rig.start();
    await rig.expectEveryPatronAnsweredOnce();
  });

  it('Redis stopped and started empty under a running forny: messages that arrived meanwhile are answered once', async () => {
    const redis = await rig.useOwnRedis();
    await rig.start();
    await redis.stop();
    expect(await rig.burst()).to.deep.equal([]);
    await redis.restart();
    await rig.expectEveryPatronAnsweredOnce();
  });

  it('queue keys flushed while replies wait for 08:45: each is sent once at the opening', async () => {
    // The window opens in 25 s: room for the start and the burst on a busy machine, so every reply is written while it waits.
    await rig.start('2026-12-01T08:44:35+01:00');
    expect(await rig.burst()).to.deep.equal([]);
    await eventually(async () => {
      const db = createKnex(rig.databaseUrl);
      try {
        return Number((await db('outbound_messages').where({ status: 'scheduled' }).count({ n: '*' }).first())?.n) === PATRONS;
      } finally {
        await db.destroy();
      }
    }, 15_000, 'every reply waiting for the window');
    await deleteQueueKeys(rig.redisUrl, rig.prefix);
    expect(rig.twilio.messages).to.have.length(0);
    await rig.expectEveryPatronAnsweredOnce();
  });

  it('Twilio failing on command: retried, and each patron still answered once', async () => {
    rig.twilio.failNext({ kind: 'http', status: 503, code: 20500 }, 8);
    rig.twilio.failNext({ kind: 'reset' }, 2);
    await rig.start();
    expect(await rig.burst()).to.deep.equal([]);
    await rig.expectEveryPatronAnsweredOnce();
    expect(rig.twilio.requests).to.equal(PATRONS + 10);
  });
});
