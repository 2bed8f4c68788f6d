import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Knex } from 'knex';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';
import { insertInbound } from '../../db/repositories/inbound.js';
import type { Patron } from '../../db/repositories/library.js';
import { ManualClock } from '../../src/clock.js';
import { createLogger } from '../../src/logger.js';
import type { LibrarySystem } from '../../src/library/library-system.js';
import { createSip2LibrarySystem } from '../../src/library/sip2/adapter.js';
import { parseSip2Url, type Sip2Options } from '../../src/library/sip2/url.js';
import { checkAtStart } from '../../src/library/start-check.js';
import { eventually } from '../helpers/harness.js';
import { Sip2Server, type Sip2ServerOptions } from '../helpers/sip2-server.js';

/*
 * What an operator setting up SIP2 sees in the log (issue 20, point 4): the login tried at start,
 * an answer in the wrong encoding, a short outage, a card the system does not know.
 */

const PASSWORD = 'Hemmelig-Opsaetning-5';
const CARD = '0102030405';
const UNKNOWN_CARD = '2911871234';
const NOW = '2026-11-29T10:00:00Z';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}
const WARN = 40;

describe('SIP2 set-up as an operator sees it (simulator over TCP, log lines read back)', function () {
  this.timeout(20_000);
  let dir: string;
  let db: Knex;
  let server: Sip2Server;
  let clock: ManualClock;
  let options: Sip2Options;
  let library: LibrarySystem;
  let logs: LogLine[];
  let raw: string;
  const stops: Array<() => void> = [];

  async function start(serverOptions: Sip2ServerOptions = {}, urlExtra = ''): Promise<void> {
    server = new Sip2Server({ password: PASSWORD, today: '2026-11-29', ...serverOptions });
    server.addPatron({ card: CARD, name: 'Søren Ærø', items: [{ id: 'I-1', title: 'Blåbærgrød på Ærø', dueDate: '2026-12-01', renewals: 0, maxRenewals: 2 }] });
    server.addPatron({ card: UNKNOWN_CARD, name: 'Spærret', valid: false, items: [] });
    const port = await server.start();
    options = parseSip2Url(`sip2://forny:${PASSWORD}@127.0.0.1:${port}?institution=HBK&location=HB01&timeout_ms=2000${urlExtra}`);
    library = createSip2LibrarySystem(options, { db, clock, logger: capturingLogger() });
  }

  /** A logger as forny's (JSON lines, the password among its secrets) whose lines land in `logs`. */
  const capturingLogger = () =>
    createLogger('info', new Writable({ write: (chunk: Buffer, _encoding, done) => ((raw += chunk.toString()), logs.push(JSON.parse(chunk.toString()) as LogLine), done()) }), {
      secrets: [PASSWORD],
    });

  /** The log lines at warn or above whose message matches. */
  const warnings = (pattern: RegExp) => logs.filter((line) => line.level >= WARN && pattern.test(line.msg));

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forny-sip2-setup-'));
    db = createKnex(`sqlite:${join(dir, 'test.sqlite')}`);
    await migrateToLatest(db);
    clock = new ManualClock(NOW);
    logs = [];
    raw = '';
  });

  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    await library?.close();
    await server?.stop();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('the login, tried at start', () => {
    const watch = () => {
      const check = checkAtStart(library, options, capturingLogger(), { retryMs: 20 });
      stops.push(() => check.stop());
      return check;
    };

    it('a refused login is said once in one warn line (host:port and user, never the password); its acceptance later too', async () => {
      await start();
      server.refuseLogins = true;
      watch();
      const [line] = await eventually(() => (warnings(/refused/).length > 0 ? warnings(/refused/) : undefined), 5000, 'the refused-login line');
      expect(line?.msg).to.equal(
        `forny: the library system refused forny's login (sip2 127.0.0.1:${server.port}, user forny); renewals wait until it accepts; check LIBRARY_SYSTEM_URL's user and password`,
      );
      // Tried again past the pool's backoff, and refused again: still the one line.
      clock.advance(10_000);
      await eventually(() => server.codes().filter((code) => code === '93').length >= 2, 5000, 'a second login');
      expect(warnings(/refused/)).to.have.length(1);

      server.refuseLogins = false;
      clock.advance(10_000);
      const accepted = await eventually(() => logs.find((entry) => /accepts forny's login now/.test(entry.msg)), 5000, 'the accepted line');
      expect(accepted.msg).to.equal(`forny: the library system accepts forny's login now (sip2 127.0.0.1:${server.port}, user forny); renewals that waited go ahead`);
      expect(raw).not.to.contain(PASSWORD);
    });

    it('a system that does not answer at start is said in one line, with why', async () => {
      await start();
      await server.stop();
      watch();
      const [line] = await eventually(() => (warnings(/not answering/).length > 0 ? warnings(/not answering/) : undefined), 5000, 'the not-answering line');
      expect(line?.msg).to.equal(
        `forny: the library system is not answering (sip2 127.0.0.1:${server.port}, user forny: cannot connect (ECONNREFUSED)); renewals wait until it answers; forny keeps trying`,
      );
    });

    it('a system that accepts at once is said at info, and asked no more by the check', async () => {
      await start();
      const check = watch();
      await check.settled;
      const lines = logs.filter((entry) => /library system/.test(entry.msg));
      expect(lines.map((entry) => [entry.level, entry.msg])).to.deep.equal([[30, `forny: the library system accepted forny's login (sip2 127.0.0.1:${server.port}, user forny)`]]);
      expect(server.codes()).to.deep.equal(['93', '99', '99']);
    });
  });

  describe('an encoding that is not the system’s', () => {
    it('the system sends latin1 while the URL says utf8: one warning naming latin1, however many answers', async () => {
      await start({ encoding: 'latin1' });
      // Each check is a 98 naming the system "Helsingør Bibliotekssystem"; the first one a login besides.
      for (let i = 0; i < 3; i++) await library.check();
      const found = warnings(/encoding/);
      expect(found.map((line) => line.msg)).to.deep.equal([
        "sip2: the library system's answers are not valid UTF-8, which LIBRARY_SYSTEM_URL says (encoding=utf8, the default); they look like latin1: set encoding=latin1 in LIBRARY_SYSTEM_URL, or titles and names show � for æ, ø, å",
      ]);
    });

    it('the system sends UTF-8 while the URL says latin1: one warning naming UTF-8', async () => {
      await start({ encoding: 'utf8' }, '&encoding=latin1');
      for (let i = 0; i < 3; i++) await library.check();
      const found = warnings(/encoding/);
      expect(found.map((line) => line.msg)).to.deep.equal([
        "sip2: the library system's answers look like UTF-8, but LIBRARY_SYSTEM_URL says encoding=latin1: remove encoding=latin1 (utf8 is the default), or titles and names show Ã¸ for ø",
      ]);
    });

    it('no warning when the encodings agree', async () => {
      await start({ encoding: 'latin1' }, '&encoding=latin1');
      for (let i = 0; i < 3; i++) await library.check();
      expect(warnings(/encoding/)).to.deep.equal([]);
    });
  });

  describe('an outage', () => {
    /**
     * The system away for `ms` on forny's clock while callers (jobs, /readyz) ask every 250 ms;
     * then back: how long, on that clock, until forny uses it again.
     */
    async function returnAfterOutage(ms: number): Promise<number> {
      expect((await library.check()).ok).to.equal(true);
      await server.stop();
      const away = clock.now().getTime();
      while (clock.now().getTime() - away < ms) {
        expect((await library.check()).ok).to.equal(false);
        clock.advance(250);
      }
      await server.start();
      const back = clock.now().getTime();
      while (!(await library.check()).ok) {
        clock.advance(250);
        if (clock.now().getTime() - back > 120_000) break;
      }
      return clock.now().getTime() - back;
    }

    for (const [name, ms] of [
      ['2 s', 2_000],
      ['40 s', 40_000],
      ['7½ minutes', 450_000],
    ] as const) {
      it(`a system back after ${name} away is used again within 5 s (the reconnect backoff's cap)`, async () => {
        await start();
        expect(await returnAfterOutage(ms)).to.be.at.most(5_000);
      });
    }
  });

  describe('a card the system does not know', () => {
    const patron = (card: string): Patron => ({ id: 'p-spaerret', cardNumber: card, name: 'Spærret', mobile: '+4520304099', smsOptIn: true, email: null, emailOptIn: false, libraryId: 'default' });

    it('is said to operators as the library system not knowing the card (its last digits), not as an unknown number', async () => {
      await start();
      const { message } = await insertInbound(
        db,
        { messageSid: `SM${'7'.repeat(32)}`, accountSid: null, fromNumber: '+4520304099', toNumber: '1910', body: 'HBK FORNY ALLE', command: 'renew-all', status: 'received', libraryId: 'default' },
        clock.now(),
      );
      const report = await library.renewAll({ db, inboundId: message.id, patrons: [patron(UNKNOWN_CARD)], now: clock.now(), deadline: new Date(clock.now().getTime() + 3_600_000) });
      expect(report.patronKnown).to.equal(false);
      const lines = warnings(/does not know card/);
      expect(lines).to.have.length(1);
      expect(lines[0]).to.deep.include({ inboundId: message.id, patronId: 'p-spaerret' });
      expect(lines[0]?.msg).to.equal(
        "sip2: the library system does not know card …1234 (patron p-spaerret in forny's directory; 64 BL N: not a valid patron); its loans are not renewed, and a number with no other card the system knows gets the unknown-number answer; check the card number in the directory, or the card in the library system",
      );
      // A card may be a CPR number: only its last digits go to the log.
      expect(raw).not.to.contain(UNKNOWN_CARD);
    });
  });
});
