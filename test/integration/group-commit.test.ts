import { expect } from 'chai';
import type { Knex } from 'knex';
import { createGroupCommit, type GroupCommit } from '../../db/group-commit.js';
import { SqliteFile, type RawConnection } from '../helpers/sqlite-file.js';

/** Works begun together share one SQLite commit, and still succeed or fail each on its own. */
describe('group commit (SQLite)', function () {
  let file: SqliteFile;
  let db: Knex;
  let group: GroupCommit;
  // Another process's view of the file: it sees only what has been committed.
  let other: RawConnection;
  beforeEach(async () => {
    file = await SqliteFile.create();
    ({ db, other } = file);
    group = createGroupCommit(db);
  });
  afterEach(async () => file.remove());

  const optOut = (trx: Knex.Transaction, mobile: string) => trx('sms_opt_outs').insert({ mobile, source: 'STOP', at: new Date().toISOString() });
  const committed = () => other.prepare('SELECT mobile FROM sms_opt_outs ORDER BY mobile').all().map((row) => (row as { mobile: string }).mobile);

  it('a work that fails is undone alone; the others are stored, and each caller hears only once it is committed', async () => {
    const seenAtResolve: string[][] = [];
    const first = group.transaction(async (trx) => {
      await optOut(trx, '+4520000001');
      return 'first';
    }).then((value) => {
      seenAtResolve.push(committed());
      return value;
    });
    const failing = group.transaction(async (trx) => {
      await optOut(trx, '+4520000002');
      throw new Error('this one fails');
    });
    const third = group.transaction(async (trx) => {
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
    await group.transaction((trx) => optOut(trx, '+4520000009'));
    const results = await Promise.allSettled([
      group.transaction((trx) => optOut(trx, '+4520000009')), // already there: unique key
      group.transaction((trx) => optOut(trx, '+4520000010')),
    ]);
    expect(results.map((result) => result.status)).to.deep.equal(['rejected', 'fulfilled']);
    expect(committed()).to.deep.equal(['+4520000009', '+4520000010']);
  });

  it('a single statement that fails in a group changes nothing, without a savepoint of its own', async () => {
    await group.transaction((trx) => optOut(trx, '+4520000020'));
    const results = await Promise.allSettled([
      group.transaction((trx) => optOut(trx, '+4520000021'), { oneStatement: true }),
      group.transaction((trx) => optOut(trx, '+4520000020'), { oneStatement: true }), // unique key
      group.transaction((trx) => optOut(trx, '+4520000022'), { oneStatement: true }),
    ]);
    expect(results.map((result) => result.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect(committed()).to.deep.equal(['+4520000020', '+4520000021', '+4520000022']);
  });

  it('when SQLite ends the whole transaction under a work, no work of the group is stored and every caller hears so', async () => {
    const results = await Promise.allSettled([
      group.transaction((trx) => optOut(trx, '+4520000031')),
      group.transaction(async (trx) => {
        await optOut(trx, '+4520000032');
        // As a full disk or an I/O error would: the transaction is gone, savepoints and all.
        await trx.raw('ROLLBACK');
        throw new Error('disk full');
      }),
      group.transaction((trx) => optOut(trx, '+4520000033')),
    ]);
    expect(results.map((result) => result.status)).to.deep.equal(['rejected', 'rejected', 'rejected']);
    expect(committed()).to.deep.equal([]);
    // The connection is usable again afterwards.
    await group.transaction((trx) => optOut(trx, '+4520000034'));
    expect(committed()).to.deep.equal(['+4520000034']);
  });
});
