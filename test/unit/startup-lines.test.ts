import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { describeError } from '../../src/describe-error.js';
import { libraryStateLine, type LibraryState } from '../../src/library/start-check.js';
import { addressOf, describeDatabase, libraryLines, startupLines } from '../../src/startup-lines.js';
import { hashPassword } from '../../src/password-hash.js';

describe('start-up lines: what a process runs, never a secret', () => {
  const config = loadConfig({
    DATABASE_URL: 'postgres://forny:db-secret@db.helsbib.dk:5433/forny',
    REDIS_URL: 'redis://:redis-secret@cache.helsbib.dk:6380/2',
    QUEUE_PREFIX: 'helsingor',
    SMTP_URL: 'smtps://forny:mail-secret@mail.helsbib.dk',
    ADMIN_PASSWORD: 'operator-secret',
  });
  const lines = startupLines(config, { roles: 'web, workers and scheduler in one process', url: 'http://127.0.0.1:3000', privateRedis: false });

  const expected: { label: string; line: RegExp }[] = [
    { label: 'HTTP', line: /^ {2}HTTP: +http:\/\/127\.0\.0\.1:3000 \(Twilio webhook http:\/\/127\.0\.0\.1:3000\/sms\/inbound\)$/ },
    { label: 'Database', line: /^ {2}Database: +PostgreSQL forny@db\.helsbib\.dk:5433\/forny$/ },
    { label: 'Redis', line: /^ {2}Redis: +cache\.helsbib\.dk:6380\/2, queue prefix "helsingor"$/ },
    { label: 'SMS', line: /^ {2}SMS: +sandbox because TWILIO_ACCOUNT_SID is unset/ },
    { label: 'E-mail', line: /^ {2}E-mail: +SMTP to mail\.helsbib\.dk:465 as forny because SMTP_URL is set$/ },
    { label: 'Library system', line: /^ {2}Library system: embedded \(forny's own tables\) because LIBRARY_SYSTEM_URL is unset$/ },
  ];
  for (const row of expected) {
    it(`has one ${row.label} line`, () => expect(lines.filter((line) => row.line.test(line)), lines.join('\n')).to.have.length(1));
  }

  it('contains no password', () => {
    for (const secret of ['db-secret', 'redis-secret', 'mail-secret', 'operator-secret']) expect(lines.join('\n')).not.to.contain(secret);
  });

  it('names a SIP2 library system by its address and institution, never its password', () => {
    const sip2 = loadConfig({ LIBRARY_SYSTEM_URL: 'sips2://forny:sip-secret@sip.example.dk:6001?institution=HBK&location=FORNY' });
    const line = startupLines(sip2, { roles: 'web only', url: undefined, privateRedis: false }).find((text) => text.includes('Library system'));
    expect(line).to.equal('  Library system: SIP2 at sips2://forny@sip.example.dk:6001 (institution HBK, TLS) because LIBRARY_SYSTEM_URL is set');
  });

  it('shows a SQLite file and a URL without a user', () => {
    expect(describeDatabase('sqlite:./data/forny.sqlite')).to.equal('SQLite ./data/forny.sqlite');
    expect(addressOf('redis://127.0.0.1:6379', 6379)).to.equal('127.0.0.1:6379');
    expect(addressOf('redis://127.0.0.1', 6379)).to.equal('127.0.0.1:6379');
  });
});

describe('describeError: one line naming the address', () => {
  const rows: { name: string; error: unknown; expected: string }[] = [
    { name: 'Redis down', error: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }), expected: 'Redis at 127.0.0.1:6379: nothing is listening there (connection refused)' },
    { name: "ioredis's offline words", error: new Error("Stream isn't writeable and enableOfflineQueue options is false"), expected: 'Redis at 127.0.0.1:6379: not connected' },
    { name: 'a missing PostgreSQL database', error: Object.assign(new Error('database "forny" does not exist'), { code: '3D000' }), expected: 'PostgreSQL at 127.0.0.1:6379: the database does not exist (create it, or fix DATABASE_URL)' },
    { name: 'a refused password', error: Object.assign(new Error('password authentication failed for user "forny"'), { code: '28P01' }), expected: 'PostgreSQL at 127.0.0.1:6379: the password was refused' },
    { name: 'a long multi-line message', error: new Error(`first line\n${'x'.repeat(500)}`), expected: 'Redis at 127.0.0.1:6379: first line' },
    { name: 'one of several addresses refused', error: Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]), {}), expected: 'Redis at 127.0.0.1:6379: nothing is listening there (connection refused)' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const service = row.expected.split(' at ')[0] ?? 'Redis';
      const line = describeError(row.error, service, '127.0.0.1:6379');
      expect(line).to.equal(row.expected);
      expect(line).not.to.match(/\n/);
    });
  }
});

describe('the library system at start: one line per state, naming the account', () => {
  const where = { tls: true, host: 'sip.example.dk', port: 6001, user: 'forny' };
  const prefix = 'sips2://forny@sip.example.dk:6001: ';
  const rows: { name: string; state: LibraryState; previous?: LibraryState; level: 'info' | 'warn'; line: string }[] = [
    {
      name: 'a refused login',
      state: { ok: false, down: 'login refused', reason: `${prefix}login refused (94 ok=0): check the SIP2 user, password and location` },
      level: 'warn',
      line: "forny: the library system refused forny's login (sips2 sip.example.dk:6001, user forny); renewals wait until it accepts; check LIBRARY_SYSTEM_URL's user and password",
    },
    {
      name: 'not answering, inside the pool’s backoff',
      state: { ok: false, down: 'not answering', reason: `${prefix}no connection within 10000 ms (next attempt in 4 s)` },
      level: 'warn',
      line: 'forny: the library system is not answering (sips2 sip.example.dk:6001, user forny: no connection within 10000 ms); renewals wait until it answers; forny keeps trying',
    },
    {
      name: 'a system that lacks a message forny needs',
      state: { ok: false, down: 'failing', reason: `${prefix}the system does not offer renew (98 BX lacks them); forny needs patron information, item information, renew` },
      level: 'warn',
      line: 'forny: the library system answers but cannot serve forny (sips2 sip.example.dk:6001, user forny: the system does not offer renew (98 BX lacks them); forny needs patron information, item information, renew); renewals wait until it can',
    },
    { name: 'answering at once', state: { ok: true }, level: 'info', line: "forny: the library system accepted forny's login (sips2 sip.example.dk:6001, user forny)" },
    {
      name: 'answering after not answering',
      state: { ok: true },
      previous: { ok: false, down: 'not answering', reason: 'x' },
      level: 'info',
      line: 'forny: the library system answers now (sips2 sip.example.dk:6001, user forny); renewals that waited go ahead',
    },
  ];
  for (const row of rows) {
    it(row.name, () => expect(libraryStateLine(where, row.state, row.previous)).to.deep.equal({ level: row.level, line: row.line }));
  }
});

describe('start-up lines with LIBRARIES_FILE: one line per library (SPEC §12)', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forny-startup-'));
    file = join(dir, 'libraries.json');
    writeFileSync(
      file,
      JSON.stringify({
        gatewayName: 'Nordsjællands biblioteker',
        libraries: [
          { id: 'hbk', name: 'Helsingør Kommunes Biblioteker', keywords: ['HBK', 'HKB'], site: 'helsbib.dk', systemUrl: '${HBK_SYSTEM_URL}', noticesToken: '${HBK_TOKEN}', operators: [{ user: 'hbk-vagt', passwordHash: await hashPassword('operator-secret') }] },
          { id: 'frb', name: 'Fredensborg Bibliotekerne', keywords: ['FRB'], site: 'fredensborgbib.dk' },
        ],
      }),
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function lines(): string[] {
    const config = loadConfig({ LIBRARIES_FILE: file, HBK_SYSTEM_URL: 'sip2://forny:sip-secret@sip.example.dk:6001?institution=HBK', HBK_TOKEN: 'token-secret'.repeat(4) });
    return startupLines(config, { roles: 'web only', url: undefined, privateRedis: false });
  }

  it('names the file, the count and the gateway, then each library: id, name, keywords, library system', () => {
    const config = loadConfig({ LIBRARIES_FILE: file, HBK_SYSTEM_URL: 'sip2://forny:sip-secret@sip.example.dk:6001?institution=HBK', HBK_TOKEN: 'token-secret'.repeat(4) });
    expect(libraryLines(config)).to.deep.equal([
      `  Libraries:      2 from ${file} (gateway "Nordsjællands biblioteker")`,
      `    hbk: Helsingør Kommunes Biblioteker, keywords HBK, HKB; SIP2 at sip2://forny@sip.example.dk:6001 (institution HBK, plain TCP) because its systemUrl in ${file} is set`,
      `    frb: Fredensborg Bibliotekerne, keywords FRB; embedded (forny's own tables) because its systemUrl in ${file} is unset`,
    ]);
  });

  it('has no single Library system line, and every library once', () => {
    const all = lines();
    expect(all.filter((line) => line.includes('Library system:'))).to.deep.equal([]);
    expect(all.filter((line) => /^ {4}hbk: /.test(line))).to.have.length(1);
    expect(all.filter((line) => /^ {4}frb: /.test(line))).to.have.length(1);
  });

  it('never shows a password, token or hash', () => {
    const text = lines().join('\n');
    for (const secret of ['sip-secret', 'token-secret', 'operator-secret', 'scrypt$']) expect(text).not.to.contain(secret);
  });
});
