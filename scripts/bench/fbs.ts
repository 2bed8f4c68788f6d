/**
 * The cost of one renew-all in the library's own system, FBS (SPEC §13) beside SIP2 (SPEC §10):
 * the port's renewAll for one patron with five loans (three renewed, two refused), one request at a
 * time, against each simulator on loopback in this process, on a temp SQLite file. Rounds alternate
 * SIP2 and FBS so both see the same machine. Prints latency (p50/p95), renew-alls per second, CPU
 * per renew-all (this process: forny's side and the simulator's together), and what each costs at
 * the system: SIP2 messages or FBS HTTP calls per renew-all (FBS's one login is shared by all).
 *
 * Checks: every loan the system allows renewed exactly once, none twice.
 *
 * `npx tsx scripts/bench/fbs.ts` or `npm run bench -- systems`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';
import { insertInbound } from '../../db/repositories/inbound.js';
import type { Patron } from '../../db/repositories/library.js';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/logger.js';
import { createFbsLibrarySystem } from '../../src/library/fbs/adapter.js';
import { parseFbsUrl } from '../../src/library/fbs/url.js';
import type { LibrarySystem } from '../../src/library/library-system.js';
import { createSip2LibrarySystem } from '../../src/library/sip2/adapter.js';
import { parseSip2Url } from '../../src/library/sip2/url.js';
import { FbsServer } from '../../test/helpers/fbs-server.js';
import { Sip2Server } from '../../test/helpers/sip2-server.js';
import { ms, percentile, perSecond, printLine, ratio, type BenchLine } from './support.js';

const NOW = '2026-12-01T10:00:00Z';
const PASSWORD = 'bench-password';

export interface SystemsPlan {
  /** Patrons per system, one renew-all each (plus a few untimed warm-up ones). */
  readonly patrons: number;
  readonly rounds: number;
}

interface Measured {
  readonly latencies: number[];
  cpuMs: number;
  wallMs: number;
}

const card = (index: number) => `C${String(index).padStart(9, '0')}`;

export async function benchLibrarySystems(plan: SystemsPlan): Promise<BenchLine> {
  const dir = mkdtempSync(join(tmpdir(), 'forny-bench-systems-'));
  const db = createKnex(`sqlite:${join(dir, 'bench.sqlite')}`);
  const clock = new ManualClock(NOW);
  const logger = createLogger('silent');
  const warmUp = 20;
  const total = plan.patrons * plan.rounds + warmUp;
  const sip2 = new Sip2Server({ password: PASSWORD, institution: 'HBK', today: '2026-12-01', renewalDays: 14, pageSize: 10 });
  const fbs = new FbsServer({ password: PASSWORD, today: '2026-12-01', renewalDays: 14, maxRenewals: 3 });
  for (let index = 0; index < total; index += 1) {
    sip2.addPatron({
      card: card(index),
      name: `Låner ${index}`,
      items: Array.from({ length: 5 }, (_, n) => ({ id: `I-${index}-${n}`, title: `Bog ${n}`, dueDate: '2026-12-03', renewals: n === 1 ? 2 : 0, maxRenewals: 2, onHold: n === 0 })),
    });
    fbs.addPatron({
      card: card(index),
      patronId: 100_000 + index,
      loans: Array.from({ length: 5 }, (_, n) => ({ loanId: index * 10 + n + 1, itemNumber: `5${index}${n}`, dueDate: '2026-12-03', renewals: n === 1 ? 3 : 0, reserved: n === 0 })),
    });
  }
  try {
    await migrateToLatest(db);
    const sip2Port = await sip2.start();
    const fbsPort = await fbs.start();
    const systems: Record<'sip2' | 'fbs', LibrarySystem> = {
      sip2: createSip2LibrarySystem(parseSip2Url(`sip2://forny:${PASSWORD}@127.0.0.1:${sip2Port}?institution=HBK&location=HB01`), { db, clock, logger }),
      fbs: createFbsLibrarySystem(parseFbsUrl(`fbs+http://forny:${PASSWORD}@127.0.0.1:${fbsPort}?agency=761500`), { db, clock, logger }),
    };
    const measured: Record<'sip2' | 'fbs', Measured> = { sip2: { latencies: [], cpuMs: 0, wallMs: 0 }, fbs: { latencies: [], cpuMs: 0, wallMs: 0 } };
    let sid = 0;
    const renewOne = async (kind: 'sip2' | 'fbs', index: number) => {
      const { message } = await insertInbound(
        db,
        { messageSid: `SM${String(++sid).padStart(32, '0')}`, accountSid: null, fromNumber: '+4530000000', toNumber: '1910', body: 'HBK FORNY ALLE', command: 'renew-all', status: 'received', libraryId: 'default' },
        clock.now(),
      );
      const patron: Patron = { id: `p${index}`, cardNumber: card(index), name: '', mobile: null, smsOptIn: false, email: null, emailOptIn: false, libraryId: 'default' };
      const started = performance.now();
      const report = await systems[kind].renewAll({ db, inboundId: message.id, patrons: [patron], now: clock.now(), deadline: new Date(Date.parse(NOW) + 3_600_000) });
      if (report.results.filter((result) => result.outcome === 'renewed').length !== 3) throw new Error(`${kind}: patron ${index} had ${report.results.length} results, not 3 renewed`);
      return performance.now() - started;
    };
    let next = 0;
    for (const kind of ['sip2', 'fbs'] as const) for (let i = 0; i < warmUp / 2; i += 1) await renewOne(kind, next++);
    const sip2Before = sip2.received.length;
    const fbsBefore = fbs.received.length;
    const loginsBefore = fbs.count('login');
    for (let round = 0; round < plan.rounds; round += 1) {
      for (const kind of round % 2 === 0 ? (['sip2', 'fbs'] as const) : (['fbs', 'sip2'] as const)) {
        const cpu = process.cpuUsage();
        const wall = performance.now();
        for (let i = 0; i < plan.patrons / 2; i += 1) measured[kind].latencies.push(await renewOne(kind, next++));
        const used = process.cpuUsage(cpu);
        measured[kind].cpuMs += (used.user + used.system) / 1000;
        measured[kind].wallMs += performance.now() - wall;
      }
    }
    const count = (kind: 'sip2' | 'fbs') => measured[kind].latencies.length;
    const sip2Messages = (sip2.received.length - sip2Before) / count('sip2');
    const fbsCalls = (fbs.received.length - fbsBefore) / count('fbs');
    const twice = fbs.renewedLoans.length !== new Set(fbs.renewedLoans).size;
    await systems.sip2.close();
    await systems.fbs.close();
    const line = (kind: 'sip2' | 'fbs') => {
      const m = measured[kind];
      return `p50 ${ms(percentile(m.latencies, 50))} p95 ${ms(percentile(m.latencies, 95))} ${perSecond((count(kind) / m.wallMs) * 1000)} cpu ${ms(m.cpuMs / count(kind))}`;
    };
    const cpuRatio = measured.fbs.cpuMs / count('fbs') / (measured.sip2.cpuMs / count('sip2'));
    return {
      name: 'renew-all FBS vs SIP2',
      text: `FBS ${line('fbs')}  vs  SIP2 ${line('sip2')}  cpu ratio ${ratio(cpuRatio)}  (5 loans, 3 renewed, one patron at a time, simulators in-process on loopback, SQLite)`,
      ok: !twice,
      notes: [
        `per renew-all at the system: FBS ${fbsCalls.toFixed(1)} HTTP calls (patron, loans, renew: each card is new here; a card seen within a day skips the patron call; ${fbs.count('login') - loginsBefore} logins in ${count('fbs')} renew-alls, one at warm-up), SIP2 ${sip2Messages.toFixed(1)} messages (63, then 17 and 29 per loan)`,
      ],
    };
  } finally {
    await sip2.stop();
    await fbs.stop();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Run alone: `npx tsx scripts/bench/fbs.ts`.
if (import.meta.url === `file://${process.argv[1]}`) {
  printLine(await benchLibrarySystems({ patrons: 400, rounds: 4 }));
}
