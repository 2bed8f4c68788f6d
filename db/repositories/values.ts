import type { Knex } from 'knex';

/** Anything repositories can run a query on: the knex instance or an open transaction. */
export type Db = Knex | Knex.Transaction;

/** Instants are stored as UTC ISO text with milliseconds, so they sort as text (see 001-initial). */
export const toStoredInstant = (instant: Date): string => instant.toISOString();

/** SQLite hands booleans back as 0/1, PostgreSQL as true/false. */
export const toBool = (value: unknown): boolean => value === true || value === 1 || value === '1';

/** Counts come back as strings from PostgreSQL and numbers from SQLite. */
export const toCount = (value: unknown): number => Number(value ?? 0);

/** True when the database is SQLite (single writer: row locks are neither needed nor supported). */
export const isSqlite = (db: Db): boolean => (db.client as Knex.Client).config.client === 'better-sqlite3';

/** Rows a write touched: knex reports a number for update/delete on both dialects. */
export const touched = (result: unknown): number => (typeof result === 'number' ? result : Array.isArray(result) ? result.length : 0);

/** A where-group narrowing a query to one library's rows (SPEC §12); empty (every row) when `library` is undefined. */
export const inLibrary =
  (library: string | undefined, column = 'library_id') =>
  (q: Knex.QueryBuilder): void => {
    if (library !== undefined) void q.where(column, library);
  };
