import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import twilio from 'twilio';
import type { FixtureInput } from '../../db/fixture.js';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';
import { loadFixture } from '../../db/load-fixture.js';
import { addDays, dateIn, type CalendarDate } from '../../src/domain/calendar-date.js';
import { QUEUE } from '../../src/queue/queues.js';
import { FakeTwilioProcess } from '../helpers/fake-twilio-process.js';
import { deleteQueueKeys, eventually, newMessageSid, TEST_REDIS_URL } from '../helpers/harness.js';
import { createPostgresDatabase } from '../helpers/postgres.js';
import { freePort, FornyProcess } from '../helpers/processes.js';
import { watchReconciliations } from '../helpers/reconciliations.js';
import { queuesSettled } from '../helpers/settled.js';

/*
 * A paused, not dead, worker (issue 19, point 7): one `web` and two `worker` processes on one
 * PostgreSQL database, Twilio on loopback in a process of its own. A burst of HBK FORNY ALLE; while
 * the replies leave, one worker is stopped with SIGSTOP for longer than a send claim lasts
 * (SEND_UNDER_WAY_MS, 30 s), then continued. Its jobs' locks (10 s) lapse, so the other worker runs
 * them again and takes its claimed replies over; the stopped one wakes with those replies in hand,
 * past their pacing wait, about to call Twilio. What the patrons notice must not change: one reply
 * each, each loan renewed once.
 *
 * Replies leave at SMS_RATE_PER_SECOND = 13: BullMQ's limiter window for it is one second long
 * (max 13), so each second up to 13 replies are claimed at once and then wait for their paced
 * slot over the second, and the 150 replies take over ten seconds to leave. The stop comes at such
 * a moment and is kept only if the stopped worker turns out to hold claimed replies that have not
 * reached Twilio (see below). Before the fence (commit 92a4b62) the woken worker sent each of those
 * once more: every run of the code before it failed here, 2 to 12 patrons of 150 answered twice.
 */

/*
 * The real clock, no FAKE_NOW: FAKE_NOW starts each process's clock when that process starts, so
 * processes started seconds apart disagree by seconds, and the 30 s a claim lasts would be counted
 * differently by the stopped worker and the one taking over. Loans are dated from today.
 */
const ZONE = 'Europe/Copenhagen';
const PATRONS = 150;
const RATE = 13;
/**
 * Longer than a send claim (30 s) plus the time the other worker needs to take the work over: its
 * stalled-job check (10 s locks, checked every 5 s), the rerun, the wait for the claim to lapse. 37 s
 * left 7 s for that, and a CI run under load once ended the pause with nothing taken over yet.
 */
const PAUSE_MS = 50_000;
/** Replies at Twilio before the worker is stopped: the drain is under way. */
const SENT_BEFORE_STOP = 10;
/** Replies claimed but not sent, in the outbox, that the stop waits for (up to STOP_WAIT_MS). */
const CLAIMED_AT_STOP = 8;
const STOP_WAIT_MS = 5000;
/** How long after the stop a claimed reply still unmoved counts as the stopped worker's (well within its jobs' 10 s locks). */
const HELD_AFTER_MS = 4000;
/** Claimed replies, not yet at Twilio, the stopped worker is to hold; stopped again up to STOP_TRIES times until it does. */
const HELD_AT_STOP = 3;
const STOP_TRIES = 4;
/** How long a worker continued after a stop that found too little may take to send what it held. */
const CATCH_UP_MS = 3000;
const RECONCILE_INTERVAL_MS = 2000;
/** Webhooks in flight at once. */
const CONNECTIONS = 16;
const PUBLIC_BASE_URL = 'https://forny.test';
const REPLY = 'Helsingør Kommunes Biblioteker: 2 af 3 lån er fornyet. Se på helsbib.dk hvilke der ikke kunne fornyes.';

const texter = (i: number) => `+45${31_000_000 + i}`;

/**
 * Three loans each, borrowed 28 days before they are due: due in 2 and 5 days (renewed), in 20 days
 * (too early); every reply says `2 af 3 lån`. No loan is due in 3 days: no reminders.
 */
function library(today: CalendarDate): FixtureInput {
  const dues = [2, 5, 20].map((days) => ({ due: addDays(today, days), borrowed: addDays(today, days - 28) }));
  const ids = Array.from({ length: PATRONS }, (_, i) => i);
  return {
    patrons: ids.map((i) => ({ id: `p${i}`, cardNumber: `C${i}`, name: `Låner ${i}`, mobile: texter(i), smsOptIn: true })),
    titles: ids.flatMap((i) => dues.map((_, n) => ({ id: `t${i}-${n}`, title: `Bog ${i}-${n}` }))),
    items: ids.flatMap((i) => dues.map((_, n) => ({ id: `i${i}-${n}`, titleId: `t${i}-${n}`, barcode: `B${i}-${n}` }))),
    loans: ids.flatMap((i) =>
      dues.map(({ due, borrowed }, n) => ({ id: `l${i}-${n}`, patronId: `p${i}`, itemId: `i${i}-${n}`, kind: 'standard' as const, loanPeriodDays: 28, borrowedOn: borrowed, dueDate: due })),
    ),
  };
}

class Rig {
  readonly prefix = `forny-paused-${randomBytes(5).toString('hex')}`;
  readonly redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  twilio: FakeTwilioProcess | undefined;
  database: { url: string; drop(): Promise<void> } | undefined;
  web: { process: FornyProcess; port: number } | undefined;
  readonly workers: FornyProcess[] = [];
  /** Processes stopped with SIGSTOP and not yet continued. */
  readonly stopped = new Set<FornyProcess>();
  private queues: Queue[] = [];

  env(): Record<string, string> {
    if (!this.twilio || !this.database) throw new Error('not set up');
    return {
      DATABASE_URL: this.database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: this.prefix,
      PUBLIC_BASE_URL,
      TWILIO_ACCOUNT_SID: this.twilio.accountSid,
      TWILIO_AUTH_TOKEN: this.twilio.authToken,
      TWILIO_API_BASE_URL: this.twilio.url,
      ADMIN_PASSWORD: 'operator-password',
      LIBRARY_TIMEZONE: ZONE,
      // Replies leave at once at any hour; nothing else is sent.
      SMS_REPLIES_OUTSIDE_WINDOW: 'send',
      SMS_RATE_PER_SECOND: String(RATE),
      RECONCILE_INTERVAL_MS: String(RECONCILE_INTERVAL_MS),
      SEND_RETRY_DELAY_MS: '50',
      SHUTDOWN_GRACE_MS: '2000',
      LOG_LEVEL: 'warn',
    };
  }

  async setUp(): Promise<void> {
    // Each kept as soon as it exists, so that tearDown finds it whatever else failed.
    const started = await Promise.allSettled([FakeTwilioProcess.start().then((fake) => (this.twilio = fake)), createPostgresDatabase().then((database) => (this.database = database))]);
    for (const outcome of started) if (outcome.status === 'rejected') throw outcome.reason;
    const database = this.database;
    if (!database) throw new Error('no database');
    const db = createKnex(database.url);
    try {
      await migrateToLatest(db);
      const now = new Date();
      await loadFixture(db, library(dateIn(now, ZONE)), now);
    } finally {
      await db.destroy();
    }
    this.queues = Object.values(QUEUE).map((name) => new Queue(name, { connection: this.redis, prefix: this.prefix }));

    const port = await freePort();
    const web = { process: FornyProcess.spawn('web.ts', { ...this.env(), PORT: String(port) }), port };
    this.web = web;
    const workers = [FornyProcess.spawn('worker.ts', this.env()), FornyProcess.spawn('worker.ts', this.env())];
    this.workers.push(...workers);
    await Promise.all([
      ...workers.map((worker) => worker.waitFor(/workers and scheduler only/, 60_000)),
      eventually(async () => {
        if (web.process.child.exitCode !== null) throw new Error(`web exited at start:\n${web.process.stdout}\n${web.process.stderr}`);
        return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok;
      }, 60_000, 'the web process to listen'),
    ]);
  }

  /** One signed inbound SMS, as Twilio posts it; true when acknowledged with 200. */
  async deliver(messageSid: string, from: string): Promise<boolean> {
    if (!this.twilio || !this.web) throw new Error('not set up');
    const params = { MessageSid: messageSid, AccountSid: this.twilio.accountSid, From: from, To: '1910', Body: 'HBK FORNY ALLE', NumMedia: '0' };
    const signature = twilio.getExpectedTwilioSignature(this.twilio.authToken, `${PUBLIC_BASE_URL}/sms/inbound`, params);
    try {
      const response = await fetch(`http://127.0.0.1:${this.web.port}/sms/inbound`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params),
        signal: AbortSignal.timeout(15_000),
      });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  pause(worker: FornyProcess): void {
    if (worker.child.pid === undefined || worker.child.exitCode !== null) throw new Error('no worker to stop');
    process.kill(worker.child.pid, 'SIGSTOP');
    this.stopped.add(worker);
  }

  resume(worker: FornyProcess): void {
    if (!this.stopped.delete(worker)) return;
    if (worker.child.pid !== undefined && worker.child.exitCode === null && worker.child.signalCode === null) process.kill(worker.child.pid, 'SIGCONT');
  }

  async settled(): Promise<void> {
    await queuesSettled(this.queues, { timeoutMs: 30_000 });
  }

  db() {
    if (!this.database) throw new Error('no database yet');
    return createKnex(this.database.url);
  }

  /** Each step on its own: one that fails leaves the others to run. */
  async tearDown(): Promise<void> {
    for (const worker of [...this.stopped]) {
      try {
        this.resume(worker);
      } catch {
        // already gone
      }
    }
    const processes = [...this.workers, ...(this.web ? [this.web.process] : [])];
    await Promise.allSettled(processes.map((child) => child.stop('SIGKILL')));
    await Promise.allSettled(this.queues.map((queue) => queue.close()));
    this.redis.disconnect();
    await this.twilio?.stop().catch(() => undefined);
    await deleteQueueKeys(TEST_REDIS_URL, this.prefix).catch(() => undefined);
    await this.database?.drop();
  }
}

describe('a worker paused (SIGSTOP) mid-send, not dead (real processes, PostgreSQL)', function () {
  this.timeout(150_000);
  let rig: Rig | undefined;
  afterEach(async () => {
    await rig?.tearDown();
    rig = undefined;
  });

  it(`${PATRONS} renew-alls, one of two workers stopped for ${PAUSE_MS / 1000} s while replies leave: one reply each, each loan renewed once`, async () => {
    const started = Date.now();
    rig = new Rig();
    await rig.setUp();
    const fake = rig.twilio;
    const [survivor, victim] = rig.workers;
    if (!fake || !survivor || !victim) throw new Error('not set up');
    const messages = Array.from({ length: PATRONS }, (_, i) => ({ messageSid: newMessageSid(), from: texter(i) }));

    let next = 0;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        for (let index = next++; index < PATRONS; index = next++) {
          const message = messages[index];
          if (!message) break;
          // Twilio retries a webhook that was not acknowledged, with the same MessageSid.
          for (let tries = 1; !(await rig?.deliver(message.messageSid, message.from)); tries++) {
            if (tries >= 5) throw new Error(`webhook for ${message.from} refused ${tries} times`);
            await new Promise((wake) => setTimeout(wake, 200 * tries));
          }
        }
      }),
    );

    // The drain is under way. The stop waits for a moment when many replies are claimed and unsent
    // (a window of the rate has just opened). The claimed replies that stay unmoved while the worker
    // is stopped, and have not reached Twilio either, are the ones it holds before its call. If it
    // holds too few, it is continued (the pause shorter than its jobs' locks: nothing is taken over),
    // left to finish what it held, and stopped again at the next such moment.
    await eventually(() => fake.messages.length >= SENT_BEFORE_STOP, 30_000, `${SENT_BEFORE_STOP} replies at Twilio`);
    const db = rig.db();
    const atStop = { tries: 0, claimed: 0, held: 0, atTwilio: 0, secondsIn: 0 };
    const claimedUnsent = async () =>
      new Map(
        (await db('outbound_messages').where({ status: 'queued' }).whereNotNull('send_started_at').select('id', 'to_address', 'send_started_at')).map((row) => [
          row.id,
          { to: String(row.to_address), stamp: String(row.send_started_at) },
        ]),
      );
    try {
      let held: [number, { stamp: string }][] = [];
      while (atStop.held < HELD_AT_STOP && atStop.tries < STOP_TRIES) {
        if (atStop.tries > 0) {
          rig.resume(victim);
          const until = Date.now() + CATCH_UP_MS;
          for (let still = await claimedUnsent(); held.some(([id, { stamp }]) => still.get(id)?.stamp === stamp) && Date.now() < until; still = await claimedUnsent()) await sleep(50);
          await sleep(500);
        }
        atStop.tries += 1;
        const deadline = Date.now() + STOP_WAIT_MS;
        let claimed = await claimedUnsent();
        while (claimed.size < CLAIMED_AT_STOP && Date.now() < deadline) claimed = await claimedUnsent();
        rig.pause(victim);
        atStop.secondsIn = Math.round((Date.now() - started) / 1000);
        claimed = await claimedUnsent();
        atStop.claimed = claimed.size;
        await sleep(HELD_AFTER_MS);
        const still = await claimedUnsent();
        await fake.sync();
        atStop.atTwilio = fake.messages.length;
        held = [...claimed].filter(([id, { to, stamp }]) => still.get(id)?.stamp === stamp && fake.messagesTo(to).length === 0);
        atStop.held = held.length;
      }
      // The other worker sends the rest meanwhile, and takes the stopped one's work over.
      await sleep(PAUSE_MS - HELD_AFTER_MS);
    } finally {
      rig.resume(victim);
      await db.destroy();
    }
    const stop = `stopped ${atStop.secondsIn} s in (try ${atStop.tries}): ${atStop.claimed} replies claimed and unsent, ${atStop.held} of them held by the stopped worker before its call, ${atStop.atTwilio} at Twilio`;

    // A duplicate would come from the woken worker's jobs or from a reconciliation: let both pass.
    await eventually(() => {
      const answered = new Set(fake.messages.map((message) => message.to));
      return messages.every(({ from }) => answered.has(from));
    }, 30_000, 'a reply to every patron').catch(() => undefined); // the assertions below say who is missing
    await rig.settled();
    const settledAt = Date.now();
    const reconciliations = watchReconciliations(rig.redis, rig.prefix, 20);
    try {
      await eventually(() => reconciliations.finishes.some((finish) => finish > settledAt), 15_000, 'a reconciliation after the queues settled');
    } finally {
      await reconciliations.stop();
    }
    await rig.settled();
    await fake.sync();

    // The pause did what it is for: the other worker took over sends the stopped one had claimed
    // (it asked Twilio first, as for an attempt that died mid-call).
    const takeovers = survivor.stdout.match(/previous attempt (had reached Twilio|ended mid-call)/g)?.length ?? 0;
    expect(takeovers, `sends the other worker took over (${stop})`).to.be.at.least(1);

    // What a patron notices: exactly one reply, with the right count.
    const twice = messages.filter(({ from }) => fake.messagesTo(from).length > 1).map(({ from }) => from);
    const missing = messages.filter(({ from }) => fake.messagesTo(from).length === 0).map(({ from }) => from);
    expect({ twice, missing }, `patrons answered twice or not at all, of ${PATRONS} (${stop}; ${takeovers} sends taken over)`).to.deep.equal({ twice: [], missing: [] });
    for (const { from } of messages) expect(fake.messagesTo(from).map((reply) => reply.body), from).to.deep.equal([REPLY]);
    expect(fake.messages.length, 'messages at Twilio').to.equal(PATRONS);

    const check = rig.db();
    try {
      // Each inbound message stored once and processed once, answered by one reply that is sent.
      const inbound = await check('inbound_messages').select('id', 'message_sid', 'status', 'reply_id');
      expect(inbound.map((row) => row.message_sid).sort()).to.deep.equal(messages.map(({ messageSid }) => messageSid).sort());
      for (const row of inbound) expect({ sid: row.message_sid, status: row.status, answered: row.reply_id !== null }).to.deep.equal({ sid: row.message_sid, status: 'processed', answered: true });
      const replies = await check('outbound_messages').select('inbound_id', 'status');
      expect(replies, 'replies in the outbox').to.have.length(PATRONS);
      expect(new Set(replies.map((reply) => reply.inbound_id)).size, 'inbound messages with a reply').to.equal(PATRONS);
      for (const reply of replies) expect(reply.status, `reply to inbound ${reply.inbound_id}`).to.be.oneOf(['sent', 'delivered']);

      // Every renewable loan renewed exactly once; the one due in 20 days not at all.
      const results = await check('renewal_results').where({ outcome: 'renewed' }).select('loan_id', 'new_due_date');
      const byLoan = new Map<string, string[]>();
      for (const result of results) byLoan.set(result.loan_id, [...(byLoan.get(result.loan_id) ?? []), result.new_due_date ?? '']);
      const loans = await check('loans').select('id', 'renewals', 'due_date');
      expect(loans).to.have.length(PATRONS * 3);
      for (const loan of loans) {
        const renewable = /^l\d+-[01]$/.test(loan.id);
        expect({ id: loan.id, renewals: loan.renewals, results: byLoan.get(loan.id)?.length ?? 0 }).to.deep.equal({ id: loan.id, renewals: renewable ? 1 : 0, results: renewable ? 1 : 0 });
        if (renewable) expect(loan.due_date, loan.id).to.equal(byLoan.get(loan.id)?.[0]);
      }
    } finally {
      await check.destroy();
    }
    // The stopped worker lived through it: paused, not dead.
    expect(victim.child.exitCode, 'the stopped worker still runs').to.equal(null);
  });
});
