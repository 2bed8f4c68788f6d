/**
 * `npm run demo`: a newcomer's first run. A fresh demo database seeded with the demo library,
 * sandbox SMS (nothing leaves the machine), everything in one process; prints where to look.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { loadFixture } from '../db/load-fixture.js';
import { demoBranchLibrary, demoBranchPatronMobile, demoLibrary, DEMO_PATRON_MOBILE } from '../db/seeds/demo-library.js';
import { readEnvironment } from '../src/config.js';
import { dateIn } from '../src/domain/calendar-date.js';
import { nextSendTime } from '../src/domain/send-window.js';
import { formatInstant } from '../src/http/format.js';
import { addressOf, describeDatabase } from '../src/startup-lines.js';
import { removeDemoSession, writeDemoSession } from './demo-session.js';
import { configOrExit, runForny } from './run-forny.js';

/**
 * The demo's own database, one per port as its session file is: a second demo on another port in
 * the same folder starts fresh without deleting the first one's database under it.
 */
const demoDatabase = (port: number): string => `./data/demo-${port}.sqlite`;

/**
 * The demo's own queue prefix: one per folder it runs in and port, so demos of two checkouts on one
 * Redis, or two demos in one folder, never meet, and clearing the demo's queues at start touches
 * nothing else.
 */
const demoQueuePrefix = (folder: string, port: number): string => `forny-demo-${createHash('sha256').update(folder).digest('hex').slice(0, 8)}-${port}`;

const env = readEnvironment();
const demoConfig = (port: number) =>
  configOrExit({
    LOG_LEVEL: 'warn',
    ...env,
    // The demo never talks to Twilio or a mail server and never touches the real database.
    DATABASE_URL: `sqlite:${demoDatabase(port)}`,
    QUEUE_PREFIX: env.QUEUE_PREFIX || demoQueuePrefix(process.cwd(), port),
    SMS_TRANSPORT: 'sandbox',
    SMTP_URL: '',
  });
// PORT read (and checked) as forny reads it, then everything named after it.
const config = demoConfig(demoConfig(3000).port);
const DEMO_DATABASE = demoDatabase(config.port);

const running = await runForny({
  web: true,
  workers: true,
  privateRedis: true,
  config,
  printStartup: false,
  // Only once the port is ours: a second demo on a taken port must not delete the first one's data.
  prepare() {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${DEMO_DATABASE}${suffix}`, { force: true });
  },
  async beforeStart(deps) {
    // Queues from an earlier demo would refer to rows of the database just deleted. Obliterating
    // removes this prefix's keys of these queues and nothing else.
    for (const queue of deps.queues.all) await queue.obliterate({ force: true });
    const today = dateIn(deps.clock.now(), config.timeZone);
    // One library: the demo library as it always was. With LIBRARIES_FILE (libraries.example.json),
    // the first library gets it and each further one its own patrons, so routing can be tried.
    const [first, ...others] = config.libraries;
    await loadFixture(deps.db, demoLibrary(today), deps.clock.now(), first?.id);
    for (const [index, library] of others.entries()) await loadFixture(deps.db, demoBranchLibrary(index + 1, today), deps.clock.now(), library.id);
  },
});

const now = running.deps.clock.now();
const opens = nextSendTime(now, config.libraries[0]?.sendWindow ?? config.defaultSendWindow, config.timeZone);
const session = {
  pid: process.pid,
  port: config.port,
  baseUrl: running.url ?? `http://${config.host}:${config.port}`,
  publicBaseUrl: config.publicBaseUrl,
  adminUser: config.admin.user,
  adminPassword: config.admin.password,
  authToken: config.sms.authToken,
  defaultFrom: DEMO_PATRON_MOBILE,
};
writeDemoSession(session);
process.on('exit', () => removeDemoSession(session));

const redis = `${addressOf(running.deps.config.redisUrl, 6379)}, queue prefix "${config.queuePrefix}"${running.privateRedis ? ' (a private redis-server for this run)' : ''}`;
const npmRunSms = config.port === 3000 ? 'npm run sms --' : `PORT=${config.port} npm run sms --`;
const keywordOf = (index: number) => config.libraries[index]?.keywords[0] ?? 'HBK';
/** `npm run sms` lines with what each shows, the commands padded to one width. */
const tries = (rows: readonly (readonly [string, string])[]): string[] => {
  const width = Math.max(...rows.map(([command]) => command.length));
  return rows.map(([command, what]) => `  ${command.padEnd(width)}  (${what})`);
};
const [firstLibrary, secondLibrary] = config.libraries;
const tryLines =
  config.libraries.length === 1 || !firstLibrary || !secondLibrary
    ? ['In another shell, text forny as the demo patron Karen Blixen:', `  ${npmRunSms} "${keywordOf(0)} FORNY ALLE"`]
    : [
        `${config.libraries.length} libraries on one short code (${config.librariesFile ?? 'LIBRARIES_FILE'}):`,
        ...config.libraries.map((library) => `  ${library.id}: ${library.name}, keywords ${library.keywords.join(', ')}`),
        '',
        'In another shell, text forny as a patron of each library:',
        ...tries([
          [`${npmRunSms} "${keywordOf(0)} FORNY ALLE"`, `Karen Blixen at ${firstLibrary.id}`],
          ...config.libraries.slice(1).map((library, index) => [`${npmRunSms} --from ${demoBranchPatronMobile(index + 1)} "${keywordOf(index + 1)} FORNY ALLE"`, `H.C. Andersen at ${library.id}`] as const),
          [`${npmRunSms} "FORNY ALLE"`, `Karen Blixen holds cards at both ${firstLibrary.id} and ${secondLibrary.id}: forny asks which`],
        ]),
      ];
process.stdout.write(
  [
    '',
    'forny demo is running (sandbox SMS: nothing leaves this machine).',
    `  Clock:      ${formatInstant(now.toISOString(), config.timeZone)}${config.fakeNow ? ' (FAKE_NOW)' : ''}`,
    `  SMS window: ${opens.getTime() === now.getTime() ? 'open now' : `closed; opens ${formatInstant(opens.toISOString(), config.timeZone)}`}`,
    `  Dashboard:  ${running.url}/admin  (login ${config.admin.user} / ${config.admin.password})`,
    `  Queues:     ${running.url}/admin/queues`,
    `  Database:   ${describeDatabase(config.databaseUrl)} (fresh for every demo)`,
    `  Redis:      ${redis}`,
    '',
    ...tryLines,
    '',
    'Ctrl-C stops the demo.',
    '',
  ].join('\n'),
);
