import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteQueueKeys, TEST_REDIS_URL } from '../helpers/harness.js';
import { freePort, FornyProcess, runScript } from '../helpers/processes.js';
import { Sip2Server } from '../helpers/sip2-server.js';

const PASSWORD = 'Sip2-kodeord-i-url';
const MOBILE = '+4520304050';

/**
 * `npm start` and `npm run sms` against a SIP2 library system that refuses forny's login or is
 * away, as an operator setting forny up meets them (issue 20, point 4): real processes, the
 * simulator in this process.
 */
describe('commands with a SIP2 library system that is not there for forny', function () {
  this.timeout(120_000);
  let dir: string;
  let server: Sip2Server;
  let forny: FornyProcess | undefined;
  const prefix = `forny-test-${randomBytes(6).toString('hex')}`;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forny-sip2-cmd-'));
    server = new Sip2Server({ password: PASSWORD, today: '2026-12-01' });
    server.addPatron({ card: '0102030405', name: 'Åse Østergård', items: [{ id: 'I-1', title: 'Ærøs blå fjorde', dueDate: '2026-12-03', renewals: 0, maxRenewals: 2 }] });
    await server.start();
  });
  afterEach(async () => {
    if (forny) expect(await forny.stop('SIGTERM')).to.equal(0);
    forny = undefined;
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    await deleteQueueKeys(TEST_REDIS_URL, prefix);
  });

  /** npm start on the simulator, with the directory of one patron loaded; its environment, for npm run sms. */
  async function startForny(): Promise<Record<string, string>> {
    const env = {
      DATABASE_URL: `sqlite:${join(dir, 'forny.sqlite')}`,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      PORT: String(await freePort()),
      ADMIN_PASSWORD: 'operator-password',
      FAKE_NOW: '2026-12-01T10:00:00+01:00',
      LIBRARY_SYSTEM_URL: `sip2://forny:${PASSWORD}@127.0.0.1:${server.port}?institution=HBK&location=FORNY&timeout_ms=2000`,
    };
    const directory = join(dir, 'patrons.json');
    writeFileSync(directory, JSON.stringify({ patrons: [{ id: 'p-ase', cardNumber: '0102030405', name: 'Åse Østergård', mobile: MOBILE, smsOptIn: true }] }));
    const loaded = await runScript('db-load.ts', [directory], { DATABASE_URL: env.DATABASE_URL });
    expect(loaded.code, loaded.stderr).to.equal(0);
    forny = FornyProcess.spawn('start.ts', env);
    await forny.waitFor(/forny listening/);
    return env;
  }

  it('npm start says in one line that the library system refused the login, never the password, and keeps running', async () => {
    server.refuseLogins = true;
    await startForny();
    const [line] = await forny!.waitFor(/forny: the library system refused forny's login[^"\n]*/);
    expect(line).to.equal(
      `forny: the library system refused forny's login (sip2 127.0.0.1:${server.port}, user forny); renewals wait until it accepts; check LIBRARY_SYSTEM_URL's user and password`,
    );
    expect(forny!.stdout.match(/refused forny's login/g)).to.have.length(1);
    expect(forny!.stdout + forny!.stderr).not.to.contain(PASSWORD);
    expect(server.codes()).to.include('93');
    // Still serving: the webhook stores, the renewals wait.
    const readyz = await fetch(`http://127.0.0.1:${/HTTP: +http:\/\/127\.0\.0\.1:(\d+)/.exec(forny!.stdout)?.[1]}/readyz`);
    expect(await readyz.json()).to.deep.include({ checks: { database: 'ok', redis: 'ok', librarySystem: 'down: login refused' } });
  });

  it('npm start says in one line that the library system is not answering', async () => {
    await server.stop();
    await startForny();
    const [line] = await forny!.waitFor(/forny: the library system is not answering[^"\n]*/);
    expect(line).to.equal(
      `forny: the library system is not answering (sip2 127.0.0.1:${server.port}, user forny: cannot connect (ECONNREFUSED)); renewals wait until it answers; forny keeps trying`,
    );
  });

  it('npm run sms while the library system refuses the login says what the message waits for, not "are the workers running"', async () => {
    server.refuseLogins = true;
    const env = await startForny();
    const sms = await runScript('sms.ts', ['--from', MOBILE, '--timeout', '4', 'HBK FORNY ALLE'], env);
    expect(sms.code).to.equal(1);
    expect(sms.stderr).not.to.match(/workers running/);
    const lines = sms.stderr.trim().split('\n');
    expect(lines, sms.stderr).to.have.length(1);
    expect(lines[0]).to.match(
      /^No reply within 4 s: the message is stored \(received 10:0\d\) and waits for the library system, which refuses forny's login \(\/readyz: down: login refused\); forny answers when it accepts again, or gives up at 11:0\d and tells the patron\.$/,
    );
    // Said as soon as it is known, not only at the end.
    expect(sms.stdout).to.match(/waiting: the library system refuses forny's login/);
  });

  it('npm run sms while the library system is away, and once it is back: the reply', async () => {
    await server.stop();
    const env = await startForny();
    const away = await runScript('sms.ts', ['--from', MOBILE, '--timeout', '4', 'HBK FORNY ALLE'], env);
    expect(away.code).to.equal(1);
    expect(away.stderr).to.match(/waits for the library system, which is not answering \(\/readyz: down: not answering\); forny answers when it answers again, or gives up at 11:0\d/);

    await server.start();
    const back = await runScript('sms.ts', ['--from', MOBILE, '--timeout', '60', 'HBK FORNY ALLE'], env);
    expect(back.code, back.stderr).to.equal(0);
    expect(back.stdout).to.contain('1 af 1 lån');
  });
});
