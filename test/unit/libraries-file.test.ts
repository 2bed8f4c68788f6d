import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig, type Config } from '../../src/config.js';
import { hashPassword } from '../../src/password-hash.js';

type Env = Record<string, string | undefined>;
type Block = Record<string, unknown>;

/*
 * LIBRARIES_FILE (SPEC §12): the file is checked whole at start; the first problem is one line
 * naming its place, never a secret.
 */

const HBK: Block = { id: 'hbk', name: 'Helsingør Kommunes Biblioteker', keywords: ['HBK', 'HKB'], site: 'helsbib.dk' };
const FRB: Block = { id: 'frb', name: 'Fredensborg Bibliotekerne', keywords: ['FRB'], site: 'fredensborgbib.dk' };
const TOKEN = 'n'.repeat(40);
const SECRET_URL = 'sip2://forny:hemmeligt-kodeord@sip.example.dk:6001?institution=HBK';

let dir: string;
let hash: string;
let count = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'forny-libraries-'));
  hash = await hashPassword('vagt-kodeord');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function fileWith(content: unknown): string {
  count += 1;
  const file = join(dir, `libraries-${count}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function load(content: unknown, env: Env = {}): Config {
  return loadConfig({ LIBRARIES_FILE: fileWith(content), ...env });
}

/** The one line loading this file gives; fails the test when it loads. */
function problemOf(content: unknown, env: Env = {}): string {
  try {
    load(content, env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.to.include('\n');
    return message;
  }
  expect.fail('the file was accepted');
}

describe('LIBRARIES_FILE: a good file (SPEC §12)', () => {
  it('reads every library with its keywords upper-cased, in order, and the gateway name', () => {
    const config = load({ gatewayName: 'Nordsjællands biblioteker', libraries: [HBK, { ...FRB, keywords: ['frb', 'Fb2'] }] });
    expect(config.gatewayName).to.equal('Nordsjællands biblioteker');
    expect(config.libraries.map((library) => library.id)).to.deep.equal(['hbk', 'frb']);
    expect(config.libraries[1]?.keywords).to.deep.equal(['FRB', 'FB2']);
    expect(config.libraries[0]?.system.kind).to.equal('embedded');
  });

  it('defaults gatewayName to Bibliotekerne and sendWindow to SMS_SEND_WINDOW', () => {
    const config = load({ libraries: [HBK, { ...FRB, sendWindow: '10:00-18:00' }] }, { SMS_SEND_WINDOW: '09:00-17:00' });
    expect(config.gatewayName).to.equal('Bibliotekerne');
    expect(config.libraries[0]?.sendWindow).to.deep.equal({ start: { hour: 9, minute: 0 }, end: { hour: 17, minute: 0 } });
    expect(config.libraries[1]?.sendWindow).to.deep.equal({ start: { hour: 10, minute: 0 }, end: { hour: 18, minute: 0 } });
  });

  it('reads ${NAME} values from the environment', () => {
    const config = load({ libraries: [{ ...HBK, systemUrl: '${HBK_SYSTEM_URL}', noticesToken: '${HBK_TOKEN}' }, FRB] }, { HBK_SYSTEM_URL: SECRET_URL, HBK_TOKEN: TOKEN });
    expect(config.libraries[0]?.system.kind).to.equal('sip2');
    expect(config.libraries[0]?.noticesToken).to.equal(TOKEN);
  });

  it('takes operators whose hash npm run hash-password made', () => {
    const config = load({ libraries: [{ ...HBK, operators: [{ user: 'hbk-vagt', passwordHash: hash }] }, FRB] });
    expect(config.libraries[0]?.operators).to.deep.equal([{ user: 'hbk-vagt', passwordHash: hash }]);
  });

  it('keeps the one library of the variables, id default, when LIBRARIES_FILE is unset', () => {
    const config = loadConfig({});
    expect(config.librariesFile).to.equal(undefined);
    expect(config.libraries.map((library) => library.id)).to.deep.equal(['default']);
  });
});

describe('LIBRARIES_FILE: one line naming the place of the first problem (SPEC §12)', () => {
  const cases: { name: string; content: () => unknown; env?: Env; says: RegExp }[] = [
    { name: 'a keyword two libraries share', content: () => ({ libraries: [HBK, { ...FRB, keywords: ['hbk'] }] }), says: /libraries\[1\]\.keywords\[0\]: "HBK" is library hbk's keyword too/ },
    { name: 'a keyword twice in one library', content: () => ({ libraries: [{ ...HBK, keywords: ['HBK', 'HBK'] }] }), says: /libraries\[0\]\.keywords\[1\]: "HBK" is library hbk's keyword too/ },
    { name: 'a keyword of one letter', content: () => ({ libraries: [{ ...HBK, keywords: ['H'] }] }), says: /libraries\[0\]\.keywords\[0\]: "H": expected 2–10 letters or digits/ },
    { name: 'a keyword of eleven letters', content: () => ({ libraries: [{ ...HBK, keywords: ['HELSINGOERB'] }] }), says: /libraries\[0\]\.keywords\[0\]: .*2–10 letters or digits/ },
    { name: 'a keyword with a space', content: () => ({ libraries: [{ ...HBK, keywords: ['H B'] }] }), says: /libraries\[0\]\.keywords\[0\]: .*2–10 letters or digits/ },
    { name: 'no keywords', content: () => ({ libraries: [{ ...HBK, keywords: [] }] }), says: /libraries\[0\]\.keywords: expected an array of at least one keyword/ },
    { name: 'a token too short', content: () => ({ libraries: [{ ...HBK, noticesToken: 'kort' }] }), says: /libraries\[0\]\.noticesToken: \(value hidden\) expected at least 32 characters/ },
    { name: 'a token two libraries share', content: () => ({ libraries: [{ ...HBK, noticesToken: TOKEN }, { ...FRB, noticesToken: TOKEN }] }), says: /libraries\[1\]\.noticesToken: \(value hidden\) is library hbk's token too/ },
    { name: 'an unset ${VAR}', content: () => ({ libraries: [{ ...HBK, systemUrl: '${HBK_SYSTEM_URL}' }] }), says: /libraries\[0\]\.systemUrl: \$\{HBK_SYSTEM_URL\} is unset in the environment/ },
    { name: 'an empty ${VAR}', content: () => ({ libraries: [{ ...HBK, noticesToken: '${HBK_TOKEN}' }] }), env: { HBK_TOKEN: ' ' }, says: /libraries\[0\]\.noticesToken: \$\{HBK_TOKEN\} is unset/ },
    { name: 'a file that is not JSON', content: () => '{"libraries": [', says: /LIBRARIES_FILE \(".*"\): not JSON/ },
    { name: 'a file that is JSON but no object', content: () => '[]', says: /LIBRARIES_FILE \(".*"\): \(top\): expected an object/ },
    { name: 'no libraries', content: () => ({ libraries: [] }), says: /: libraries: expected an array of at least one library/ },
    { name: 'an unknown field at the top', content: () => ({ libraries: [HBK], gateway: 'x' }), says: /: gateway: unknown field/ },
    { name: 'an unknown field in a library', content: () => ({ libraries: [HBK, { ...FRB, keyword: 'FRB' }] }), says: /libraries\[1\]\.keyword: unknown field/ },
    { name: 'an unknown field in an operator', content: () => ({ libraries: [{ ...HBK, operators: [{ user: 'a', passwordHash: hash, password: 'x' }] }] }), says: /libraries\[0\]\.operators\[0\]\.password: unknown field/ },
    { name: 'a missing id', content: () => ({ libraries: [{ ...HBK, id: undefined }] }), says: /libraries\[0\]\.id: is missing/ },
    { name: 'an id with capitals', content: () => ({ libraries: [{ ...HBK, id: 'HBK' }] }), says: /libraries\[0\]\.id: "HBK": expected 1–32 of a-z, 0-9 and -/ },
    { name: 'an id of 33 characters', content: () => ({ libraries: [{ ...HBK, id: 'a'.repeat(33) }] }), says: /libraries\[0\]\.id: .*expected 1–32/ },
    { name: 'an id twice', content: () => ({ libraries: [HBK, { ...FRB, id: 'hbk' }] }), says: /libraries\[1\]\.id: "hbk" is another library's id too/ },
    { name: 'a missing name', content: () => ({ libraries: [{ ...HBK, name: undefined }] }), says: /libraries\[0\]\.name: is missing/ },
    { name: 'a name of 41 characters', content: () => ({ libraries: [{ ...HBK, name: 'B'.repeat(41) }] }), says: /libraries\[0\]\.name: at most 40 characters/ },
    { name: 'a name outside GSM-7', content: () => ({ libraries: [{ ...HBK, name: 'Bibliotek ✓' }] }), says: /libraries\[0\]\.name: holds a character outside the GSM-7 alphabet/ },
    { name: 'a site with a scheme', content: () => ({ libraries: [{ ...HBK, site: 'https://helsbib.dk' }] }), says: /libraries\[0\]\.site: expected a host name/ },
    { name: 'a bad sendWindow', content: () => ({ libraries: [{ ...HBK, sendWindow: '20:00' }] }), says: /libraries\[0\]\.sendWindow: "20:00": / },
    { name: 'a number where a string belongs', content: () => ({ libraries: [{ ...HBK, site: 42 }] }), says: /libraries\[0\]\.site: expected a string/ },
    { name: 'operators not an array', content: () => ({ libraries: [{ ...HBK, operators: { user: 'a' } }] }), says: /libraries\[0\]\.operators: expected an array/ },
    { name: 'an operator without passwordHash', content: () => ({ libraries: [{ ...HBK, operators: [{ user: 'a' }] }] }), says: /libraries\[0\]\.operators\[0\]\.passwordHash: is missing/ },
    { name: 'a passwordHash not made by hash-password', content: () => ({ libraries: [{ ...HBK, operators: [{ user: 'a', passwordHash: 'hemmeligt' }] }] }), says: /libraries\[0\]\.operators\[0\]\.passwordHash: expected a hash made by npm run hash-password/ },
    { name: 'an operator user twice', content: () => ({ libraries: [{ ...HBK, operators: [{ user: 'vagt', passwordHash: hash }] }, { ...FRB, operators: [{ user: 'vagt', passwordHash: hash }] }] }), says: /libraries\[1\]\.operators\[0\]\.user: "vagt" is an operator of library hbk too/ },
    { name: 'an operator named admin (ADMIN_USER unset)', content: () => ({ libraries: [{ ...HBK, operators: [{ user: 'admin', passwordHash: hash }] }] }), says: /libraries\[0\]\.operators\[0\]\.user: "admin" is ADMIN_USER, the gateway's operator/ },
    { name: 'an operator named as ADMIN_USER', content: () => ({ libraries: [{ ...HBK, operators: [{ user: 'chef', passwordHash: hash }] }] }), env: { ADMIN_USER: 'chef' }, says: /operators\[0\]\.user: "chef" is ADMIN_USER/ },
    { name: 'a gatewayName of 41 characters', content: () => ({ gatewayName: 'G'.repeat(41), libraries: [HBK] }), says: /: gatewayName: at most 40 characters/ },
    { name: 'a gatewayName outside GSM-7', content: () => ({ gatewayName: 'Biblioteker ☺', libraries: [HBK] }), says: /: gatewayName: holds a character outside the GSM-7 alphabet/ },
    {
      name: "a gateway text longer than one segment (a long SMS_FROM in STOP's confirmation)",
      content: () => ({ gatewayName: 'G'.repeat(40), libraries: [{ ...HBK, name: 'Hb' }] }),
      env: { SMS_FROM: 'F'.repeat(40) },
      says: /: gatewayName: too long together with SMS_FROM and the keywords: /,
    },
  ];

  for (const { name, content, env, says } of cases) {
    it(name, () => {
      const line = problemOf(content(), env);
      expect(line).to.match(/^Invalid configuration: LIBRARIES_FILE \(/);
      expect(line).to.match(says);
    });
  }

  it('a missing file', () => {
    const missing = join(dir, 'nowhere.json');
    expect(() => loadConfig({ LIBRARIES_FILE: missing })).to.throw(ConfigError, /LIBRARIES_FILE \(".*nowhere\.json"\): cannot be read \(ENOENT\)/);
  });

  for (const variable of ['LIBRARY_NAME', 'LIBRARY_SITE', 'LIBRARY_KEYWORDS', 'LIBRARY_SYSTEM_URL', 'NOTICES_TOKEN']) {
    it(`${variable} set beside it`, () => {
      const value = variable === 'NOTICES_TOKEN' ? TOKEN : variable === 'LIBRARY_SYSTEM_URL' ? SECRET_URL : 'HBK';
      const line = problemOf({ libraries: [HBK] }, { [variable]: value });
      expect(line).to.match(new RegExp(`^Invalid configuration: ${variable} \\(.*\\): must be unset when LIBRARIES_FILE is set`));
    });
  }

  it('never prints a systemUrl or noticesToken, from the file or from ${VAR}', () => {
    const lines = [
      problemOf({ libraries: [{ ...HBK, systemUrl: 'sip2://forny:hemmeligt-kodeord@sip.example.dk' }] }),
      problemOf({ libraries: [{ ...HBK, systemUrl: '${URL}' }] }, { URL: 'sip2://forny:hemmeligt-kodeord@sip.example.dk:6001?institution=HBK&bad=1' }),
      problemOf({ libraries: [{ ...HBK, noticesToken: 'hemmeligt-kodeord' }] }),
      problemOf({ libraries: [{ ...HBK, noticesToken: 'hemmeligt-kodeord'.repeat(3) }, { ...FRB, noticesToken: '${T}' }] }, { T: 'hemmeligt-kodeord'.repeat(3) }),
      problemOf({ libraries: [HBK] }, { LIBRARY_SYSTEM_URL: SECRET_URL }),
      problemOf({ libraries: [HBK] }, { NOTICES_TOKEN: `hemmeligt-kodeord${TOKEN}` }),
    ];
    for (const line of lines) expect(line).not.to.include('hemmeligt');
  });
});

describe('LIBRARIES_FILE: a bad file stops the process at start with its one line', () => {
  it('npm start prints the line and exits non-zero before anything runs', function () {
    this.timeout(60_000);
    const file = fileWith({ libraries: [HBK, { ...FRB, keywords: ['HBK'] }] });
    const result = spawnSync('npx', ['tsx', 'scripts/start.ts'], {
      env: { ...process.env, LIBRARIES_FILE: file, DATABASE_URL: `sqlite:${join(dir, 'never.sqlite')}`, PORT: '0' },
      encoding: 'utf8',
      timeout: 50_000,
    });
    expect(result.status).to.equal(1);
    expect(result.stderr.trim().split('\n')).to.deep.equal([`Invalid configuration: LIBRARIES_FILE (${JSON.stringify(file)}): libraries[1].keywords[0]: "HBK" is library hbk's keyword too`]);
  });
});
