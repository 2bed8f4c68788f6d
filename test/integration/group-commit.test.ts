import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { inGroupTransaction } from '../../db/group-commit.js';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';

interface RawConnection {
  prepare(sql: string): { all(): unknown[] };
  close(): unknown;
}
// Another process's view of the file: it sees only what has been committed.
const Database = createRequire(import.meta.url)('better-sqlite3') as new (filename: string) => RawConnection;

/** Works begun together share one SQLite commit, and still succeed or fail each on its own. */
describe('group commit (SQLite)', function () {
  let dir: string;
  let db: Knex;
  let other: RawConnection;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forny-group-'));
    db = createKnex(`sqlite:${join(dir, 'forny.sqlite')}`);
    await migrateToLatest(db);
    other = new Database(join(dir, 'forny.sqlite'));
  });
  afterEach(async () => {
    other.close();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const optOut = (trx: Knex.Transaction, mobile: string) => trx('sms_opt_outs').insert({ mobile, source: 'STOP', at: new Date().toISOString() });
  const committed = () => other.prepare('SELECT mobile FROM sms_opt_outs ORDER BY mobile').all().map((row) => (row as { mobile: string }).mobile);

  it('a work that fails is undone alone; the others are stored, and each caller hears only once it is committed', async () => {
    const seenAtResolve: string[][] = [];
    const first = inGroupTransaction(db, async (trx) => {
      await optOut(trx, '+4520000001');
      return 'first';
    }).then((value) => {
      seenAtResolve.push(committed());
      return value;
    });
    const failing = inGroupTransaction(db, async (trx) => {
      await optOut(trx, '+4520000002');
      throw new Error('this one fails');
    });
    const third = inGroupTransaction(db, async (trx) => {
      await optOut(trx, '+4520000003');
      return 'third';
    });
    const results = await Promise.allSettled([first, failing, third]);
    expect(results.map((result) => result.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).to.have.property('message', 'this one fails');
    expect(committed()).to.deep.equal(['+4520000001', '+4520000003']);
    // When the first caller heard back, another connection already saw both rows of the group.
    expect(seenAtResolve).to.deep.equal([['+4520000001', '+4520000003']]);
  });

  it('a work that breaks a constraint fails alone too', async () => {
    await inGroupTransaction(db, (trx) => optOut(trx, '+4520000009'));
    const results = await Promise.allSettled([
      inGroupTransaction(db, (trx) => optOut(trx, '+4520000009')), // already there: unique key
      inGroupTransaction(db, (trx) => optOut(trx, '+4520000010')),
    ]);
    expect(results.map((result) => result.status)).to.deep.equal(['rejected', 'fulfilled']);
    expect(committed()).to.deep.equal(['+4520000009', '+4520000010']);
  });
});
