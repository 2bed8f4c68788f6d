import type { Knex } from 'knex';
import { isSqlite, type Db } from './repositories/values.js';

/**
 * forny's SQL runner: SQL written once for both databases (`?` placeholders, `RETURNING`,
 * `ON CONFLICT`), run through knex's public `raw` on the Db given (a transaction's or the pool's).
 *
 * What it guarantees:
 * - `rowsOf`/`firstOf` give the rows of a SELECT or of a write with RETURNING, as plain objects, on
 *   both databases; a write without RETURNING gives no rows. `changesOf` gives the rows a write changed.
 * - A statement runs exactly as knex's own queries run: on a transaction, inside it (refused once it
 *   has ended); otherwise on the pool's connection, waiting behind an open transaction.
 * - Values bind as knex binds them (on SQLite, booleans as 1 and 0, Dates as epoch milliseconds).
 * On SQLite every statement goes through the connection's statement cache (db/knexfile).
 *
 * `bulkRowsOf` is `rowsOf` for multi-row inserts of thousands of values (`insertValuesSql`); on
 * SQLite it binds them on the connection itself rather than through knex's raw.
 *
 * `withSqliteConnection` is the one door to the better-sqlite3 connection itself, for the webhook's
 * group commit (db/repositories/inbound), which needs SQLite's own transaction and busy timeout, and
 * for bulkRowsOf. It
 * uses knex's pool methods `acquireConnection`/`releaseConnection`, which knex does not document:
 * test/integration/knex-internals.test.ts pins them (and the knex versions they hold for).
 */

/** The rows a statement returns (a SELECT, or a write with RETURNING). */
export async function rowsOf<Row>(db: Db, sql: string, values: readonly unknown[] = []): Promise<Row[]> {
  const result: unknown = await db.raw(sql, values as Knex.RawBinding[]);
  // better-sqlite3 answers a statement that returns rows with them, a write with its run result.
  if (isSqlite(db)) return Array.isArray(result) ? (result as Row[]) : [];
  return (result as { rows: Row[] }).rows;
}

/** The first row a statement returns, if any. */
export async function firstOf<Row>(db: Db, sql: string, values: readonly unknown[] = []): Promise<Row | undefined> {
  return (await rowsOf<Row>(db, sql, values))[0];
}

/** Runs a write; the number of rows it changed. */
export async function changesOf(db: Db, sql: string, values: readonly unknown[] = []): Promise<number> {
  const result: unknown = await db.raw(sql, values as Knex.RawBinding[]);
  if (isSqlite(db)) return (result as { changes: number }).changes;
  return (result as { rowCount: number | null }).rowCount ?? 0;
}

/** `?, ?, ?` for a list bound into an `IN (…)`. */
export const placeholders = (count: number): string => Array.from({ length: count }, () => '?').join(', ');

/**
 * The most values one statement binds: SQLite's limit as better-sqlite3 12 builds it (32,766);
 * PostgreSQL's is 65,535. A batch of 1,000 notices is then a statement or two per table, not one
 * per 50-100 rows.
 */
export const MAX_BOUND_VALUES = 32_766;

/** How many rows of `columns` values one statement can insert. */
export const rowsPerStatement = (columns: number): number => Math.floor(MAX_BOUND_VALUES / columns);

/** Insert texts by table, columns and row count: a full chunk's text is built once and, on SQLite, prepared once. */
const insertTexts = new Map<string, string>();

/**
 * `INSERT INTO table (columns) VALUES (?, …), …` for `rows` rows, values bound in row order, as both
 * databases take it (knex writes SQLite's as `SELECT … UNION ALL SELECT …`, which SQLite caps at
 * 500 rows). Table and column names are forny's own, never input.
 */
export function insertValuesSql(table: string, columns: readonly string[], rows: number): string {
  const key = `${table}(${columns.join(',')})${rows}`;
  let sql = insertTexts.get(key);
  if (sql === undefined) {
    const row = `(${placeholders(columns.length)})`;
    sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array.from({ length: rows }, () => row).join(', ')}`;
    if (insertTexts.size >= 50) insertTexts.clear();
    insertTexts.set(key, sql);
  }
  return sql;
}

/** The better-sqlite3 connection as a bulk statement uses it (prepare: the connection's cache, db/knexfile). */
interface SqliteStatements {
  prepare(sql: string): { readonly reader: boolean; all(values: unknown[]): unknown[]; run(values: unknown[]): unknown };
}

/** A value as knex binds it on SQLite: booleans as 1 and 0, Dates as epoch milliseconds; undefined refused as knex refuses it. */
function sqliteValue(value: unknown): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.valueOf();
  if (value === undefined) throw new Error('Undefined binding(s) detected for a bulk statement');
  return value;
}

/**
 * `rowsOf` for a statement with thousands of values (a multi-row insert of a whole request), with
 * the same guarantees. On SQLite it runs on knex's connection itself (withSqliteConnection, so on a
 * transaction inside it): knex's raw rewrites the SQL text and handles every value one by one, which
 * for a batch of 1,000 notices cost ~10 ms beside SQLite's ~30 ms of inserting. PostgreSQL runs it
 * as rowsOf.
 */
export async function bulkRowsOf<Row>(db: Db, sql: string, values: readonly unknown[]): Promise<Row[]> {
  if (!isSqlite(db)) return rowsOf<Row>(db, sql, values);
  const bound = values.map(sqliteValue);
  return withSqliteConnection<Row[], SqliteStatements>(db, (connection) => {
    const statement = connection.prepare(sql);
    if (statement.reader) return statement.all(bound) as Row[];
    statement.run(bound);
    return [];
  });
}

/** knex's pool, as its client holds it (undocumented; pinned by test/integration/knex-internals). */
interface ConnectionPool {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

/** A transaction's connection, once known: knex hands the same one out for its whole life. */
const transactionConnections = new WeakMap<Knex.Transaction, unknown>();

/**
 * Runs `use` on the better-sqlite3 connection knex holds for this Db: a transaction's own, or the
 * pool's one, taken and given back (so it waits behind an open transaction as knex's queries do).
 */
export async function withSqliteConnection<T, Connection>(db: Db, use: (connection: Connection) => T): Promise<T> {
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
