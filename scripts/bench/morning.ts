/**
 * Benchmark `morning` (issue 24): the window opens at 08:45 on the night's backlog while patrons
 * text. Two libraries on one forny (a libraries file): `default` (keyword HBK) posts 20,000 reminder
 * notices at 21:30, `b` posts 200; at 08:45 both backlogs are due at once, and 300 patrons of
 * `default` text `HBK FORNY ALLE` during the drain (signed webhooks over HTTP, real workers, sandbox
 * SMS, SQLite, Redis). The same run without the notices is the baseline.
 *
 * Printed: the reply time (webhook posted → reply handed to the provider) p50/p99 against the
 * baseline's (the ratio is the figure); when library b's last notice left against its fair share
 * (2 × 200 / rate: the 200 interleaved one for one with the large library's); the rate SMS left at
 * against SMS_RATE_PER_SECOND (and the busiest second); RSS before the opening and after. Checks:
 * every reply sent once, no SMS twice, none before 08:45, the rate held. Run on SQLite and on
 * PostgreSQL (a database of its own on the project's server, dropped after).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reconcile } from '../../jobs/reconcile.js';
import { createApp } from '../../src/http/create-app.js';
import { busiest } from '../../test/helpers/busiest.js';
import { FakeTwilio } from '../../test/helpers/fake-twilio.js';
import { createPostgresDatabase } from '../../test/helpers/postgres.js';
import { benchMobile, writeLibrary } from './library.js';
import { renewalLibrary } from './renew-all.js';
import { fittedRate } from './sms-drain.js';
import { createInstall, ShiftableClock, type BenchInstall, mb, memory, ms, percentile, perSecond, postRenewAll, ratio, sleep, waitFor, type BenchLine, type MemorySnapshot } from './support.js';

/** 08:45 on a Tuesday in winter, and 21:30 the evening before. */
const OPENING = new Date('2026-12-01T08:45:00+01:00');
const EVENING = new Date('2026-11-30T21:30:00+01:00');
const TOKENS = { default: 'bench-morning-token-default-0123456789abcdef', b: 'bench-morning-token-library-b-0123456789abcdef' } as const;

export interface MorningPlan {
  /** SMS_RATE_PER_SECOND. */
  readonly rate: number;
  /** Notices of the large library and of the small one. */
  readonly large: number;
  readonly small: number;
  /** Patrons texting HBK FORNY ALLE during the drain, and how many per second. */
  readonly renewAlls: number;
  readonly renewAllsPerSecond: number;
}

const noticeMobile = (library: 'default' | 'b', index: number) => `+45${library === 'default' ? 4 : 5}${String(index).padStart(7, '0')}`;

function noticeBodies(library: 'default' | 'b', count: number): string[] {
  const bodies: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const notices = Array.from({ length: Math.min(1000, count - start) }, (_, offset) => {
      const n = start + offset;
      return {
        id: `${library}-2026-11-30-${String(n).padStart(6, '0')}`,
        kind: 'reminder',
        patron: { cardNumber: `${library}-card${n}`, name: `Låner ${n}`, mobile: noticeMobile(library, n), email: null, smsOptIn: true, emailOptIn: false },
        loans: [{ itemId: `${library}-item${n}`, title: 'Babettes gæstebud', dueDate: '2026-12-04' }],
        reservation: null,
      };
    });
    bodies.push(JSON.stringify(notices));
  }
  return bodies;
}

interface MorningRun {
  readonly replyTimes: readonly number[];
  /** Last send of library b after the opening (ms); NaN when b had none. */
  readonly smallDoneMs: number;
  /** Replies that left between the opening and library b's last notice: they go first, so b's fair share is of the rest. */
  readonly repliesBeforeSmallDone: number;
  readonly achievedRate: number;
  readonly peakPerSecond: number;
  readonly sent: number;
  readonly before: MemorySnapshot;
  readonly after: MemorySnapshot;
  readonly problems: readonly string[];
}

async function morning(plan: MorningPlan, withBacklog: boolean, database: 'sqlite' | 'postgres'): Promise<MorningRun> {
  const postgres = database === 'postgres' ? await createPostgresDatabase() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'forny-bench-morning-'));
  const librariesFile = join(dir, 'libraries.json');
  writeFileSync(
    librariesFile,
    JSON.stringify({
      gatewayName: 'Bibliotekerne',
      libraries: [
        { id: 'default', name: 'Helsingør Kommunes Biblioteker', keywords: ['HBK'], site: 'helsbib.dk', noticesToken: TOKENS.default },
        { id: 'b', name: 'Fredensborg Bibliotekerne', keywords: ['FRB'], site: 'fredensborgbib.dk', noticesToken: TOKENS.b },
      ],
    }),
  );
  const clock = new ShiftableClock();
  clock.setNow(EVENING);
  // Real HTTP to a Twilio on loopback: the transport forny paces (the sandbox is not paced).
  const twilio = await new FakeTwilio().start();
  const sends = twilio.messages;
  let server: Server | undefined;
  let install: BenchInstall | undefined;
  try {
    install = await createInstall('morning', {
      clock,
      env: {
        LIBRARIES_FILE: librariesFile,
        SMS_RATE_PER_SECOND: String(plan.rate),
        // No loan of the texting patrons is due in 7 days: forny's own reminder scan (run by the
        // reconciler's tick) writes nothing, so the run without notices has no backlog at all.
        REMINDER_DAYS_BEFORE: '7',
        SMS_TRANSPORT: 'twilio',
        TWILIO_ACCOUNT_SID: twilio.accountSid,
        TWILIO_AUTH_TOKEN: twilio.authToken,
        TWILIO_API_BASE_URL: twilio.url,
        ...(postgres ? { DATABASE_URL: postgres.url } : {}),
      },
    });
    const { deps, config } = install;
    await writeLibrary(deps.db, renewalLibrary(plan.renewAlls), EVENING);
    const app = createApp(deps);
    const listening = await new Promise<Server>((resolve) => {
      const started = app.listen(0, '127.0.0.1', () => resolve(started));
    });
    server = listening;
    const baseUrl = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
    const problems: string[] = [];

    const large = withBacklog ? plan.large : 0;
    const small = withBacklog ? plan.small : 0;
    for (const [library, count] of [['default', large], ['b', small]] as const) {
      for (const body of noticeBodies(library, count)) {
        const response = await fetch(`${baseUrl}/api/notices`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKENS[library]}` }, body });
        await response.arrayBuffer();
        if (response.status !== 202) throw new Error(`POST /api/notices answered ${response.status}`);
      }
    }

    const before = memory();
    // The reconciler's last tick before the opening gives the night's SMS their jobs (as it would
    // between 08:43 and 08:45), then the opening.
    clock.setNow(new Date(OPENING.getTime() - 10_000));
    await reconcile(install.deps);
    const openingAt = Date.now() + (OPENING.getTime() - clock.now().getTime());
    install.startWorkers();
    await sleep(Math.max(0, openingAt - Date.now()) + 1000);

    // The patrons text during the drain, evenly spaced.
    const posted = new Map<string, number>();
    const numbers = Array.from({ length: plan.renewAlls }, (_, index) => benchMobile(index));
    const spacing = 1000 / plan.renewAllsPerSecond;
    const textsStarted = Date.now();
    await Promise.all(
      numbers.map(async (number, index) => {
        await sleep(Math.max(0, textsStarted + index * spacing - Date.now()));
        posted.set(number, Date.now());
        const status = await postRenewAll(baseUrl, config.sms.authToken, number);
        if (status !== 200) problems.push(`webhook answered ${status}`);
      }),
    );
    // The answer, not the reminder the 08:45 scan may write for the same patron's loans.
    const replyOf = (number: string) => sends.find((send) => send.to === number && / af \d+ lån er fornyet/.test(send.body));
    const answered = await waitFor(() => numbers.every((number) => replyOf(number) !== undefined), 120_000, 50);
    if (!answered) problems.push(`${numbers.filter((number) => !replyOf(number)).length} of ${numbers.length} renew-alls not answered within 120 s`);
    const smallNumbers = new Set(Array.from({ length: small }, (_, index) => noticeMobile('b', index)));
    const smallSends = () => sends.filter((send) => smallNumbers.has(send.to));
    if (small > 0 && !(await waitFor(() => smallSends().length >= small, 120_000, 50))) problems.push(`library b: ${smallSends().length} of ${small} notices sent within 120 s`);
    await sleep(1000); // a second send of anything would show now
    const after = memory();
    const workersClosing = install.dispose();

    const replyTimes = numbers.flatMap((number) => {
      const reply = replyOf(number);
      const at = posted.get(number);
      return reply && at !== undefined ? [reply.createdAt.getTime() - at] : [];
    });
    const seen = new Set<string>();
    for (const send of sends) {
      const key = `${send.to}\n${send.body}`;
      if (seen.has(key)) problems.push(`${send.to} got the same SMS twice`);
      seen.add(key);
    }
    const times = sends.map((send) => send.createdAt.getTime());
    if ((times[0] ?? openingAt) < openingAt - 5) problems.push(`an SMS left ${(openingAt - (times[0] ?? 0)).toFixed(0)} ms before 08:45`);
    const smallDone = smallSends().map((send) => send.createdAt.getTime());
    const replyTimesAt = numbers.flatMap((number) => replyOf(number)?.createdAt.getTime() ?? []);
    await workersClosing;
    return {
      replyTimes,
      smallDoneMs: smallDone.length > 0 ? Math.max(...smallDone) - openingAt : Number.NaN,
      repliesBeforeSmallDone: replyTimesAt.filter((at) => at <= Math.max(...smallDone)).length,
      achievedRate: fittedRate(times),
      peakPerSecond: busiest(times, 1000),
      sent: times.length,
      before,
      after,
      problems,
    };
  } finally {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await install?.dispose();
    await twilio.stop();
    await postgres?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchMorning(plan: MorningPlan, database: 'sqlite' | 'postgres', report: (line: BenchLine) => void): Promise<void> {
  const quiet = await morning(plan, false, database);
  const busy = await morning(plan, true, database);
  // b's 200 one for one with the large library's: 400 slots, plus the replies that went first.
  const fairShareMs = ((2 * plan.small) / plan.rate) * 1000;
  const fairWithRepliesMs = ((2 * plan.small + busy.repliesBeforeSmallDone) / plan.rate) * 1000;
  const p50 = percentile(busy.replyTimes, 50);
  const p99 = percentile(busy.replyTimes, 99);
  const quietP50 = percentile(quiet.replyTimes, 50);
  const quietP99 = percentile(quiet.replyTimes, 99);
  const rateHeld = busy.achievedRate <= plan.rate * 1.05 && busy.peakPerSecond <= Math.ceil(plan.rate * 1.1);
  const problems = [...quiet.problems, ...busy.problems];
  report({
    name: database === 'sqlite' ? 'morning' : 'morning postgres',
    text:
      `reply p50 ${ms(p50)} p99 ${ms(p99)} vs no backlog p50 ${ms(quietP50)} p99 ${ms(quietP99)}: ratio ${ratio(p50 / quietP50)} (p50) ${ratio(p99 / quietP99)} (p99); ` +
      `library b done ${(busy.smallDoneMs / 1000).toFixed(1)} s vs fair share ${(fairShareMs / 1000).toFixed(1)} s: ratio ${ratio(busy.smallDoneMs / fairShareMs)}`,
    ok: problems.length === 0 && rateHeld && p50 <= 2000 && p99 <= 5000 && busy.smallDoneMs <= fairWithRepliesMs * 1.1,
    notes: [
      `${plan.large} + ${plan.small} notices written at 21:30, ${plan.renewAlls} HBK FORNY ALLE at ${plan.renewAllsPerSecond}/s from 08:45:01; rate ${perSecond(busy.achievedRate)} sent vs ${perSecond(plan.rate)} configured ` +
        `(ratio ${ratio(busy.achievedRate / plan.rate)}), busiest second ${busy.peakPerSecond}; ${busy.sent} SMS sent before the run stopped`,
      `library b's fair share counting the ${busy.repliesBeforeSmallDone} replies that went first: ${(fairWithRepliesMs / 1000).toFixed(1)} s (ratio ${ratio(busy.smallDoneMs / fairWithRepliesMs)})`,
      `rss ${mb(busy.before.rss)} before 08:45 → ${mb(busy.after.rss)} after (ratio ${ratio(busy.after.rss / busy.before.rss)}); heapUsed ${mb(busy.before.heapUsed)} → ${mb(busy.after.heapUsed)}`,
      problems.length === 0 ? 'every patron answered once, no SMS twice, none before 08:45' : `CHECK FAILED: ${problems.slice(0, 5).join('; ')}`,
    ],
  });
}
