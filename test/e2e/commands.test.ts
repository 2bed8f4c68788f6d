import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKnex } from '../../db/knexfile.js';
import { EVERY_RULE_FILE, EXPECTED_RENEWED, EXPECTED_TOTAL, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { deleteQueueKeys, TEST_REDIS_URL } from '../helpers/harness.js';
import { freePort, FornyProcess, runCommand, runScript } from '../helpers/processes.js';

/** The npm scripts of SPEC §8 as a user runs them: real processes, real exit codes, real output. */
describe('commands (npm scripts as processes)', function () {
  this.timeout(120_000);
  let dir: string;
  let databaseUrl: string;
  const prefix = `forny-test-${randomBytes(6).toString('hex')}`;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'forny-cmd-'));
    databaseUrl = `sqlite:${join(dir, 'forny.sqlite')}`;
  });
  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true });
    await deleteQueueKeys(TEST_REDIS_URL, prefix);
  });

  const dump = async () => {
    const db = createKnex(databaseUrl);
    try {
      const tables = ['patrons', 'titles', 'items', 'loans', 'reservations'];
      const rows = await Promise.all(tables.map((table) => db(table).orderBy('id').select()));
      return Object.fromEntries(tables.map((table, index) => [table, rows[index]]));
    } finally {
      await db.destroy();
    }
  };

  describe('db:load', () => {
    it('loads a fixture, and loading it twice changes nothing', async () => {
      const first = await runScript('db-load.ts', [EVERY_RULE_FILE], { DATABASE_URL: databaseUrl });
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.match(/Loaded .*: 2 patrons, 19 titles, 19 items, 19 loans, 2 reservations\./);
      const once = await dump();
      expect(once.patrons?.find((row: { id: string }) => row.id === 'p-other')).to.include({ mobile: '+4561000002' }); // normalised
      const second = await runScript('db-load.ts', [EVERY_RULE_FILE], { DATABASE_URL: databaseUrl });
      expect(second.code).to.equal(0);
      expect(await dump()).to.deep.equal(once);
    });

    const broken: { name: string; change: (fixture: ReturnType<typeof everyRuleLibrary>) => unknown; problem: RegExp }[] = [
      { name: 'an unknown field', change: (f) => ({ ...f, loans: [{ ...f.loans?.[0], dueDat: '2026-12-01' }, ...(f.loans ?? []).slice(1)] }), problem: /loans\[0\]: unknown field "dueDat"/ },
      { name: 'a missing reference', change: (f) => ({ ...f, loans: [...(f.loans ?? []), { ...f.loans?.[0], id: 'l-new', itemId: 'i-missing' }] }), problem: /loans\[19\]\.itemId: no item "i-missing"/ },
      { name: 'a bad date', change: (f) => ({ ...f, loans: [{ ...f.loans?.[0], dueDate: '2026-02-30' }, ...(f.loans ?? []).slice(1)] }), problem: /loans\[0\]\.dueDate: not a date/ },
      { name: 'a bad loan kind', change: (f) => ({ ...f, loans: [{ ...f.loans?.[0], kind: 'forever' }, ...(f.loans ?? []).slice(1)] }), problem: /loans\[0\]\.kind/ },
    ];
    for (const fixture of broken) {
      it(`refuses a fixture with ${fixture.name}: exit 1, the first problem named, nothing loaded`, async () => {
        const file = join(dir, 'broken.json');
        writeFileSync(file, JSON.stringify(fixture.change(everyRuleLibrary())));
        const result = await runScript('db-load.ts', [file], { DATABASE_URL: databaseUrl });
        expect(result.code).to.equal(1);
        expect(result.stderr.trim().split('\n')).to.have.length(1);
        expect(result.stderr).to.match(fixture.problem);
        expect(result.stderr).to.contain('nothing was loaded');
        const loaded = await dump();
        expect(loaded.patrons).to.deep.equal([]);
        expect(loaded.loans).to.deep.equal([]);
      });
    }

    it('refuses a file that is not JSON with exit 1', async () => {
      const file = join(dir, 'broken.json');
      writeFileSync(file, '{"patrons": [');
      const result = await runScript('db-load.ts', [file], { DATABASE_URL: databaseUrl });
      expect(result.code).to.equal(1);
      expect(result.stderr).to.match(/broken\.json: not valid JSON/);
    });
  });

  it('stops at start with one line naming a bad variable', async () => {
    for (const [variable, value] of [
      ['PORT', 'abc'],
      ['SMS_SEND_WINDOW', '20:00-08:45'],
      ['LIBRARY_TIMEZONE', 'Europe/Helsingor'],
      ['LIBRARY_NAME', 'Łódź Biblioteka'],
      ['REMINDER_DAYS_BEFORE', '10'],
    ] as const) {
      const result = await runScript('start.ts', [], { DATABASE_URL: databaseUrl, [variable]: value }, { timeoutMs: 20_000 });
      expect(result.code, variable).to.equal(1);
      const lines = result.stderr.trim().split('\n');
      expect(lines, result.stderr).to.have.length(1);
      expect(lines[0]).to.match(new RegExp(`^Invalid configuration: ${variable} `));
    }
  });

  it('npm start states what it runs (SMS transport and why); half a Twilio configuration stops it', async () => {
    const port = String(await freePort());
    const env = { DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PORT: port, ADMIN_PASSWORD: 'operator-password' };
    const server = FornyProcess.spawn('start.ts', env);
    try {
      await server.waitFor(/Library system: /);
      expect(server.stdout).to.contain(`HTTP:           http://127.0.0.1:${port}`);
      expect(server.stdout).to.match(/SMS: +sandbox because TWILIO_ACCOUNT_SID is unset/);
      expect(server.stdout).to.match(/E-mail: +sandbox because SMTP_URL is unset/);
      expect(server.stdout).to.contain(`Redis:          127.0.0.1:6379, queue prefix "${prefix}"`);
      expect(server.stdout).to.match(/Database: +SQLite \S+forny\.sqlite/);
      expect(server.stdout).not.to.contain('operator-password');
    } finally {
      expect(await server.stop('SIGTERM')).to.equal(0);
    }

    const halfTwilio = await runScript('start.ts', [], { ...env, TWILIO_AUTH_TOKEN: 'a-real-looking-token' }, { timeoutMs: 20_000 });
    expect(halfTwilio.code).to.equal(1);
    expect(halfTwilio.stderr.trim().split('\n'), halfTwilio.stderr).to.have.length(1);
    expect(halfTwilio.stderr).to.match(/^Invalid configuration: TWILIO_ACCOUNT_SID \(unset\): TWILIO_AUTH_TOKEN is set without it/);
    expect(halfTwilio.stderr + halfTwilio.stdout).not.to.contain('a-real-looking-token');
  });

  it('npm start + npm run sms: a signed SMS in, the reply printed with when it leaves, SIGTERM stops cleanly', async () => {
    expect((await runScript('db-load.ts', [EVERY_RULE_FILE], { DATABASE_URL: databaseUrl })).code).to.equal(0);
    const port = String(await freePort());
    const env = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PORT: port,
      ADMIN_PASSWORD: 'operator-password',
      FAKE_NOW: '2026-12-01T10:00:00+01:00',
    };
    const server = FornyProcess.spawn('start.ts', env);
    try {
      await server.waitFor(/forny listening/);
      const sms = await runScript('sms.ts', ['--from', KAREN, 'HBK FORNY ALLE'], env);
      expect(sms.code, sms.stderr).to.equal(0);
      expect(sms.stdout).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
      expect(sms.stdout).to.match(/sent 2026-12-01T10:0\d:\d\d\.\d{3}\+01:00|leaves at once/);
      expect(sms.stdout).to.match(/loan l-reserved: not renewed: on_reserve/);
    } finally {
      expect(await server.stop('SIGTERM')).to.equal(0);
    }
  });

  it('npm run sms against a server whose login it does not have: one line about the 401, no stack trace', async () => {
    expect((await runScript('db-load.ts', [EVERY_RULE_FILE], { DATABASE_URL: databaseUrl })).code).to.equal(0);
    const port = String(await freePort());
    const env = { DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PORT: port, ADMIN_PASSWORD: 'operator-password' };
    const server = FornyProcess.spawn('start.ts', env);
    try {
      await server.waitFor(/forny listening/);
      const sms = await runScript('sms.ts', ['--from', KAREN, 'HJÆLP'], { ...env, ADMIN_PASSWORD: 'not-the-password' });
      expect(sms.code).to.equal(1);
      expect(sms.stderr.trim().split('\n'), sms.stderr).to.have.length(1);
      expect(sms.stderr).to.match(/refused the operator login "admin" \(401\)/);
    } finally {
      expect(await server.stop('SIGTERM')).to.equal(0);
    }
  });
  it('npm run build, then the compiled dist/scripts/start.js serves the webhook and the dashboard (no tsx)', async function () {
    this.timeout(400_000);
    const build = await runCommand('npm', ['run', 'build'], {}, { timeoutMs: 360_000 });
    expect(build.code, build.stderr).to.equal(0);
    expect((await runScript('db-load.ts', [EVERY_RULE_FILE], { DATABASE_URL: databaseUrl })).code).to.equal(0);
    const port = String(await freePort());
    const env = { DATABASE_URL: databaseUrl, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, PORT: port, ADMIN_PASSWORD: 'operator-password', FAKE_NOW: '2026-12-01T10:00:00+01:00' };
    const server = FornyProcess.spawnCompiled('start', env);
    try {
      await server.waitFor(/forny listening/);
      const sms = await runScript('sms.ts', ['--from', KAREN, 'HBK FORNY ALLE'], env);
      expect(sms.code, sms.stderr).to.equal(0);
      expect(sms.stdout).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
      const css = await fetch(`http://127.0.0.1:${port}/admin/assets/admin.css`);
      expect(css.status).to.equal(200);
    } finally {
      expect(await server.stop('SIGTERM')).to.equal(0);
    }
  });
});
