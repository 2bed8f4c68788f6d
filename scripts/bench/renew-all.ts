/**
 * Benchmark 3: renew-all throughput.
 *
 * Direct: handleRenewAll for one stored `HBK FORNY ALLE` per patron (five loans each, a mix the
 * rules renew and refuse), one at a time, with the reply's enqueue stubbed out so no Redis is in
 * the loop. Baseline, interleaved message by message so both see the same conditions: a
 * transaction that only claims a message and reads it back (the bare database round trips every
 * renew-all starts with).
 *
 * End to end: signed webhooks to the real app, the real workers, sandbox SMS; from the first POST
 * to the last reply sent. Its baseline is the direct rate above.
 */
import { createEmbeddedLibrarySystem } from '../../src/library/embedded.js';
import { createLibraries } from '../../src/libraries.js';
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { SmsRate } from '../../src/sms/sms-rate.js';
import type { Knex } from 'knex';
import { claimInbound, getInbound } from '../../db/repositories/inbound.js';
import { toStoredInstant } from '../../db/repositories/values.js';
import type { Queues } from '../../src/queue/queues.js';
import { handleRenewAll } from '../../src/renewals/renew-all.js';
import { ManualClock } from '../../src/clock.js';
import { addDays, dateIn, type CalendarDate } from '../../src/domain/calendar-date.js';
import { createApp } from '../../src/http/create-app.js';
import { createSandboxTransport } from '../../src/sms/sandbox.js';
import { benchMobile, writeLibrary, type BenchLibrary, type BenchLoan, type BenchPatron } from './library.js';
import {
  createInstall,
  inParallel,
  ms,
  perSecond,
  percentile,
  postRenewAll,
  ratio,
  recordingTransport,
  waitFor,
  type BenchLine,
} from './support.js';

/** Tuesday 10:00, inside the send window. */
export const NOW = '2026-12-01T10:00:00+01:00';
const TODAY: CalendarDate = dateIn(new Date(NOW), 'Europe/Copenhagen');

export interface RenewAllPlan {
  /** Patrons, one message each, for the direct loop (plus a few untimed warm-up ones). */
  readonly messages: number;
  /** Messages through webhook and workers. */
  readonly endToEndMessages: number;
}

const WARM_UP = 50;

/**
 * `count` patrons with five loans each: two due soon (renewed), one far off (too soon), one at its
 * last renewal (too many), and an interlibrary loan due tomorrow (renewed with reservation); every
 * seventh patron's first loan is on a title another patron has reserved (on reserve).
 */
export function renewalLibrary(count: number): BenchLibrary {
  const patrons: BenchPatron[] = Array.from({ length: count }, (_, index) => ({
    id: `p${index}`,
    mobile: benchMobile(index),
    smsOptIn: true,
    email: null,
    emailOptIn: false,
  }));
  const loans: BenchLoan[] = patrons.flatMap((patron, index) => {
    const loan = (n: number, fields: Pick<BenchLoan, 'kind' | 'loanPeriodDays' | 'dueDate'> & { renewals?: number }): BenchLoan => ({
      id: `l${index}-${n}`,
      patronId: patron.id,
      borrowedOn: addDays(fields.dueDate, -fields.loanPeriodDays),
      titleIndex: index * 5 + n,
      ...fields,
    });
    return [
      loan(0, { kind: 'standard', loanPeriodDays: 28, dueDate: addDays(TODAY, 2) }),
      loan(1, { kind: 'standard', loanPeriodDays: 28, dueDate: addDays(TODAY, 5) }),
      loan(2, { kind: 'standard', loanPeriodDays: 28, dueDate: addDays(TODAY, 20) }),
      loan(3, { kind: 'standard', loanPeriodDays: 14, dueDate: addDays(TODAY, 3), renewals: 1 }),
      loan(4, { kind: 'ill', loanPeriodDays: 28, dueDate: addDays(TODAY, 1) }),
    ];
  });
  const reservations = patrons
    .map((_, index) => index)
    .filter((index) => index % 7 === 0)
    .map((index) => ({ patronId: `p${(index + 1) % count}`, titleIndex: index * 5 }));
  return { patrons, loans, titles: count * 5, reservations };
}

/** Stored, unprocessed `HBK FORNY ALLE` messages, one per number given; returns their ids in order. */
async function storeInbound(db: Knex, numbers: readonly string[], now: Date): Promise<number[]> {
  const stamp = toStoredInstant(now);
  const sids = numbers.map(() => `SM${randomBytes(16).toString('hex')}`);
  await db.transaction(async (trx) => {
    for (let start = 0; start < numbers.length; start += 500) {
      await trx('inbound_messages').insert(
        numbers.slice(start, start + 500).map((number, offset) => ({
          message_sid: sids[start + offset],
          account_sid: null,
          from_number: number,
          to_number: '1910',
          body: 'HBK FORNY ALLE',
          command: 'renew-all',
          status: 'received',
          received_at: stamp,
        })),
      );
    }
  });
  const rows: { id: number; message_sid: string }[] = await db('inbound_messages').whereIn('message_sid', sids).select('id', 'message_sid');
  const ids = new Map(rows.map((row) => [row.message_sid, Number(row.id)]));
  return sids.map((sid) => ids.get(sid) ?? Number.NaN);
}

/** Queues that take the reply's enqueue and do nothing: the direct loop measures forny and its database. */
function idleQueues(): Queues {
  const idle = { add: async () => undefined, addBulk: async () => [] };
  return { renewAll: idle, smsCommand: idle, sendSms: idle, sendEmail: idle, reminders: idle, all: [], turns: { take: async () => [] } } as unknown as Queues;
}

export interface DirectResult {
  readonly messagesPerSecond: number;
  readonly line: BenchLine;
}

export async function benchRenewAllDirect(plan: RenewAllPlan): Promise<DirectResult> {
  const clock = new ManualClock(NOW);
  const install = await createInstall('renew-all', { clock });
  try {
    const { db, config, logger } = install.deps;
    const patrons = WARM_UP + plan.messages;
    await writeLibrary(db, renewalLibrary(patrons), clock.now());
    const numbers = Array.from({ length: patrons }, (_, index) => benchMobile(index));
    const renewIds = await storeInbound(db, numbers, clock.now());
    const claimIds = await storeInbound(db, numbers, clock.now());
    // The rate never has room here, so each reply goes to the idle queue: this times the renewal alone.
    const fullRate: SmsRate = { ...install.deps.smsRate, slotSoon: async () => undefined };
    const deps = { db, groupCommit: install.deps.groupCommit, config, logger, clock, queues: idleQueues(), libraries: createLibraries(config, { db, clock, logger }, { default: createEmbeddedLibrarySystem({ timeZone: config.timeZone }) }), sms: install.deps.sms, smsRate: fullRate };

    const renewTimes: number[] = [];
    const claimTimes: number[] = [];
    const problems: string[] = [];
    let renewed = 0;
    let loans = 0;
    for (let index = 0; index < patrons; index += 1) {
      const claimStart = performance.now();
      await db.transaction(async (trx) => {
        if (!(await claimInbound(trx, claimIds[index] ?? 0, clock.now()))) throw new Error('baseline claim failed');
        await getInbound(trx, claimIds[index] ?? 0);
      });
      const renewStart = performance.now();
      const outcome = await handleRenewAll(deps, renewIds[index] ?? 0);
      const end = performance.now();
      if (outcome.state !== 'renewed' || !outcome.reply) {
        problems.push(`message ${index}: ${outcome.state}`);
      } else {
        renewed += outcome.counts.renewed;
        loans += outcome.counts.total;
      }
      if (index < WARM_UP) continue;
      claimTimes.push(renewStart - claimStart);
      renewTimes.push(end - renewStart);
    }
    const replies = Number((await db('outbound_messages').where({ purpose: 'renew-all', status: 'queued' }).count({ n: '*' }).first())?.n);
    if (replies !== patrons) problems.push(`${replies} replies written for ${patrons} messages`);

    const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);
    const renewRate = (renewTimes.length / sum(renewTimes)) * 1000;
    const claimRate = (claimTimes.length / sum(claimTimes)) * 1000;
    const renewP50 = percentile(renewTimes, 50);
    const claimP50 = percentile(claimTimes, 50);
    return {
      messagesPerSecond: renewRate,
      line: {
        name: 'renew-all direct',
        text:
          `p50 ${ms(renewP50)} p95 ${ms(percentile(renewTimes, 95))} ${perSecond(renewRate).padStart(7)}  vs  claim+read p50 ${ms(claimP50)} ` +
          `p95 ${ms(percentile(claimTimes, 95))} ${perSecond(claimRate)}  ratio ${ratio(renewP50 / claimP50)} (p50)`,
        ok: problems.length === 0,
        notes: [
          `${plan.messages} messages one at a time (after ${WARM_UP} untimed), 5 loans each; ${renewed} of ${loans} loans renewed; reply enqueue stubbed (no Redis)`,
          ...problems.slice(0, 5),
        ],
      },
    };
  } finally {
    await install.dispose();
  }
}

export async function benchRenewAllEndToEnd(plan: RenewAllPlan, direct: DirectResult): Promise<BenchLine> {
  const sms = recordingTransport(createSandboxTransport());
  // The limiter is set out of the way (300 replies at the default 30/s would take 10 s and measure
  // only the limiter, which benchmark 1 measures): this is the pipeline from webhook to reply.
  const install = await createInstall('renew-all-e2e', { sms, env: { FAKE_NOW: NOW, SMS_RATE_PER_SECOND: '1000' } });
  let server: Server | undefined;
  try {
    const { deps, config } = install;
    const count = plan.endToEndMessages;
    await writeLibrary(deps.db, renewalLibrary(count), deps.clock.now());
    const app = createApp(deps);
    const listening = await new Promise<Server>((resolve) => {
      const started = app.listen(0, '127.0.0.1', () => resolve(started));
    });
    server = listening;
    const baseUrl = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
    install.startWorkers();

    const numbers = Array.from({ length: count }, (_, index) => benchMobile(index));
    const postedAt = new Map<string, number>();
    const problems: string[] = [];
    const start = performance.now();
    // Twilio delivers webhooks concurrently; ten at a time.
    await inParallel(numbers, 10, async (number) => {
      postedAt.set(number, performance.now());
      const status = await postRenewAll(baseUrl, config.sms.authToken, number);
      if (status !== 200) problems.push(`webhook answered ${status}`);
    });
    const postsMs = performance.now() - start;
    if (!(await waitFor(() => sms.times.length >= count, 60_000, 10))) problems.push(`only ${sms.times.length} of ${count} replies sent within 60 s`);
    const last = sms.times[sms.times.length - 1] ?? Number.NaN;
    const totalMs = last - start;
    const latencies = sms.recipients.map((to, index) => (sms.times[index] ?? Number.NaN) - (postedAt.get(to) ?? Number.NaN));
    if (new Set(sms.recipients).size !== sms.recipients.length) problems.push('a patron got two replies');
    const rate = (count / totalMs) * 1000;
    return {
      name: 'renew-all end-to-end',
      text:
        `${count} in ${ms(totalMs)} ${perSecond(rate).padStart(7)}  vs  direct ${perSecond(direct.messagesPerSecond)}  ratio ${ratio(rate / direct.messagesPerSecond)}  ` +
        `(POST→reply sent p50 ${ms(percentile(latencies, 50))} p95 ${ms(percentile(latencies, 95))})`,
      ok: problems.length === 0,
      notes: [
        `signed webhooks 10 at a time (all answered after ${ms(postsMs)}), real workers, sandbox SMS, limiter at 1000/s (out of the way)`,
        ...problems.slice(0, 5),
      ],
    };
  } finally {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await install.dispose();
  }
}
