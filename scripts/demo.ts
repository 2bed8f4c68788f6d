/**
 * `npm run demo`: a newcomer's first run. A fresh demo database seeded with the demo library,
 * sandbox SMS (nothing leaves the machine), everything in one process; prints where to look.
 */
import { rmSync } from 'node:fs';
import { loadFixture } from '../db/load-fixture.js';
import { demoLibrary, DEMO_PATRON_MOBILE } from '../db/seeds/demo-library.js';
import { readEnvironment } from '../src/config.js';
import { dateIn } from '../src/domain/calendar-date.js';
import { formatInstant } from '../src/http/format.js';
import { nextSendTime } from '../src/domain/send-window.js';
import { removeDemoSession, writeDemoSession } from './demo-session.js';
import { configOrExit, runForny } from './run-forny.js';

const DEMO_DATABASE = './data/demo.sqlite';

const env = readEnvironment();
const config = configOrExit({
  LOG_LEVEL: 'warn',
  ...env,
  // The demo never talks to Twilio and never touches the real database or queues.
  DATABASE_URL: `sqlite:${DEMO_DATABASE}`,
  QUEUE_PREFIX: env.DEMO_QUEUE_PREFIX ?? 'forny-demo',
  SMS_TRANSPORT: 'sandbox',
  SMTP_URL: '',
});
for (const suffix of ['', '-wal', '-shm']) rmSync(`${DEMO_DATABASE}${suffix}`, { force: true });

const running = await runForny({
  web: true,
  workers: true,
  privateRedis: true,
  config,
  async beforeStart(deps) {
    // Queues from an earlier demo would refer to rows of the database just deleted.
    for (const queue of deps.queues.all) await queue.obliterate({ force: true });
    const today = dateIn(deps.clock.now(), config.timeZone);
    await loadFixture(deps.db, demoLibrary(today), deps.clock.now());
  },
});

const now = running.deps.clock.now();
const opens = nextSendTime(now, config.sendWindow, config.timeZone);
writeDemoSession({
  pid: process.pid,
  baseUrl: running.url ?? `http://${config.host}:${config.port}`,
  publicBaseUrl: config.publicBaseUrl,
  adminUser: config.admin.user,
  adminPassword: config.admin.password,
  authToken: config.sms.authToken,
  defaultFrom: DEMO_PATRON_MOBILE,
});
process.on('exit', () => removeDemoSession(process.pid));

process.stdout.write(
  [
    '',
    'forny demo is running (sandbox SMS: nothing leaves this machine).',
    `  Clock:      ${formatInstant(now.toISOString(), config.timeZone)}${config.fakeNow ? ' (FAKE_NOW)' : ''}`,
    `  SMS window: ${opens.getTime() === now.getTime() ? 'open now' : `closed; opens ${formatInstant(opens.toISOString(), config.timeZone)}`}`,
    `  Dashboard:  ${running.url}/admin  (login ${config.admin.user} / ${config.admin.password})`,
    `  Queues:     ${running.url}/admin/queues`,
    '',
    'In another shell, text forny as the demo patron Karen Blixen:',
    '  npm run sms -- "HBK FORNY ALLE"',
    '',
    'Ctrl-C stops the demo.',
    '',
  ].join('\n'),
);
