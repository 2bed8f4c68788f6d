import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { FixtureError, type FixtureInput } from '../../db/fixture.js';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';
import { loadFixture } from '../../db/load-fixture.js';

/*
 * `npm run db:load -- [--library ID] FILE.json` (SPEC §9, §12): a fixture loads into one library,
 * its ids stored as that library's (storedId), every row marked with library_id; card numbers and
 * barcodes are unique per library, so two libraries may load the very same fixture.
 */

const NOW = new Date('2026-12-01T09:00:00.000Z');
const FIXTURE: FixtureInput = {
  patrons: [
    { id: 'p1', cardNumber: '0101901234', name: 'Karen Blixen', mobile: '+4520000001', smsOptIn: true, email: 'karen@example.dk', emailOptIn: true },
    { id: 'p2', cardNumber: '0202902345', name: 'Johannes V. Jensen', mobile: '+4520000002', smsOptIn: true },
  ],
  titles: [{ id: 't1', title: 'Babettes gæstebud', renewable: true }],
  items: [{ id: 'i1', titleId: 't1', barcode: '5000000001', renewable: true }],
  loans: [{ id: 'l1', patronId: 'p1', itemId: 'i1', kind: 'standard', loanPeriodDays: 30, borrowedOn: '2026-11-03', dueDate: '2026-12-03', renewals: 0, owningLibrary: null }],
  reservations: [{ id: 'r1', patronId: 'p2', titleId: 't1', createdAt: '2026-11-20T10:00:00+01:00' }],
};

let dir: string;
let db: Knex;
let databaseUrl: string;

async function snapshot(): Promise<Record<string, unknown[]>> {
  const tables = ['patrons', 'titles', 'items', 'loans', 'reservations'];
  const result: Record<string, unknown[]> = {};
  for (const table of tables) result[table] = await db(table).select().orderBy('id');
  return result;
}

describe('db:load into a library (SPEC §9, §12)', function () {
  this.timeout(60_000);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forny-db-load-'));
    databaseUrl = `sqlite:${join(dir, 'forny.sqlite')}`;
    db = createKnex(databaseUrl);
    await migrateToLatest(db);
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads into library default with the ids as they are, when no library is named', async () => {
    await loadFixture(db, FIXTURE, NOW);
    expect((await db('patrons').select('id', 'library_id').orderBy('id')).map((row) => [row.id, row.library_id])).to.deep.equal([['p1', 'default'], ['p2', 'default']]);
    expect(await db('loans').where({ id: 'l1', patron_id: 'p1', item_id: 'i1', library_id: 'default' }).first()).to.not.equal(undefined);
  });

  it('the same fixture into two libraries keeps both complete and separate, references included', async () => {
    await loadFixture(db, FIXTURE, NOW, 'hbk');
    await loadFixture(db, FIXTURE, NOW, 'frb');
    for (const library of ['hbk', 'frb']) {
      const patrons = await db('patrons').where({ library_id: library }).orderBy('id');
      expect(patrons.map((row) => [row.id, row.card_number, row.mobile])).to.deep.equal([
        [`${library}:p1`, '0101901234', '+4520000001'],
        [`${library}:p2`, '0202902345', '+4520000002'],
      ]);
      expect((await db('titles').where({ library_id: library })).map((row) => row.id)).to.deep.equal([`${library}:t1`]);
      expect((await db('items').where({ library_id: library })).map((row) => [row.id, row.title_id, row.barcode])).to.deep.equal([[`${library}:i1`, `${library}:t1`, '5000000001']]);
      expect((await db('loans').where({ library_id: library })).map((row) => [row.id, row.patron_id, row.item_id])).to.deep.equal([[`${library}:l1`, `${library}:p1`, `${library}:i1`]]);
      expect((await db('reservations').where({ library_id: library })).map((row) => [row.id, row.patron_id, row.title_id])).to.deep.equal([[`${library}:r1`, `${library}:p2`, `${library}:t1`]]);
    }
    expect(await db('patrons').count({ n: '*' }).first()).to.deep.equal({ n: 4 });
  });

  it('loading twice changes nothing', async () => {
    await loadFixture(db, FIXTURE, NOW, 'frb');
    const before = await snapshot();
    await loadFixture(db, FIXTURE, new Date(NOW.getTime() + 60_000), 'frb');
    expect(await snapshot()).to.deep.equal(before);
  });

  it("a fixture's references may point at the library's rows already loaded, never at another library's", async () => {
    await loadFixture(db, { patrons: FIXTURE.patrons, titles: FIXTURE.titles, items: FIXTURE.items }, NOW, 'hbk');
    await loadFixture(db, { loans: FIXTURE.loans }, NOW, 'hbk');
    expect(await db('loans').where({ id: 'hbk:l1', patron_id: 'hbk:p1' }).first()).to.not.equal(undefined);
    let refused: unknown;
    try {
      await loadFixture(db, { loans: FIXTURE.loans }, NOW, 'frb');
    } catch (error) {
      refused = error;
    }
    expect(refused).to.be.instanceOf(FixtureError);
    expect((refused as Error).message).to.equal('loans[0].patronId: no patron "p1" in the fixture or the database');
  });

  it("a card number or barcode another of the library's patrons or items holds is refused, and nothing is loaded", async () => {
    await loadFixture(db, FIXTURE, NOW, 'hbk');
    const cases: [FixtureInput, string][] = [
      [{ patrons: [{ id: 'p9', cardNumber: '0101901234', name: 'Ny', mobile: null }] }, 'patrons[0].cardNumber: "0101901234" is patron p1\'s card number too'],
      [{ items: [{ id: 'i9', titleId: 't1', barcode: '5000000001' }] }, 'items[0].barcode: "5000000001" is item i1\'s barcode too'],
      [{ patrons: [{ id: 'p8', cardNumber: '1', name: 'A' }, { id: 'p9', cardNumber: '1', name: 'B' }] }, 'patrons[1].cardNumber: "1" appears twice'],
    ];
    for (const [fixture, message] of cases) {
      const before = await snapshot();
      let refused: unknown;
      try {
        await loadFixture(db, fixture, NOW, 'hbk');
      } catch (error) {
        refused = error;
      }
      expect(refused).to.be.instanceOf(FixtureError);
      expect((refused as Error).message).to.equal(message);
      expect(await snapshot()).to.deep.equal(before);
    }
    // Another library may hold the same card number and barcode.
    await loadFixture(db, { patrons: [{ id: 'p9', cardNumber: '0101901234', name: 'Ny' }] }, NOW, 'frb');
  });

  describe('the command', () => {
    function dbLoad(args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
      const result = spawnSync('npx', ['tsx', 'scripts/db-load.ts', ...args], {
        env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', ...env },
        encoding: 'utf8',
        timeout: 50_000,
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    }

    it('--library is required with several libraries, and an unknown one is one line; with it the fixture loads there', () => {
      const librariesFile = join(dir, 'libraries.json');
      writeFileSync(
        librariesFile,
        JSON.stringify({
          libraries: [
            { id: 'hbk', name: 'Helsingør Kommunes Biblioteker', keywords: ['HBK'], site: 'helsbib.dk' },
            { id: 'frb', name: 'Fredensborg Bibliotekerne', keywords: ['FRB'], site: 'fredensborgbib.dk' },
          ],
        }),
      );
      const fixtureFile = join(dir, 'fixture.json');
      writeFileSync(fixtureFile, JSON.stringify(FIXTURE));
      const env = { LIBRARIES_FILE: librariesFile };

      const missing = dbLoad([fixtureFile], env);
      expect(missing.status).to.equal(1);
      expect(missing.stderr.trim().split('\n')).to.deep.equal(['db:load: --library is required with several libraries (hbk, frb): npm run db:load -- --library hbk ' + fixtureFile]);

      const unknown = dbLoad(['--library', 'xyz', fixtureFile], env);
      expect(unknown.status).to.equal(1);
      expect(unknown.stderr.trim().split('\n')).to.deep.equal(['db:load: no library "xyz"; the libraries are hbk, frb']);

      const loaded = dbLoad(['--library', 'frb', fixtureFile], env);
      expect(loaded.stderr).to.equal('');
      expect(loaded.status).to.equal(0);
      expect(loaded.stdout).to.match(/^Loaded .*fixture\.json into library frb: 2 patrons, 1 titles, 1 items, 1 loans, 1 reservations\.\n$/);
    });

    it('without LIBRARIES_FILE loads into the one library, and --library default is accepted', () => {
      const fixtureFile = join(dir, 'fixture.json');
      writeFileSync(fixtureFile, JSON.stringify({ patrons: FIXTURE.patrons }));
      const plain = dbLoad([fixtureFile], {});
      expect(plain.status).to.equal(0);
      expect(plain.stdout).to.match(/^Loaded .*fixture\.json: 2 patrons, 0 titles, 0 items, 0 loans, 0 reservations\.\n$/);
      const named = dbLoad(['--library', 'default', fixtureFile], {});
      expect(named.status).to.equal(0);
      const other = dbLoad(['--library', 'hbk', fixtureFile], {});
      expect(other.status).to.equal(1);
      expect(other.stderr.trim()).to.equal('db:load: no library "hbk"; the libraries are default');
    });
  });
});
