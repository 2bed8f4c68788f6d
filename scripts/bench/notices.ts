/**
 * Benchmark (issue 12, item 5): a morning's reminders from a large library's system, 20,000 notices
 * as 20 requests of 1,000, posted to `POST /api/notices` at 21:30 over real HTTP (SQLite, Redis).
 * Measured: notices accepted per second, request after request, against bare `JSON.parse` of the
 * same 20 bodies in the same run (the least any server must do with them). Checks: every notice
 * stored once with one SMS waiting for 08:45 and one e-mail (its job at once), no send-sms job
 * written at night, the reconciler's tick at 08:44 giving every SMS its job (timed), and the whole
 * batch taken in within seconds. (The drain at SMS_RATE_PER_SECOND from 08:45 is the `drain` benchmark's: the same
 * outbox and send-sms path.)
 */
import { performance } from 'node:perf_hooks';
import { reconcile } from '../../jobs/reconcile.js';
import { ManualClock } from '../../src/clock.js';
import { serve } from '../../src/http/serve.js';
import { createInstall, ms, perSecond, ratio, type BenchLine } from './support.js';

const TOKEN = 'bench-notices-token-0123456789abcdef0123';
const EVENING = '2026-12-01T21:30:00+01:00';

export interface NoticesPlan {
  readonly requests: number;
  readonly perRequest: number;
  /** The check: the whole batch taken in within this. */
  readonly withinMs: number;
}

function bodies(plan: NoticesPlan): string[] {
  return Array.from({ length: plan.requests }, (_, request) =>
    JSON.stringify(
      Array.from({ length: plan.perRequest }, (_, index) => {
        const n = request * plan.perRequest + index;
        return {
          id: `fbs-2026-12-01-${String(n).padStart(6, '0')}`,
          kind: 'reminder',
          patron: { cardNumber: `card${n}`, name: `Låner ${n}`, mobile: `+452${String(n).padStart(7, '0')}`, email: `laaner${n}@example.dk`, smsOptIn: true, emailOptIn: true },
          loans: [
            { itemId: `item${n}a`, title: 'Babettes gæstebud', dueDate: '2026-12-04' },
            { itemId: `item${n}b`, title: 'Kongens fald', dueDate: '2026-12-04' },
          ],
          reservation: null,
        };
      }),
    ),
  );
}

export async function benchNotices(plan: NoticesPlan, report: (line: BenchLine) => void): Promise<void> {
  const total = plan.requests * plan.perRequest;
  const payloads = bodies(plan);

  // The baseline: parsing the same bodies, nothing else.
  const parseStarted = performance.now();
  let parsed = 0;
  for (const payload of payloads) parsed += (JSON.parse(payload) as unknown[]).length;
  const parseMs = performance.now() - parseStarted;

  const clock = new ManualClock(EVENING);
  const install = await createInstall('notices', { env: { NOTICES_TOKEN: TOKEN }, clock });
  try {
    const http = await serve(install.deps, { port: 0, host: '127.0.0.1' });
    try {
      const perRequest: number[] = [];
      const started = performance.now();
      for (const payload of payloads) {
        const requestStarted = performance.now();
        const response = await fetch(`${http.url}/api/notices`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: payload });
        await response.arrayBuffer();
        if (response.status !== 202) throw new Error(`POST /api/notices answered ${response.status}`);
        perRequest.push(performance.now() - requestStarted);
      }
      const takenMs = performance.now() - started;

      const db = install.deps.db;
      const count = (row: { n?: string | number } | undefined) => Number(row?.n ?? 0);
      const stored = count(await db('notices').count({ n: '*' }).first());
      const sms = count(await db('outbound_messages').where({ channel: 'sms', status: 'scheduled', send_after: '2026-12-02T07:45:00.000Z' }).count({ n: '*' }).first());
      const email = count(await db('outbound_messages').where({ channel: 'email' }).count({ n: '*' }).first());
      // The night's SMS take no job at intake; the reconciler's tick before 08:45 gives them theirs.
      const jobsAtNight = await install.deps.queues.sendSms.getDelayedCount();
      const emailJobs = await install.deps.queues.sendEmail.getJobCountByTypes('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
      clock.set('2026-12-02T08:44:00+01:00');
      const moveStarted = performance.now();
      const moved = (await reconcile(install.deps)).outbound;
      const moveMs = performance.now() - moveStarted;
      const delayed = await install.deps.queues.sendSms.getDelayedCount();
      const ok = stored === total && sms === total && email === total && emailJobs === total && jobsAtNight === 0 && moved === total && delayed === total && parsed === total && takenMs <= plan.withinMs;
      const accepted = (total / takenMs) * 1000;
      const baseline = (total / parseMs) * 1000;
      report({
        name: 'notices',
        text: `${perSecond(accepted)} notices accepted (${total} in ${ms(takenMs)}) vs bare JSON.parse ${perSecond(baseline)}: ratio ${ratio(accepted / baseline)}`,
        ok,
        notes: [
          `per request of ${plan.perRequest}: slowest ${ms(Math.max(...perRequest))}, fastest ${ms(Math.min(...perRequest))}`,
          `stored ${stored} notices, ${sms} SMS waiting for 08:45 (${jobsAtNight} send-sms jobs at 21:30), ${email} e-mails (${emailJobs} jobs); within ${ms(plan.withinMs)}: ${takenMs <= plan.withinMs ? 'yes' : 'no'}`,
          `the reconciler's tick at 08:44 gave the ${moved} SMS their jobs (${delayed} delayed to 08:45) in ${ms(moveMs)}`,
        ],
      });
    } finally {
      await http.close();
    }
  } finally {
    await install.dispose();
  }
}
