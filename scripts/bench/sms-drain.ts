/**
 * Benchmark 1 (issue 3, item 4): a morning backlog of SMS reminders, written overnight for the
 * window's opening, drains through the real send-sms workers at SMS_RATE_PER_SECOND.
 *
 * Each segment is a fresh installation: N patrons with one loan due in three days, N reminder SMS
 * (`scheduled`, send_after = 08:45, each linked to its loan so the stale check runs as it does in
 * production), handed to enqueueOutbound a moment before 08:45 on the application clock, so BullMQ
 * holds them delayed and releases them all at the opening. Sends go through the Twilio transport
 * to a Twilio-compatible server on loopback (real HTTP), or the sandbox.
 */
import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import { toStoredInstant } from '../../db/repositories/values.js';
import type { OutboundMessage } from '../../db/repositories/outbound.js';
import { enqueueOutbound } from '../../src/queue/enqueue.js';
import { addDays, dateIn } from '../../src/domain/calendar-date.js';
import { createTexts, DEFAULT_TEXT_SETTINGS } from '../../src/domain/reply-text.js';
import { createSandboxTransport } from '../../src/sms/sandbox.js';
import { createTwilioTransport } from '../../src/sms/twilio.js';
import { busiest } from '../../test/helpers/busiest.js';
import { FakeTwilio } from '../../test/helpers/fake-twilio.js';
import { benchMobile, writeLibrary, type BenchLoan, type BenchPatron } from './library.js';
import {
  createInstall,
  mb,
  memory,
  ms,
  perSecond,
  ratio,
  recordingTransport,
  ShiftableClock,
  sleep,
  waitFor,
  type BenchInstall,
  type BenchLine,
  type MemorySnapshot,
  type RecordingTransport,
} from './support.js';

/** 08:45 on a Tuesday in winter (UTC+1): the opening the night's reminders wait for. */
export const OPENING = new Date('2026-12-01T08:45:00+01:00');
/** The application clock is set this far before the opening when the jobs are enqueued. */
const LEAD_MS = 3000;

export interface DrainOptions {
  readonly messages: number;
  /** SMS_RATE_PER_SECOND; undefined leaves it unset (the default, 30). */
  readonly rate: number | undefined;
  readonly transport: 'twilio' | 'sandbox';
  readonly timeoutMs: number;
}

export interface DrainResult {
  readonly messages: number;
  readonly configuredRate: number;
  readonly concurrency: number;
  /** The long-run rate at which SMS left (sends started), per second (see fittedRate). */
  readonly achievedRate: number;
  /** (N − 1) / (last send − first send): the plain first-to-last rate, biased upward (see fittedRate). */
  readonly firstToLastRate: number;
  /** Most sends that started within any 1000 ms (a fixed-window limiter allows up to 2 × max here). */
  readonly peakPerSecond: number;
  readonly drainMs: number;
  /** First send after the opening (negative would mean before the window opened). */
  readonly firstSendAfterOpeningMs: number;
  readonly enqueueMs: number;
  readonly memoryBefore: MemorySnapshot;
  readonly memoryAfter: MemorySnapshot;
  readonly problems: readonly string[];
}

export async function drain(options: DrainOptions): Promise<DrainResult> {
  const clock = new ShiftableClock();
  clock.setNow(new Date(OPENING.getTime() - 3600_000)); // while the library is written: 07:45
  const fake = options.transport === 'twilio' ? await new FakeTwilio().start() : undefined;
  try {
    const inner = fake
      ? createTwilioTransport({ accountSid: fake.accountSid, authToken: fake.authToken, apiBaseUrl: fake.url, from: '1910', messagingServiceSid: undefined })
      : createSandboxTransport();
    const sms = recordingTransport(inner);
    const install = await createInstall('drain', {
      clock,
      sms,
      env: options.rate === undefined ? {} : { SMS_RATE_PER_SECOND: String(options.rate) },
    });
    try {
      return await drainInto(install, clock, sms, fake, options.messages, options.timeoutMs);
    } finally {
      await install.dispose();
    }
  } finally {
    await fake?.stop();
  }
}

async function drainInto(
  install: BenchInstall,
  clock: ShiftableClock,
  sms: RecordingTransport,
  fake: FakeTwilio | undefined,
  n: number,
  timeoutMs: number,
): Promise<DrainResult> {
  const { deps, config } = install;
  const messages = await writeBacklog(install.deps.db, n, config.sms.from);

  const memoryBefore = memory();
  clock.setNow(new Date(OPENING.getTime() - LEAD_MS));
  const openingAt = clock.performanceAt(OPENING);
  const enqueueStart = performance.now();
  await enqueueOutbound(deps.queues, deps.clock, messages);
  const enqueueMs = performance.now() - enqueueStart;
  const workers = install.startWorkers();
  const concurrency = workers.workers.find((worker) => worker.name === 'send-sms')?.concurrency ?? 0;

  const problems: string[] = [];
  if (!(await waitFor(() => sms.times.length >= n, timeoutMs, 50))) {
    problems.push(`only ${sms.times.length} of ${n} sent within ${timeoutMs / 1000} s`);
  }
  await sleep(500); // a duplicate send would show up now
  const memoryAfter = memory();
  await workers.close(5000);

  // An SMS leaves when its send starts (the request to the provider); sends start in call order.
  const times = sms.starts;
  const first = times[0] ?? Number.NaN;
  const last = times[times.length - 1] ?? Number.NaN;
  const rows: { status: string; n: unknown; sids: unknown }[] = await deps.db('outbound_messages')
    .select('status')
    .count({ n: '*' })
    .countDistinct({ sids: 'provider_sid' })
    .groupBy('status');
  const byStatus = new Map(rows.map((row) => [row.status, { n: Number(row.n), sids: Number(row.sids) }]));
  const sentRows = byStatus.get('sent')?.n ?? 0;
  const distinctSids = byStatus.get('sent')?.sids ?? 0;
  const otherStatuses = [...byStatus.entries()].filter(([status]) => status !== 'sent').map(([status, count]) => `${count.n} ${status}`);

  if (sms.starts.length !== n) problems.push(`${sms.starts.length} sends started for ${n} messages`);
  if (new Set(sms.recipients).size !== sms.recipients.length) problems.push(`${sms.recipients.length - new Set(sms.recipients).size} duplicate sends`);
  if (new Set(sms.sids).size !== sms.sids.length) problems.push('a provider sid came back twice');
  if (fake && fake.messages.length !== n) problems.push(`the Twilio server accepted ${fake.messages.length} messages for ${n}`);
  if (sentRows !== n || distinctSids !== n) problems.push(`${sentRows} rows sent with ${distinctSids} distinct sids, expected ${n}`);
  if (otherStatuses.length > 0) problems.push(`rows not sent: ${otherStatuses.join(', ')}`);
  if (first < openingAt) problems.push(`first send ${(openingAt - first).toFixed(0)} ms before the window opened`);

  return {
    messages: n,
    configuredRate: config.sms.ratePerSecond,
    concurrency,
    achievedRate: fittedRate(times),
    firstToLastRate: times.length > 1 ? ((times.length - 1) / (last - first)) * 1000 : Number.NaN,
    peakPerSecond: busiest(times, 1000),
    drainMs: last - first,
    firstSendAfterOpeningMs: first - openingAt,
    enqueueMs,
    memoryBefore,
    memoryAfter,
    problems,
  };
}

/**
 * The long-run rate of the sorted `times` (ms), per second: the least-squares slope of send number
 * against time. BullMQ's limiter is a fixed window (at most `max` jobs start, then it waits for the
 * window to end), so sends come in a burst a window; the slope through that staircase is the rate
 * the limiter holds (`max` per window length). The plain (N − 1) / (last − first) spans one window
 * fewer than it counts and reads W / (W − 1) high for W windows (20 % for 6, 2 % for 57).
 */
export function fittedRate(times: readonly number[]): number {
  const n = times.length;
  if (n < 2) return Number.NaN;
  const meanTime = times.reduce((sum, time) => sum + time, 0) / n;
  const meanIndex = (n - 1) / 2;
  let covariance = 0;
  let variance = 0;
  times.forEach((time, index) => {
    covariance += (time - meanTime) * (index - meanIndex);
    variance += (time - meanTime) ** 2;
  });
  return (covariance / variance) * 1000;
}

/**
 * N patrons with one loan each, due in three days, and the reminder the 07:00 scan wrote for each:
 * `scheduled` for 08:45, linked to its loan. Returned in the shape enqueueOutbound takes.
 */
async function writeBacklog(db: Knex, n: number, from: string): Promise<Pick<OutboundMessage, 'id' | 'channel' | 'sendAfter' | 'purpose' | 'kind' | 'libraryId'>[]> {
  const scanAt = new Date(OPENING.getTime() - 105 * 60_000); // 07:00
  const today = dateIn(OPENING, 'Europe/Copenhagen');
  const dueDate = addDays(today, 3);
  const patrons: BenchPatron[] = Array.from({ length: n }, (_, index) => ({
    id: `p${index}`,
    mobile: benchMobile(index),
    smsOptIn: true,
    email: null,
    emailOptIn: false,
  }));
  const loans: BenchLoan[] = patrons.map((patron, index) => ({
    id: `l${index}`,
    patronId: patron.id,
    kind: 'standard',
    loanPeriodDays: 28,
    borrowedOn: addDays(dueDate, -28),
    dueDate,
    titleIndex: index,
  }));
  await writeLibrary(db, { patrons, loans, titles: 1000 }, scanAt);

  const stamp = toStoredInstant(scanAt);
  const sendAfter = toStoredInstant(OPENING);
  const body = createTexts(DEFAULT_TEXT_SETTINGS).reminderSms(1, dueDate);
  await db.transaction(async (trx) => {
    for (let start = 0; start < n; start += 500) {
      const chunk = patrons.slice(start, start + 500);
      await trx('outbound_messages').insert(
        chunk.map((patron) => ({
          channel: 'sms',
          kind: 'reminder',
          purpose: 'reminder',
          patron_id: patron.id,
          inbound_id: null,
          to_address: patron.mobile ?? '',
          from_address: from,
          body,
          status: 'scheduled',
          send_after: sendAfter,
          dedupe_key: `reminder:${patron.id}:${dueDate}:sms`,
          created_at: stamp,
          updated_at: stamp,
        })),
      );
    }
    const rows = await trx('outbound_messages').select('id', 'patron_id');
    for (let start = 0; start < rows.length; start += 500) {
      await trx('outbound_loans').insert(
        rows.slice(start, start + 500).map((row) => ({ outbound_id: row.id, loan_id: `l${String(row.patron_id).slice(1)}`, due_date: dueDate })),
      );
    }
  });
  const stored = await db('outbound_messages').orderBy('id').select('id', 'send_after');
  return stored.map((row) => ({ id: Number(row.id), channel: 'sms', sendAfter: String(row.send_after), purpose: 'reminder', kind: 'reminder', libraryId: 'default' }));
}

/** Most the achieved rate may exceed the configured one before the line says FAIL. */
export const RATE_TOLERANCE = 1.05;

export interface DrainPlan {
  /** The configured rate for the 20,000 (SMS_RATE_PER_SECOND); well below the pipeline's raw capacity. */
  readonly rate: number;
  readonly messages: number;
  /** Jobs for the raw-capacity run (limiter at its 10,000/s ceiling, so the pipeline is the limit). */
  readonly rawMessages: number;
  /** Seconds of the run at the default rate (30/s), through real HTTP to a loopback Twilio. */
  readonly defaultSeconds: number;
}

export async function benchSmsDrain(plan: DrainPlan, report: (line: BenchLine) => void): Promise<void> {
  const verdict = (result: DrainResult) => result.problems.length === 0 && result.achievedRate <= result.configuredRate * RATE_TOLERANCE;
  const details = (result: DrainResult) => [
    `enqueued in ${ms(result.enqueueMs)}, first send ${result.firstSendAfterOpeningMs.toFixed(0)} ms after 08:45, drained in ${(result.drainMs / 1000).toFixed(1)} s, ` +
      `plain first-to-last ${perSecond(result.firstToLastRate)}, most started in any 1 s ${result.peakPerSecond}, send-sms concurrency ${result.concurrency}`,
    result.problems.length === 0
      ? `each of the ${result.messages} rows sent exactly once (one send, one sid, status sent), none left scheduled/queued, none before 08:45`
      : `CHECK FAILED: ${result.problems.join('; ')}`,
  ];

  // 30/s is SMS_RATE_PER_SECOND's default: left unset here.
  const byDefault = await drain({ messages: 30 * plan.defaultSeconds, rate: undefined, transport: 'twilio', timeoutMs: 60_000 });
  report({
    name: `sms drain default`,
    text:
      `${perSecond(byDefault.configuredRate).padStart(8)} configured ${perSecond(byDefault.achievedRate).padStart(8)} achieved  ` +
      `ratio ${ratio(byDefault.achievedRate / byDefault.configuredRate)}  (${byDefault.messages} SMS over HTTP to loopback Twilio)`,
    ok: verdict(byDefault),
    notes: details(byDefault),
  });

  const raw = await drain({ messages: plan.rawMessages, rate: 10_000, transport: 'sandbox', timeoutMs: 120_000 });
  report({
    name: 'sms raw capacity',
    text: `${perSecond(raw.achievedRate).padStart(8)} (${raw.messages} SMS, sandbox, limiter at its 10000/s ceiling so the pipeline is the limit)`,
    ok: raw.problems.length === 0,
    notes: details(raw),
  });

  const full = await drain({ messages: plan.messages, rate: plan.rate, transport: 'sandbox', timeoutMs: (plan.messages / plan.rate) * 3000 + 30_000 });
  report({
    name: `sms drain ${plan.messages}`,
    text:
      `${perSecond(full.configuredRate).padStart(8)} configured ${perSecond(full.achievedRate).padStart(8)} achieved  ` +
      `ratio ${ratio(full.achievedRate / full.configuredRate)}  (sandbox; raw ${perSecond(raw.achievedRate)}, headroom ${(raw.achievedRate / full.configuredRate).toFixed(1)}x)`,
    ok: verdict(full),
    notes: details(full),
  });
  report({
    name: `memory (${plan.messages} drain)`,
    text:
      `rss ${mb(full.memoryBefore.rss)} → ${mb(full.memoryAfter.rss)} ratio ${ratio(full.memoryAfter.rss / full.memoryBefore.rss)}, ` +
      `heapUsed after GC ${mb(full.memoryBefore.heapUsed)} → ${mb(full.memoryAfter.heapUsed)} ratio ${ratio(full.memoryAfter.heapUsed / full.memoryBefore.heapUsed)}`,
  });
}
