/**
 * `npm run bench`: forny's speed and memory targets, each printed as a measured value, a baseline
 * measured in the same run, and their ratio (the standards: benchmarks print ratios, tests never
 * assert timings). Needs Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379); every benchmark
 * uses its own queue prefix and temp SQLite file and removes both, whatever happens.
 *
 * A line ends in OK or FAIL where it has checks (every SMS sent exactly once, none left waiting,
 * the drain never faster than the configured rate by more than 5 %, the scan writing what it
 * should); the exit code is 1 if any line failed.
 *
 * `npm run bench -- drain scan notices renew` runs only the benchmarks named.
 */
import { performance } from 'node:perf_hooks';
import { benchNotices } from './notices.js';
import { benchReminderScan } from './reminder-scan.js';
import { benchLibrarySystems } from './fbs.js';
import { benchRenewAllDirect, benchRenewAllEndToEnd } from './renew-all.js';
import { benchSmsDrain } from './sms-drain.js';
import { benchWebhook } from './webhook.js';
import { benchBurst } from './burst.js';
import { benchMorning } from './morning.js';
import { printLine, runPendingCleanups, write, type BenchLine } from './support.js';

const BENCHMARKS: Record<string, (report: (line: BenchLine) => void) => Promise<void>> = {
  drain: (report) =>
    benchSmsDrain(
      {
        // The SQLite pipeline's raw capacity on a 2-core machine measured 440–680 sends/s (printed as
        // "raw"); 350/s stays below it, so the limiter, not the pipeline, sets the pace (20,000 in 57 s).
        rate: 350,
        messages: 20_000,
        rawMessages: 5_000,
        defaultSeconds: 6,
      },
      report,
    ),
  scan: (report) => benchReminderScan({ due: 2_000, total: 100_000, runs: 9 }, report),
  notices: (report) => benchNotices({ requests: 20, perRequest: 1_000, withinMs: 30_000 }, report),
  renew: async (report) => {
    const plan = { messages: 1_000, endToEndMessages: 300 };
    const direct = await benchRenewAllDirect(plan);
    report(direct.line);
    report(await benchRenewAllEndToEnd(plan, direct));
  },
  burst: (report) => benchBurst({ patrons: 1_980, connections: 32 }, report),
  // The library's own system: FBS's renew-all beside SIP2's, each against its simulator on loopback.
  systems: async (report) => report(await benchLibrarySystems({ patrons: 400, rounds: 4 })),
  // 08:45 on the night's backlog of two libraries while patrons text (patrons first, libraries in turns).
  morning: async (report) => {
    const plan = { rate: 30, large: 20_000, small: 200, renewAlls: 300, renewAllsPerSecond: 10 };
    await benchMorning(plan, 'sqlite', report);
    await benchMorning(plan, 'postgres', report);
  },
  // An odd number of A/B pairs, so the ratio printed is one pair's, the middle one.
  webhook: async (report) => report(await benchWebhook({ connections: 32, seconds: 4, rounds: 3 })),
};

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(BENCHMARKS).join(', ')}\n`);
  process.exit(2);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: cleaning up\n`);
    void runPendingCleanups().finally(() => process.exit(130));
  });
}

const started = performance.now();
let failed = false;
write(`forny benchmarks · node ${process.version} · ${new Date().toISOString()}`);
for (const [name, bench] of Object.entries(BENCHMARKS)) {
  if (asked.length > 0 && !asked.includes(name)) continue;
  try {
    await bench((line) => {
      printLine(line);
      if (line.ok === false) failed = true;
    });
  } catch (error) {
    failed = true;
    printLine({ name, text: `crashed: ${(error as Error).stack ?? String(error)}`, ok: false });
  } finally {
    await runPendingCleanups();
  }
}
write(`${failed ? 'FAIL' : 'OK'} · ${((performance.now() - started) / 1000).toFixed(0)} s`);
// Client libraries (prom-client's default metrics, ioredis reconnect timers) may hold the loop open.
process.exit(failed ? 1 : 0);
