import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKnex } from '../../db/knexfile.js';
import { deleteQueueKeys, TEST_REDIS_URL } from '../helpers/harness.js';
import { freePort, FornyProcess, runScript } from '../helpers/processes.js';

/**
 * `npm run demo` (SPEC §8) as a newcomer runs it, with `npm run sms` beside it: real processes in a
 * folder of their own, as in a fresh checkout. (Apart from commands.test.ts so that the two run side
 * by side under `npm test`.)
 */
describe('npm run demo (processes)', function () {
  this.timeout(120_000);
  let dir: string;
  const prefix = `forny-test-${randomBytes(6).toString('hex')}`;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'forny-demo-'));
  });
  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true });
    await deleteQueueKeys(TEST_REDIS_URL, prefix);
  });

  it('FAKE_NOW=…T21:30 npm run demo: the reply is written at once and waits for 08:45', async () => {
    const port = String(await freePort());
    const demo = FornyProcess.spawn('demo.ts', { PORT: port, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, FAKE_NOW: '2026-11-30T21:30:00+01:00' }, { cwd: dir });
    try {
      await demo.waitFor(/SMS window: closed; opens 2026-12-01T08:45:00\.000\+01:00/);
      const sms = await runScript('sms.ts', ['HBK FORNY ALLE'], {}, { cwd: dir });
      expect(sms.code, sms.stderr).to.equal(0);
      expect(sms.stdout).to.match(/← Helsingør Kommunes Biblioteker: 4 af 9 lån er fornyet/);
      expect(sms.stdout).to.contain('waits for the SMS window; leaves 2026-12-01T08:45:00.000+01:00');
    } finally {
      expect(await demo.stop('SIGINT')).to.equal(0);
    }
  });

  it('npm run demo + npm run sms with no settings: the demo patron gets "N af M lån"', async () => {
    const port = String(await freePort());
    const demo = FornyProcess.spawn('demo.ts', { PORT: port, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix }, { cwd: dir });
    try {
      await demo.waitFor(/npm run sms -- "HBK FORNY ALLE"/);
      expect(demo.stdout).to.match(new RegExp(`Dashboard: +http://127\\.0\\.0\\.1:${port}/admin +\\(login admin / \\S+\\)`));
      const sms = await runScript('sms.ts', ['HBK FORNY ALLE'], {}, { cwd: dir });
      expect(sms.code, sms.stderr).to.equal(0);
      expect(sms.stdout).to.match(/← Helsingør Kommunes Biblioteker: 4 af 9 lån er fornyet/);
    } finally {
      expect(await demo.stop('SIGINT')).to.equal(0);
    }
  });
  it('LIBRARIES_FILE=libraries.example.json npm run demo: two libraries, each patron answered by their own, and a patron of both asked which', async () => {
    const port = String(await freePort());
    const librariesFile = join(process.cwd(), 'libraries.example.json');
    const demo = FornyProcess.spawn('demo.ts', { PORT: port, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, LIBRARIES_FILE: librariesFile }, { cwd: dir });
    try {
      await demo.waitFor(/"FORNY ALLE" +\(Karen Blixen holds cards at both hbk and frb/);
      expect(demo.stdout).to.contain('  hbk: Helsingør Kommunes Biblioteker, keywords HBK, HKB');
      expect(demo.stdout).to.contain('  frb: Fredensborg Bibliotekerne, keywords FRB');
      expect(demo.stdout).to.match(/npm run sms -- "HBK FORNY ALLE"/);
      expect(demo.stdout).to.match(/npm run sms -- --from \+4521000001 "FRB FORNY ALLE"/);

      const hbk = await runScript('sms.ts', ['HBK FORNY ALLE'], {}, { cwd: dir });
      expect(hbk.code, hbk.stderr).to.equal(0);
      expect(hbk.stdout).to.match(/← Helsingør Kommunes Biblioteker: 4 af 9 lån er fornyet/);

      const frb = await runScript('sms.ts', ['--from', '21000001', 'FRB FORNY ALLE'], {}, { cwd: dir });
      expect(frb.code, frb.stderr).to.equal(0);
      expect(frb.stdout).to.match(/← Fredensborg Bibliotekerne: 2 af 3 lån er fornyet/);

      const which = await runScript('sms.ts', ['FORNY ALLE'], {}, { cwd: dir });
      expect(which.code, which.stderr).to.equal(0);
      expect(which.stdout).to.match(/← Bibliotekerne: Skriv HBK FORNY ALLE eller FRB FORNY ALLE\./);
    } finally {
      expect(await demo.stop('SIGINT')).to.equal(0);
    }
  });

  it('a second demo on a taken port stops with one line naming the port; the first keeps working', async () => {
    const port = String(await freePort());
    const first = FornyProcess.spawn('demo.ts', { PORT: port, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix }, { cwd: dir });
    try {
      await first.waitFor(/npm run sms -- "HBK FORNY ALLE"/);
      const second = await runScript('demo.ts', [], { PORT: port, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix }, { cwd: dir, timeoutMs: 30_000 });
      expect(second.code).to.equal(1);
      expect(second.stderr.trim().split('\n'), second.stderr).to.have.length(1);
      expect(second.stderr).to.contain(`Port ${port} is already in use`);
      expect(second.stdout).not.to.contain('Dashboard');

      // The first demo's database and queues are untouched: patron 3 (20000003, typed without +45) is answered.
      const sms = await runScript('sms.ts', ['--from', '20000003', 'HBK FORNY ALLE'], { PORT: port }, { cwd: dir });
      expect(sms.code, sms.stderr).to.equal(0);
      expect(sms.stdout).to.contain('→ +4520000003 to 1910');
      expect(sms.stdout).to.match(/← Helsingør Kommunes Biblioteker: /);
    } finally {
      expect(await first.stop('SIGINT')).to.equal(0);
    }
  });

  it('two demos on two ports in one folder: each its own database and queues, both keep working', async () => {
    // No QUEUE_PREFIX: each demo picks its own, as a newcomer's two demos would.
    const ports = [String(await freePort()), String(await freePort())] as const;
    const demos: FornyProcess[] = [];
    const prefixes: string[] = [];
    const text = (port: string, from: string) => runScript('sms.ts', ['--from', from, 'HBK FORNY ALLE'], { PORT: port }, { cwd: dir });
    const inboundFrom = async (port: string) => {
      const db = createKnex(`sqlite:${join(dir, 'data', `demo-${port}.sqlite`)}`);
      try {
        return (await db('inbound_messages').orderBy('from_number').select('from_number')).map((row: { from_number: string }) => row.from_number);
      } finally {
        await db.destroy();
      }
    };
    try {
      for (const port of ports) {
        const demo = FornyProcess.spawn('demo.ts', { PORT: port, REDIS_URL: TEST_REDIS_URL }, { cwd: dir });
        demos.push(demo);
        await demo.waitFor(/npm run sms -- "HBK FORNY ALLE"/);
        prefixes.push((await demo.waitFor(/queue prefix "([^"]+)"/))[1] ?? '');
        expect(demo.stdout).to.contain(`Database:   SQLite ./data/demo-${port}.sqlite (fresh for every demo)`);
        if (port === ports[0]) {
          const sms = await text(port, '20000003');
          expect(sms.code, sms.stderr).to.equal(0);
          expect(sms.stdout).to.match(/← Helsingør Kommunes Biblioteker: /);
        }
      }
      expect(prefixes[0]).not.to.equal(prefixes[1]);

      // The first demo kept its database (patron 3's message is still there) and its queues (it answers).
      const first = await text(ports[0], '20000004');
      expect(first.code, first.stderr).to.equal(0);
      expect(first.stdout).to.match(/← Helsingør Kommunes Biblioteker: /);
      const second = await text(ports[1], '20000005');
      expect(second.code, second.stderr).to.equal(0);
      expect(second.stdout).to.match(/← Helsingør Kommunes Biblioteker: /);
      expect(await inboundFrom(ports[0])).to.deep.equal(['+4520000003', '+4520000004']);
      expect(await inboundFrom(ports[1])).to.deep.equal(['+4520000005']);
    } finally {
      for (const demo of demos) expect(await demo.stop('SIGINT')).to.equal(0);
      for (const prefix of prefixes) if (prefix) await deleteQueueKeys(TEST_REDIS_URL, prefix);
    }
  });
});
