import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig, readEnvironment, type Config } from '../../src/config.js';

type Env = Record<string, string | undefined>;

const SID = `AC${'0123456789abcdef'.repeat(2)}`;

describe('loadConfig defaults (SPEC §6), with nothing set', () => {
  const rows: { name: string; read: (config: Config) => unknown; expected: unknown }[] = [
    { name: 'listens on port 3000', read: (c) => c.port, expected: 3000 },
    { name: 'listens on 127.0.0.1', read: (c) => c.host, expected: '127.0.0.1' },
    { name: 'expects Twilio to call http://127.0.0.1:3000', read: (c) => c.publicBaseUrl, expected: 'http://127.0.0.1:3000' },
    { name: 'uses the embedded SQLite file', read: (c) => c.databaseUrl, expected: 'sqlite:./data/forny.sqlite' },
    { name: 'uses Redis on 127.0.0.1:6379', read: (c) => c.redisUrl, expected: 'redis://127.0.0.1:6379' },
    { name: 'knows REDIS_URL was not given (npm start may run its own Redis)', read: (c) => c.redisUrlGiven, expected: false },
    { name: 'prefixes queues with forny', read: (c) => c.queuePrefix, expected: 'forny' },
    { name: 'stores SMS in the sandbox', read: (c) => c.sms.transport, expected: 'sandbox' },
    { name: 'sends from 1910', read: (c) => c.sms.from, expected: '1910' },
    { name: 'keeps Copenhagen time', read: (c) => c.timeZone, expected: 'Europe/Copenhagen' },
    { name: 'sends SMS between 08:45 and 20:00', read: (c) => c.libraries[0]?.sendWindow, expected: { start: { hour: 8, minute: 45 }, end: { hour: 20, minute: 0 } } },
    { name: 'sends at most 30 SMS a second', read: (c) => c.sms.ratePerSecond, expected: 30 },
    { name: 'defers replies outside the window', read: (c) => c.sms.repliesOutsideWindow, expected: 'defer' },
    { name: 'reminds 3 days before the due date', read: (c) => c.reminders.daysBefore, expected: 3 },
    { name: 'scans for reminders at 07:00', read: (c) => c.reminders.scanAt, expected: { hour: 7, minute: 0 } },
    { name: 'stores e-mail in the sandbox', read: (c) => c.mail.smtpUrl, expected: undefined },
    { name: 'names the operator admin', read: (c) => c.admin.user, expected: 'admin' },
    { name: 'generates the operator password and says so', read: (c) => c.admin.passwordGenerated, expected: true },
    { name: 'runs on the real clock', read: (c) => c.fakeNow, expected: undefined },
    { name: 'speaks as Helsingør Kommunes Biblioteker', read: (c) => c.libraries[0]?.name, expected: 'Helsingør Kommunes Biblioteker' },
    { name: 'points patrons to helsbib.dk', read: (c) => c.libraries[0]?.site, expected: 'helsbib.dk' },
    { name: 'takes HBK and HKB as keywords, HBK first', read: (c) => c.libraries[0]?.keywords, expected: ['HBK', 'HKB'] },
    { name: 'gives up a renew-all after 60 minutes', read: (c) => c.jobs.renewAllGiveUpMs, expected: 60 * 60_000 },
    { name: 'sends e-mail in the library\'s name from helsbib.dk', read: (c) => c.libraries[0]?.mailFrom, expected: '"Helsingør Kommunes Biblioteker" <noreply@helsbib.dk>' },
  ];

  for (const row of rows) {
    it(row.name, () => {
      expect(row.read(loadConfig({}))).to.deep.equal(row.expected);
    });
  }

  it('generates a different, non-trivial password each start', () => {
    const first = loadConfig({}).admin.password;
    const second = loadConfig({}).admin.password;
    expect(first).to.have.length.of.at.least(12);
    expect(first).to.not.equal(second);
  });
});

describe('loadConfig with variables set', () => {
  const rows: { name: string; env: Env; read: (config: Config) => unknown; expected: unknown }[] = [
    { name: 'a Twilio account SID selects the twilio transport', env: { TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 'secret-token' }, read: (c) => c.sms.transport, expected: 'twilio' },
    {
      name: 'SMS_TRANSPORT=sandbox wins over credentials',
      env: { SMS_TRANSPORT: 'sandbox', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 'secret-token' },
      read: (c) => c.sms.transport,
      expected: 'sandbox',
    },
    // .env.example lists every variable, many of them blank.
    { name: 'a blank TWILIO_ACCOUNT_SID means the sandbox', env: { TWILIO_ACCOUNT_SID: '' }, read: (c) => c.sms.transport, expected: 'sandbox' },
    { name: 'PUBLIC_BASE_URL follows PORT when unset', env: { PORT: '8080' }, read: (c) => c.publicBaseUrl, expected: 'http://127.0.0.1:8080' },
    { name: 'PUBLIC_BASE_URL loses its trailing slash', env: { PUBLIC_BASE_URL: 'https://forny.helsbib.dk/' }, read: (c) => c.publicBaseUrl, expected: 'https://forny.helsbib.dk' },
    { name: 'PORT is read as a number', env: { PORT: '8080' }, read: (c) => c.port, expected: 8080 },
    { name: 'REDIS_URL is used and known to be given', env: { REDIS_URL: 'redis://cache:6380' }, read: (c) => [c.redisUrl, c.redisUrlGiven], expected: ['redis://cache:6380', true] },
    { name: 'a Postgres DATABASE_URL is accepted', env: { DATABASE_URL: 'postgres://forny@db/forny' }, read: (c) => c.databaseUrl, expected: 'postgres://forny@db/forny' },
    { name: 'another send window', env: { SMS_SEND_WINDOW: '09:00-17:30' }, read: (c) => c.libraries[0]?.sendWindow, expected: { start: { hour: 9, minute: 0 }, end: { hour: 17, minute: 30 } } },
    { name: 'replies may be sent at any hour', env: { SMS_REPLIES_OUTSIDE_WINDOW: 'send' }, read: (c) => c.sms.repliesOutsideWindow, expected: 'send' },
    { name: 'a given ADMIN_PASSWORD is used and not announced', env: { ADMIN_PASSWORD: 'korrekt-hest' }, read: (c) => [c.admin.password, c.admin.passwordGenerated], expected: ['korrekt-hest', false] },
    { name: 'LIBRARY_NAME of 40 characters', env: { LIBRARY_NAME: 'Æ'.repeat(40) }, read: (c) => c.libraries[0]?.name, expected: 'Æ'.repeat(40) },
    { name: 'LIBRARY_NAME is trimmed', env: { LIBRARY_NAME: '  Roskilde Bibliotekerne ' }, read: (c) => c.libraries[0]?.name, expected: 'Roskilde Bibliotekerne' },
    { name: 'LIBRARY_SITE with a path', env: { LIBRARY_SITE: 'roskildebib.dk/laan' }, read: (c) => c.libraries[0]?.site, expected: 'roskildebib.dk/laan' },
    { name: 'LIBRARY_KEYWORDS are upper-cased, trimmed and kept in order', env: { LIBRARY_KEYWORDS: ' rb , ROS,' }, read: (c) => c.libraries[0]?.keywords, expected: ['RB', 'ROS'] },
    {
      name: 'MAIL_FROM by default carries LIBRARY_NAME and the host of LIBRARY_SITE',
      env: { LIBRARY_NAME: 'Roskilde Bibliotekerne', LIBRARY_SITE: 'roskildebib.dk/laan' },
      read: (c) => c.libraries[0]?.mailFrom,
      expected: '"Roskilde Bibliotekerne" <noreply@roskildebib.dk>',
    },
    { name: 'a given MAIL_FROM wins', env: { MAIL_FROM: 'Biblioteket <post@example.dk>' }, read: (c) => c.libraries[0]?.mailFrom, expected: 'Biblioteket <post@example.dk>' },
    { name: 'RENEW_ALL_GIVE_UP_MINUTES in minutes', env: { RENEW_ALL_GIVE_UP_MINUTES: '1' }, read: (c) => c.jobs.renewAllGiveUpMs, expected: 60_000 },
    { name: 'REMINDER_DAYS_BEFORE of 7 (the first day renewals are allowed)', env: { REMINDER_DAYS_BEFORE: '7' }, read: (c) => c.reminders.daysBefore, expected: 7 },
    { name: 'REMINDER_DAYS_BEFORE of 0 (on the due date)', env: { REMINDER_DAYS_BEFORE: '0' }, read: (c) => c.reminders.daysBefore, expected: 0 },
    { name: 'FAKE_NOW starts the clock at that instant', env: { FAKE_NOW: '2026-11-30T21:30:00+01:00' }, read: (c) => c.fakeNow?.toISOString(), expected: '2026-11-30T20:30:00.000Z' },
  ];

  for (const row of rows) {
    it(row.name, () => {
      expect(row.read(loadConfig(row.env))).to.deep.equal(row.expected);
    });
  }
});

describe('loadConfig refuses bad values with one line naming the variable', () => {
  const rows: { name: string; env: Env; variable: string; hidden?: string; says?: RegExp }[] = [
    { name: 'a port that is not a number', env: { PORT: 'abc' }, variable: 'PORT' },
    { name: 'a port above 65535', env: { PORT: '70000' }, variable: 'PORT' },
    { name: 'a send window across midnight', env: { SMS_SEND_WINDOW: '20:00-08:45' }, variable: 'SMS_SEND_WINDOW' },
    { name: 'an unknown time zone', env: { LIBRARY_TIMEZONE: 'Mars/Olympus' }, variable: 'LIBRARY_TIMEZONE' },
    { name: 'a send rate of zero', env: { SMS_RATE_PER_SECOND: '0' }, variable: 'SMS_RATE_PER_SECOND' },
    { name: 'neither defer nor send', env: { SMS_REPLIES_OUTSIDE_WINDOW: 'maybe' }, variable: 'SMS_REPLIES_OUTSIDE_WINDOW' },
    { name: 'a scan time without minutes', env: { REMINDER_SCAN_AT: '7' }, variable: 'REMINDER_SCAN_AT' },
    { name: 'an unsupported database', env: { DATABASE_URL: 'mysql://x' }, variable: 'DATABASE_URL' },
    { name: 'a queue prefix with a colon (Redis key separator)', env: { QUEUE_PREFIX: 'a:b' }, variable: 'QUEUE_PREFIX' },
    { name: 'a FAKE_NOW that is not an instant', env: { FAKE_NOW: 'yesterday' }, variable: 'FAKE_NOW' },
    { name: 'an unknown transport', env: { SMS_TRANSPORT: 'carrier-pigeon' }, variable: 'SMS_TRANSPORT' },
    { name: 'the twilio transport without credentials', env: { SMS_TRANSPORT: 'twilio' }, variable: 'TWILIO_ACCOUNT_SID' },
    { name: 'a Twilio account SID without its auth token', env: { TWILIO_ACCOUNT_SID: SID }, variable: 'TWILIO_AUTH_TOKEN' },
    // Half a Twilio configuration would otherwise run the sandbox: messages shown as sent, nobody texted.
    { name: 'a Twilio auth token without its account SID', env: { TWILIO_AUTH_TOKEN: 'secret-token' }, variable: 'TWILIO_ACCOUNT_SID', hidden: 'secret-token' },
    { name: 'an SMTP login with a user and no password', env: { SMTP_URL: 'smtp://forny@mail.helsbib.dk:587' }, variable: 'SMTP_URL', hidden: 'mail.helsbib.dk' },
    { name: 'an SMTP login with a password and no user', env: { SMTP_URL: 'smtp://:hemmelig@mail.helsbib.dk:587' }, variable: 'SMTP_URL', hidden: 'hemmelig' },
    { name: 'a malformed Twilio account SID', env: { TWILIO_ACCOUNT_SID: 'AC123', TWILIO_AUTH_TOKEN: 'secret-token' }, variable: 'TWILIO_ACCOUNT_SID' },
    { name: 'a PUBLIC_BASE_URL that is not http(s)', env: { PUBLIC_BASE_URL: 'forny.helsbib.dk' }, variable: 'PUBLIC_BASE_URL' },
    // The line goes to the logs: a rejected password must not be written there.
    { name: 'an admin password that is too short', env: { ADMIN_PASSWORD: 'hest123' }, variable: 'ADMIN_PASSWORD', hidden: 'hest123' },
    // A double-quoted value in .env may span lines; the message must still be one line.
    { name: 'a window that spans two lines', env: { SMS_SEND_WINDOW: '20:00-\n08:45' }, variable: 'SMS_SEND_WINDOW' },
    { name: 'a number that spans two lines', env: { PORT: '30\n00' }, variable: 'PORT' },
    { name: 'a LIBRARY_NAME of 41 characters', env: { LIBRARY_NAME: 'x'.repeat(41) }, variable: 'LIBRARY_NAME', says: /at most 40/ },
    { name: 'an empty LIBRARY_NAME', env: { LIBRARY_NAME: ' ' }, variable: 'LIBRARY_NAME' },
    { name: 'a LIBRARY_NAME with a character outside GSM-7', env: { LIBRARY_NAME: 'Łódź Biblioteka' }, variable: 'LIBRARY_NAME', says: /GSM-7/ },
    { name: 'a LIBRARY_NAME with an emoji', env: { LIBRARY_NAME: 'Biblioteket 📚' }, variable: 'LIBRARY_NAME', says: /GSM-7/ },
    { name: 'a LIBRARY_NAME of 40 two-septet characters (80 septets)', env: { LIBRARY_NAME: '€'.repeat(40) }, variable: 'LIBRARY_NAME', says: /septets/ },
    { name: 'a 40-character LIBRARY_NAME with a long site', env: { LIBRARY_NAME: 'x'.repeat(40), LIBRARY_SITE: 'bibliotek.example-kommune.dk/laan' }, variable: 'LIBRARY_NAME', says: /septets/ },
    { name: 'an SMS_FROM with a character outside GSM-7', env: { SMS_FROM: 'Biblioteket™' }, variable: 'SMS_FROM', says: /GSM-7/ },
    { name: 'a LIBRARY_SITE with a scheme', env: { LIBRARY_SITE: 'https://helsbib.dk' }, variable: 'LIBRARY_SITE' },
    { name: 'a LIBRARY_SITE that is not a host name', env: { LIBRARY_SITE: 'helsbib' }, variable: 'LIBRARY_SITE' },
    { name: 'LIBRARY_KEYWORDS with no keyword', env: { LIBRARY_KEYWORDS: ' , ' }, variable: 'LIBRARY_KEYWORDS' },
    { name: 'a keyword with a space', env: { LIBRARY_KEYWORDS: 'H BK' }, variable: 'LIBRARY_KEYWORDS' },
    { name: 'a RENEW_ALL_GIVE_UP_MINUTES of 0', env: { RENEW_ALL_GIVE_UP_MINUTES: '0' }, variable: 'RENEW_ALL_GIVE_UP_MINUTES' },
    { name: 'a RENEW_ALL_GIVE_UP_MINUTES that is not a number', env: { RENEW_ALL_GIVE_UP_MINUTES: 'en time' }, variable: 'RENEW_ALL_GIVE_UP_MINUTES' },
    { name: 'REMINDER_DAYS_BEFORE of 8 invites renewals refused as too soon', env: { REMINDER_DAYS_BEFORE: '8' }, variable: 'REMINDER_DAYS_BEFORE', says: /at most 7.*too_soon/ },
    { name: 'REMINDER_DAYS_BEFORE of 14', env: { REMINDER_DAYS_BEFORE: '14' }, variable: 'REMINDER_DAYS_BEFORE', says: /at most 7/ },
  ];

  for (const row of rows) {
    it(`${row.name}: names ${row.variable}`, () => {
      let error: unknown;
      try {
        loadConfig(row.env);
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(ConfigError);
      const message = (error as ConfigError).message;
      expect(message).to.contain(row.variable);
      expect(message).to.not.match(/[\r\n]/);
      if (row.hidden) expect(message).to.not.contain(row.hidden);
      if (row.says) expect(message).to.match(row.says);
    });
  }
});

describe('readEnvironment', () => {
  let directory = '';
  before(() => {
    directory = mkdtempSync(join(tmpdir(), 'forny-env-'));
  });
  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  const rows: { name: string; file: string | null; env: Env; expected: Env }[] = [
    { name: 'values from .env are used', file: 'PORT=4000\nQUEUE_PREFIX=helsingor\n', env: {}, expected: { PORT: '4000', QUEUE_PREFIX: 'helsingor' } },
    { name: 'variables already set win over .env', file: 'PORT=4000\nQUEUE_PREFIX=helsingor\n', env: { PORT: '5000' }, expected: { PORT: '5000', QUEUE_PREFIX: 'helsingor' } },
    { name: 'comments and quotes in .env are understood', file: '# operators\nADMIN_USER="drift"\n', env: {}, expected: { ADMIN_USER: 'drift' } },
    { name: 'without a .env file the environment is used as it is', file: null, env: { PORT: '5000' }, expected: { PORT: '5000' } },
  ];

  for (const [index, row] of rows.entries()) {
    it(row.name, () => {
      const file = join(directory, `${index}.env`);
      if (row.file !== null) writeFileSync(file, row.file);
      const env = readEnvironment(file, row.env);
      for (const [variable, value] of Object.entries(row.expected)) expect(env[variable], variable).to.equal(value);
    });
  }

  it('a .env file configures the process: its PORT reaches the listener and the public URL', () => {
    const file = join(directory, 'port.env');
    writeFileSync(file, 'PORT=4000\n');
    const config = loadConfig(readEnvironment(file, {}));
    expect([config.port, config.publicBaseUrl]).to.deep.equal([4000, 'http://127.0.0.1:4000']);
  });
});

describe('loadConfig says which transports it chose and why (the start-up lines)', () => {
  const rows: { name: string; env: Env; read: (config: Config) => string; expected: RegExp }[] = [
    { name: 'SMS: sandbox because no account SID', env: {}, read: (c) => c.sms.transportReason, expected: /^sandbox because TWILIO_ACCOUNT_SID is unset/ },
    { name: 'SMS: sandbox because asked for, even with credentials', env: { SMS_TRANSPORT: 'sandbox', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 'secret-token' }, read: (c) => c.sms.transportReason, expected: /^sandbox because SMS_TRANSPORT is sandbox/ },
    { name: 'SMS: sandbox with a token of its own is deliberate, not half a configuration', env: { SMS_TRANSPORT: 'sandbox', TWILIO_AUTH_TOKEN: 'secret-token' }, read: (c) => c.sms.transportReason, expected: /^sandbox because SMS_TRANSPORT is sandbox/ },
    { name: 'SMS: twilio because the SID is set, naming the account', env: { TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 'secret-token' }, read: (c) => c.sms.transportReason, expected: new RegExp(`^twilio \\(account ${SID}\\) because TWILIO_ACCOUNT_SID is set$`) },
    { name: 'e-mail: sandbox because SMTP_URL is unset', env: {}, read: (c) => c.mail.transportReason, expected: /^sandbox because SMTP_URL is unset/ },
    { name: 'e-mail: SMTP host, port and user, never the password', env: { SMTP_URL: 'smtp://forny:hemmelig@mail.helsbib.dk:2525' }, read: (c) => c.mail.transportReason, expected: /^SMTP to mail\.helsbib\.dk:2525 as forny because SMTP_URL is set$/ },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const reason = row.read(loadConfig(row.env));
      expect(reason).to.match(row.expected);
      expect(reason).not.to.contain('secret-token');
      expect(reason).not.to.contain('hemmelig');
    });
  }
});
