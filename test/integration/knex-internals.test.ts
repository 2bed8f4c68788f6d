import { expect } from 'chai';
import { createRequire } from 'node:module';
import type { Knex } from 'knex';
import { changesOf, firstOf, rowsOf, withSqliteConnection } from '../../db/statement.js';
import { SqliteFile } from '../helpers/sqlite-file.js';

/*
 * What forny relies on in knex beyond its documented API, pinned so that a knex upgrade that
 * changes it fails here rather than in production:
 * - db/knexfile rewrites the literal `BEGIN;` knex's SQLite transaction sends through the
 *   connection's `prepare` into `BEGIN IMMEDIATE;` (knex has no option for it), and keeps statements
 *   prepared per SQL text (knex calls `prepare` for every query);
 * - db/statement's withSqliteConnection (the webhook's group commit) takes the better-sqlite3
 *   connection through the client's `acquireConnection`/`releaseConnection`, a transaction's own
 *   inside one.
 * test/integration/sqlite-locking holds the behaviour that comes of it (the write lock from BEGIN).
 */

interface SpiedConnection {
  prepare(sql: string): unknown;
  inTransaction: boolean;
}

describe('knex internals forny relies on (pinned)', () => {
  let file: SqliteFile;
  let db: Knex;
  beforeEach(async () => {
    file = await SqliteFile.create();
    ({ db } = file);
  });
  afterEach(async () => file.remove());

  it('is knex 3, the major these were checked against', () => {
    const { version } = createRequire(import.meta.url)('knex/package.json') as { version: string };
    expect(version, 'knex upgraded: re-check db/knexfile (BEGIN;) and db/statement (acquireConnection), then this range').to.match(/^3\.\d+\.\d+$/);
  });

  it("knex's client hands out the pool's one connection by acquireConnection/releaseConnection, and a transaction's own inside one", async () => {
    const client = db.client as { acquireConnection?: unknown; releaseConnection?: unknown };
    expect(client.acquireConnection).to.be.a('function');
    expect(client.releaseConnection).to.be.a('function');
    const outside = await withSqliteConnection<SpiedConnection, SpiedConnection>(db, (connection) => connection);
    expect(outside.inTransaction).to.equal(false);
    await db.transaction(async (trx) => {
      await trx.raw('SELECT 1');
      const inside = await withSqliteConnection<SpiedConnection, SpiedConnection>(trx, (connection) => connection);
      expect(inside.inTransaction).to.equal(true);
      expect(inside).to.equal(outside); // pool of one (db/knexfile)
    });
    // Given back: knex's own queries still run.
    expect(await db.raw('SELECT 2 AS n')).to.deep.equal([{ n: 2 }]);
  });

  it("knex's SQLite transaction sends the literal `BEGIN;` through the connection's prepare, which forny's connection makes BEGIN IMMEDIATE", async () => {
    const connection = await withSqliteConnection<SpiedConnection, SpiedConnection>(db, (c) => c);
    const tuned = connection.prepare.bind(connection);
    const seen: string[] = [];
    connection.prepare = (sql: string) => {
      seen.push(sql);
      return tuned(sql);
    };
    try {
      await db.transaction(async (trx) => {
        await trx('inbound_messages').count({ n: '*' });
      });
    } finally {
      connection.prepare = tuned;
    }
    expect(seen[0]).to.equal('BEGIN;');
    expect(seen.some((sql) => /inbound_messages/.test(sql)), 'knex runs its queries through prepare').to.equal(true);
    expect((tuned('BEGIN;') as { source: string }).source).to.equal('BEGIN IMMEDIATE;');
    expect(tuned('SELECT 1'), 'prepared once per SQL text').to.equal(tuned('SELECT 1'));
  });

  it('db/statement runs one SQL text through knex.raw: rows, RETURNING rows, changes, booleans bound as 1 and 0', async () => {
    await db.raw('CREATE TABLE t (id INTEGER PRIMARY KEY, flag INTEGER)');
    expect(await rowsOf(db, 'INSERT INTO t (flag) VALUES (?), (?) RETURNING id, flag', [true, false])).to.deep.equal([{ id: 1, flag: 1 }, { id: 2, flag: 0 }]);
    expect(await rowsOf(db, 'UPDATE t SET flag = ? WHERE id = ?', [true, 2])).to.deep.equal([]);
    expect(await changesOf(db, 'UPDATE t SET flag = ?', [false])).to.equal(2);
    expect(await firstOf(db, 'SELECT count(*) AS n FROM t WHERE flag = ?', [false])).to.deep.equal({ n: 2 });
    await db.transaction(async (trx) => {
      expect(await changesOf(trx, 'DELETE FROM t WHERE id = ?', [1])).to.equal(1);
    });
    expect(await firstOf(db, 'SELECT count(*) AS n FROM t')).to.deep.equal({ n: 1 });
  });
});
