/**
 * Benchmark 2 (issue 3, item 5): the daily reminder scan's cost follows the loans due on the
 * reminder day, not the size of the library. Two libraries with the same D active loans due that
 * day (same patrons, same channels), one with nothing else and one with N loans in all (active
 * loans due on other days, returned loans, some of them due that very day). runReminderScan is
 * timed on each, alternately, from a fresh scan state each time (reminders, their links, the scan
 * record and the queued jobs removed); the ratio of the medians is the result.
 */
import { performance } from 'node:perf_hooks';
import type { Knex } from 'knex';
import { runReminderScan } from '../../src/reminders/reminder-scan.js';
import { ManualClock } from '../../src/clock.js';
import { addDays, parseCalendarDate, type CalendarDate } from '../../src/domain/calendar-date.js';
import { benchMobile, writeLibrary, type BenchLibrary, type BenchLoan, type BenchPatron } from './library.js';
import { createInstall, median, memory, ms, ratio, type BenchInstall, type BenchLine } from './support.js';

/** 07:00, REMINDER_SCAN_AT, on a Tuesday: the scan looks for loans due on Friday (REMINDER_DAYS_BEFORE 3). */
const SCAN_AT = '2026-12-01T07:00:00+01:00';
const SCAN_DATE: CalendarDate = parseCalendarDate('2026-12-01');
const DUE_DATE: CalendarDate = addDays(SCAN_DATE, 3);

export interface ScanPlan {
  /** Active loans due on the reminder day (both libraries). */
  readonly due: number;
  /** All loans of the large library. */
  readonly total: number;
  /** Timed runs per library (after one untimed warm-up each). */
  readonly runs: number;
}

/** A deterministic pseudo-random sequence, so both runs of the bench build the same library. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * The due part, the same in both libraries: two due loans per patron; 70 % of the patrons take SMS,
 * 40 % e-mail (some both, some neither). Returns it with the number of reminders a scan writes.
 */
function dueLibrary(due: number): { patrons: BenchPatron[]; loans: BenchLoan[]; reminders: number } {
  const random = lcg(7);
  const patrons: BenchPatron[] = Array.from({ length: Math.ceil(due / 2) }, (_, index) => {
    const sms = random() < 0.7;
    const email = random() < 0.4;
    return { id: `p${index}`, mobile: benchMobile(index), smsOptIn: sms, email: `laaner${index}@example.dk`, emailOptIn: email };
  });
  const loans: BenchLoan[] = Array.from({ length: due }, (_, index) => ({
    id: `due${index}`,
    patronId: `p${Math.floor(index / 2)}`,
    kind: index % 10 === 0 ? 'ill' : 'standard',
    loanPeriodDays: 28,
    borrowedOn: addDays(DUE_DATE, -28),
    dueDate: DUE_DATE,
    titleIndex: index,
  }));
  const reminders = patrons.reduce((sum, patron) => sum + (patron.smsOptIn ? 1 : 0) + (patron.emailOptIn ? 1 : 0), 0);
  return { patrons, loans, reminders };
}

/**
 * The rest of the large library: more patrons (five loans each on average), 70 % of the other loans
 * active and due on any day in the next 60 but the reminder day, 30 % returned, due on any day of
 * the last year or the next 60 days, the reminder day included (a returned loan gets no reminder).
 */
function otherLoans(count: number, firstPatron: number): { patrons: BenchPatron[]; loans: BenchLoan[] } {
  const random = lcg(11);
  const patronCount = Math.ceil(count / 5);
  const patrons: BenchPatron[] = Array.from({ length: patronCount }, (_, offset) => {
    const index = firstPatron + offset;
    return { id: `p${index}`, mobile: benchMobile(index), smsOptIn: random() < 0.7, email: `laaner${index}@example.dk`, emailOptIn: random() < 0.4 };
  });
  const allPatrons = firstPatron + patronCount;
  const loans: BenchLoan[] = Array.from({ length: count }, (_, index) => {
    const returned = random() < 0.3;
    let dueDate: CalendarDate;
    if (returned) {
      dueDate = addDays(SCAN_DATE, Math.floor(random() * 425) - 365);
    } else {
      const day = 1 + Math.floor(random() * 59); // 1…59 days ahead, skipping the reminder day
      dueDate = addDays(SCAN_DATE, day >= 3 ? day + 1 : day);
    }
    return {
      id: `x${index}`,
      patronId: `p${Math.floor(random() * allPatrons)}`,
      kind: 'standard',
      loanPeriodDays: 28,
      borrowedOn: addDays(dueDate, -28),
      dueDate,
      returnedOn: returned ? addDays(dueDate, -Math.floor(random() * 20)) : null,
      titleIndex: index,
    };
  });
  return { patrons, loans };
}

interface Sized {
  readonly install: BenchInstall;
  readonly loans: number;
  readonly times: number[];
  readonly problems: string[];
}

async function prepare(name: string, library: BenchLibrary, clock: ManualClock): Promise<BenchInstall> {
  const install = await createInstall(name, { clock, env: { REMINDER_DAYS_BEFORE: '3' } });
  try {
    await writeLibrary(install.deps.db, library, clock.now());
    return install;
  } catch (error) {
    await install.dispose();
    throw error;
  }
}

/** A fresh scan state: no reminders, no scan record for today, no jobs from an earlier run. */
async function resetScan(install: BenchInstall): Promise<void> {
  const { db, queues } = install.deps;
  await db.transaction(async (trx) => {
    await trx('outbound_loans').del();
    await trx('outbound_messages').del();
    await trx('reminder_scans').del();
  });
  await queues.sendSms.drain(true);
  await queues.sendEmail.drain(true);
  // The same starting point for every run: the write-ahead log folded back, no garbage from the last.
  await db.raw('pragma wal_checkpoint(restart)');
  memory();
}

async function timeScan(sized: Sized, expected: number): Promise<number> {
  await resetScan(sized.install);
  const start = performance.now();
  const result = await runReminderScan(sized.install.deps);
  const elapsed = performance.now() - start;
  if (result.written !== expected) sized.problems.push(`${sized.loans} loans: the scan wrote ${result.written} reminders, expected ${expected}`);
  return elapsed;
}

/** The scan's query for the loans due (the same query as the scan's in src/reminders/reminder-scan.ts). */
function dueQuery(db: Knex): Knex.Sql {
  return db('loans as l')
    .join('patrons as p', 'p.id', 'l.patron_id')
    .join('items as i', 'i.id', 'l.item_id')
    .join('titles as t', 't.id', 'i.title_id')
    .where('l.due_date', DUE_DATE)
    .whereNull('l.returned_on')
    .orderBy([{ column: 'l.patron_id' }, { column: 'l.id' }])
    .select('l.id as loan_id', 'l.patron_id', 'p.name', 'p.mobile', 'p.sms_opt_in', 'p.email', 'p.email_opt_in', 't.title', 'l.due_date')
    .toSQL();
}

/** The step of the plan SQLite picks that reads `loans`. */
async function duePlan(db: Knex): Promise<string> {
  const query = dueQuery(db);
  const rows: { detail: string }[] = await db.raw(`explain query plan ${query.sql}`, query.bindings);
  return rows.map((row) => row.detail).find((detail) => /\bl\b/.test(detail)) ?? '?';
}

/**
 * The query alone, median of `runs`; with `withoutIndex`, SQLite is told not to use an index on
 * loans (`NOT INDEXED`), which is what the scan would cost without loans_active_due_idx.
 */
async function timeDueQuery(db: Knex, runs: number, withoutIndex = false): Promise<number> {
  const query = dueQuery(db);
  const sql = withoutIndex ? query.sql.replace('`loans` as `l`', '`loans` as `l` not indexed') : query.sql;
  if (withoutIndex && sql === query.sql) throw new Error('could not disable the index in the due-loan query');
  const times: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const start = performance.now();
    await db.raw(sql, query.bindings);
    times.push(performance.now() - start);
  }
  return median(times);
}

export async function benchReminderScan(plan: ScanPlan, report: (line: BenchLine) => void): Promise<void> {
  const clock = new ManualClock(SCAN_AT);
  const due = dueLibrary(plan.due);
  const others = otherLoans(plan.total - plan.due, due.patrons.length);
  const titles = 5000;
  const installs: BenchInstall[] = [];
  try {
    const buildStart = performance.now();
    const small = await prepare('scan-small', { patrons: due.patrons, loans: due.loans, titles }, clock);
    installs.push(small);
    const large = await prepare('scan-large', { patrons: [...due.patrons, ...others.patrons], loans: [...due.loans, ...others.loans], titles }, clock);
    installs.push(large);
    const buildMs = performance.now() - buildStart;

    const sizes: Sized[] = [
      { install: small, loans: plan.due, times: [], problems: [] },
      { install: large, loans: plan.total, times: [], problems: [] },
    ];
    for (const sized of sizes) await timeScan(sized, due.reminders); // warm-up, untimed
    for (let run = 0; run < plan.runs; run += 1) {
      for (const sized of run % 2 === 0 ? sizes : [...sizes].reverse()) sized.times.push(await timeScan(sized, due.reminders));
    }
    const [smallRun, largeRun] = sizes as [Sized, Sized];
    const smallMs = median(smallRun.times);
    const largeMs = median(largeRun.times);
    const problems = [...smallRun.problems, ...largeRun.problems];
    const plans = [await duePlan(small.deps.db), await duePlan(large.deps.db)];
    const querySmall = await timeDueQuery(small.deps.db, plan.runs);
    const queryLarge = await timeDueQuery(large.deps.db, plan.runs);
    const queryUnindexed = await timeDueQuery(large.deps.db, plan.runs, true);
    report({
      name: 'reminder scan',
      text:
        `${plan.total} loans ${ms(largeMs).padStart(8)}  vs  ${plan.due} loans ${ms(smallMs).padStart(8)}  ` +
        `ratio ${ratio(largeMs / smallMs)}  (${plan.due} due, ${due.reminders} reminders written, median of ${plan.runs})`,
      ok: problems.length === 0,
      notes: [
        `runs ${plan.total} loans: ${largeRun.times.map(ms).join(', ')}; ${plan.due} loans: ${smallRun.times.map(ms).join(', ')}`,
        `plan for loans: ${plans[0]} (${plan.due} loans); ${plans[1]} (${plan.total} loans)`,
        `the due-loan query alone: ${ms(querySmall)} (${plan.due} loans), ${ms(queryLarge)} (${plan.total} loans), ` +
          `${ms(queryUnindexed)} (${plan.total} loans, index not used)`,
        `libraries written in ${(buildMs / 1000).toFixed(1)} s`,
        ...problems,
      ],
    });
  } finally {
    for (const install of installs.reverse()) await install.dispose();
  }
}
