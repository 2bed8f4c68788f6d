import type { Knex } from 'knex';
import { isSqlite, type Db } from './repositories/values.js';

/**
 * SQL written once for both databases (`?` placeholders, `RETURNING`, `ON CONFLICT`) and run as a
 * prepared statement. On SQLite it runs straight on the better-sqlite3 connection knex holds for
 * this Db (a transaction's own, or the pool's one, taken and given back like any knex query), so
 * it waits behind an open transaction exactly as knex's queries do; the connection keeps its
 * statements prepared per SQL text (db/knexfile). On PostgreSQL it runs through `knex.raw`.
 *
 * For the statements a renew-all and a send run per patron: knex's query building and runner cost
 * more CPU than SQLite's own work on those short statements. Everything else stays on knex's builder.
 */

interface PreparedSqlite {
  readonly reader: boolean;
  all(values: readonly unknown[]): unknown[];
  run(values: readonly unknown[]): { changes: number };
}
interface SqliteConnection {
  prepare(sql: string): PreparedSqlite;
}
interface ConnectionPool {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

/** SQLite has no booleans: knex binds them as 1 and 0, and so does this. */
const sqliteValue = (value: unknown): unknown => (typeof value === 'boolean' ? Number(value) : value);

/** A transaction's connection, once known: knex hands the same one out for its whole life. */
const transactionConnections = new WeakMap<Knex.Transaction, unknown>();

/**
 * Runs `use` on the better-sqlite3 connection knex holds for this Db: a transaction's own, or the
 * pool's one, taken and given back (so it waits behind an open transaction as knex's queries do).
 */
export async function withSqliteConnection<T, Connection = SqliteConnection>(db: Db, use: (connection: Connection) => T): Promise<T> {
  const pool = db.client as ConnectionPool;
  if (db.isTransaction) {
    const trx = db as Knex.Transaction;
    // knex refuses queries on a transaction that has ended; so does this.
    if (trx.isCompleted()) throw new Error('Transaction query already complete');
    let connection = transactionConnections.get(trx);
    if (!connection) {
      connection = await pool.acquireConnection();
      transactionConnections.set(trx, connection);
    }
    return use(connection as Connection);
  }
  const connection = await pool.acquireConnection();
  try {
    return use(connection as Connection);
  } finally {
    await pool.releaseConnection(connection);
  }
}

/** The rows a statement returns (a SELECT, or a write with RETURNING). */
export async function rowsOf<Row>(db: Db, sql: string, values: readonly unknown[] = []): Promise<Row[]> {
  if (isSqlite(db)) {
    return withSqliteConnection(db, (connection) => {
      const statement = connection.prepare(sql);
      const bound = values.map(sqliteValue);
      return (statement.reader ? statement.all(bound) : (statement.run(bound), [])) as Row[];
    });
  }
  const result: { rows: Row[] } = await db.raw(sql, values as Knex.RawBinding[]);
  return result.rows;
}

/** The first row a statement returns, if any. */
export async function firstOf<Row>(db: Db, sql: string, values: readonly unknown[] = []): Promise<Row | undefined> {
  return (await rowsOf<Row>(db, sql, values))[0];
}

/** Runs a write; the number of rows it changed. */
export async function changesOf(db: Db, sql: string, values: readonly unknown[] = []): Promise<number> {
  if (isSqlite(db)) return withSqliteConnection(db, (connection) => connection.prepare(sql).run(values.map(sqliteValue)).changes);
  const result: { rowCount: number | null } = await db.raw(sql, values as Knex.RawBinding[]);
  return result.rowCount ?? 0;
}

/** `?, ?, ?` for a list bound into an `IN (…)`. */
export const placeholders = (count: number): string => Array.from({ length: count }, () => '?').join(', ');
