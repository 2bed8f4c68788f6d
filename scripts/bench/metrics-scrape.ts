/**
 * `tsx scripts/bench/metrics-scrape.ts [messages]`: what a /metrics scrape costs on a database of
 * `messages` stored messages (300 000 by default, half in, half out), and what it does to other
 * requests. The background refresh runs the reads a scrape used to run itself (issue 14), so its
 * time is the old cost of every scrape; the scrape now only serialises the cache.
 */
import type { Knex } from 'knex';
import { serve } from '../../src/http/serve.js';
import { createInstall, runPendingCleanups } from './support.js';

const total = Number(process.argv[2] ?? 300_000);

/**
 * Fills the message tables in SQL (seconds for 300k rows): a year of traffic, statuses and error
 * codes spread out, the instants in forny's stored form (ISO 8601, UTC).
 */
async function fill(db: Knex, count: number): Promise<void> {
  const half = Math.floor(count / 2);
  const at = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (n % 365) || ' days')";
  await db.raw(
    `with recursive seq(n) as (select 1 union all select n + 1 from seq where n < ?)
     insert into inbound_messages (message_sid, from_number, to_number, body, command, status, received_at)
     select 'SMbench' || n, '+4520' || (100000 + n % 50000), '1910', 'HBK FORNY ALLE', 'renew-all',
            case n % 10 when 0 then 'ignored' else 'processed' end, ${at}
     from seq`,
    [half],
  );
  await db.raw(
    `with recursive seq(n) as (select 1 union all select n + 1 from seq where n < ?)
     insert into outbound_messages (channel, kind, purpose, to_address, from_address, body, status, send_after, provider_sid, attempts, sent_at, status_at, error_code, created_at, updated_at)
     select case n % 5 when 0 then 'email' else 'sms' end, case n % 3 when 0 then 'reminder' else 'reply' end, 'renew-all',
            '+4520' || (100000 + n % 50000), '1910', 'N af M lån',
            case n % 20 when 0 then 'failed' when 1 then 'undelivered' when 2 then 'scheduled' else 'delivered' end,
            ${at}, 'SMout' || n, 1, ${at}, ${at}, case n % 20 when 0 then '21211' when 1 then '30003' else null end, ${at}, ${at}
     from seq`,
    [count - half],
  );
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? 0;
const ms = (value: number) => `${value.toFixed(1)} ms`;

async function timed<T>(run: () => Promise<T>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

const install = await createInstall('metrics-scrape');
try {
  const { deps } = install;
  const filling = await timed(() => fill(deps.db, total));
  const http = await serve(deps, { port: 0, host: '127.0.0.1' });
  try {
    const scrape = async () => (await fetch(`${http.url}/metrics`)).text();
    await scrape(); // the first scrape waits for the first refresh

    const refreshes: number[] = [];
    for (let run = 0; run < 5; run += 1) refreshes.push(await timed(() => http.refreshMetrics()));

    const scrapes: number[] = [];
    for (let run = 0; run < 50; run += 1) scrapes.push(await timed(scrape));

    // 20 scrapes at once, and a /healthz request in the middle of them.
    const burstStarted = performance.now();
    const burst = Promise.all(Array.from({ length: 20 }, () => scrape()));
    const healthz = await timed(async () => (await fetch(`${http.url}/healthz`)).text());
    await burst;
    const burstTime = performance.now() - burstStarted;

    process.stdout.write(
      [
        `messages stored: ${total} (filled in ${ms(filling)})`,
        `background refresh (the reads every scrape used to run): median ${ms(percentile(refreshes, 50))}, max ${ms(Math.max(...refreshes))}`,
        `scrape from the cache: median ${ms(percentile(scrapes, 50))}, p95 ${ms(percentile(scrapes, 95))}`,
        `20 concurrent scrapes: all answered in ${ms(burstTime)}; /healthz among them: ${ms(healthz)}`,
        '',
      ].join('\n'),
    );
  } finally {
    await http.close();
  }
} finally {
  await install.dispose();
  await runPendingCleanups();
}
