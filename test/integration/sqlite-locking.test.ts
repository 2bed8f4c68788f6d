import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Knex } from 'knex';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';

interface RawConnection {
  pragma(sql: string): unknown;
  exec(sql: string): unknown;
  prepare(sql: string): { run(): unknown };
  close(): unknown;
}
// The driver itself (it ships no type declarations), as another process would open the file.
const Database = createRequire(import.meta.url)('better-sqlite3') as new (filename: string) => RawConnection;

/**
 * Web and worker processes share one SQLite file: a transaction must hold the write lock from its
 * BEGIN, or one that read first fails with SQLITE_BUSY when it comes to write after another
 * process did (SQLite cannot wait for that upgrade).
 */
describe('SQLite shared by several processes', function () {
  let dir: string;
  let db: Knex;
  let other: RawConnection;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forny-locking-'));
    db = createKnex(`sqlite:${join(dir, 'forny.sqlite')}`);
    await migrateToLatest(db);
    // Another process's connection, told not to wait, so holding the lock shows as SQLITE_BUSY.
    other = new Database(join(dir, 'forny.sqlite'));
    other.pragma('busy_timeout = 0');
  });
  afterEach(async () => {
    other.close();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

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
});
