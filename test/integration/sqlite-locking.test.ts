import { expect } from 'chai';
import type { Knex } from 'knex';
import { createGroupCommit } from '../../db/group-commit.js';
import { SqliteFile, type RawConnection } from '../helpers/sqlite-file.js';

/**
 * Web and worker processes share one SQLite file: a transaction must hold the write lock from its
 * BEGIN, or one that read first fails with SQLITE_BUSY when it comes to write after another
 * process did (SQLite cannot wait for that upgrade).
 */
describe('SQLite shared by several processes', function () {
  let file: SqliteFile;
  let db: Knex;
  let other: RawConnection;
  beforeEach(async () => {
    file = await SqliteFile.create();
    ({ db, other } = file);
    // Another process's connection, told not to wait, so holding the lock shows as SQLITE_BUSY.
    other.pragma('busy_timeout = 0');
  });
  afterEach(async () => file.remove());

  it('a transaction holds the write lock from its start, before its first write', async () => {
    await db.transaction(async (trx) => {
      await trx('inbound_messages').count({ n: '*' });
      expect(() => other.exec('BEGIN IMMEDIATE')).to.throw(/database is locked/);
    });
    other.exec('BEGIN IMMEDIATE');
    other.exec('ROLLBACK');
  });

  it('a transaction that reads and then writes never meets SQLITE_BUSY from a write made meanwhile', async () => {
    const write = () => other.prepare('UPDATE inbound_messages SET body = body WHERE id = -1').run();
    await db.transaction(async (trx) => {
      await trx('inbound_messages').count({ n: '*' });
      // The other process cannot slip a write in between this read and the write below.
      expect(write).to.throw(/database is locked/);
      await trx('inbound_messages').where({ id: -1 }).update({ body: 'x' });
    });
    expect(write).not.to.throw();
  });

  it('webhook inserts waiting for another process\'s write lock leave this process free, and are stored once it is released', async () => {
    other.exec('BEGIN IMMEDIATE');
    const values = (n: number) => ({ messageSid: `SMlock${n}`, accountSid: null, fromNumber: '+4520000001', toNumber: '1910', body: 'HBK FORNY ALLE', command: 'renew-all' as const, status: 'received' as const, libraryId: 'default' });
    const group = createGroupCommit(db);
    const stored = Promise.all([group.insertInbound(values(1), new Date()), group.insertInbound(values(2), new Date())]);
    let settled = false;
    void stored.then(() => (settled = true));
    // Timers still fire while the lock is held elsewhere: the event loop is not asleep in SQLite's wait.
    const ticks = await new Promise<number>((resolve) => {
      let count = 0;
      const timer = setInterval(() => {
        if (++count === 20) {
          clearInterval(timer);
          resolve(count);
        }
      }, 1);
    });
    expect(ticks).to.equal(20);
    expect(settled).to.equal(false);
    other.exec('COMMIT');
    const results = await stored;
    expect(results.map((result) => result.inserted)).to.deep.equal([true, true]);
    expect(Number((await db('inbound_messages').count({ n: '*' }).first())?.n)).to.equal(2);
  });
});
