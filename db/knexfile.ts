import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import knex, { type Knex } from 'knex';
import { migrationSource } from './migrations/index.js';

export type Dialect = 'sqlite' | 'postgres';

export function dialectOf(databaseUrl: string): Dialect {
  return databaseUrl.startsWith('sqlite:') ? 'sqlite' : 'postgres';
}

/** `sqlite:./data/forny.sqlite` → an absolute path (`sqlite::memory:` stays in memory). */
export function sqliteFilename(databaseUrl: string): string {
  const path = databaseUrl.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  return path === ':memory:' ? path : resolve(path);
}

/** The knex configuration for a DATABASE_URL; migrations are compiled in, not looked up on disk. */
export function knexConfig(databaseUrl: string, log?: KnexLog): Knex.Config {
  const migrations = { migrationSource, tableName: 'knex_migrations' };
  // Knex prints its own warnings (a refused connection, with the driver's stack) to the console
  // unless given a sink; forny's caller summarises the error in one line and logs these at debug.
  const logging = log ? { log: { warn: log, error: log, deprecate: log, debug: log } } : {};
  if (dialectOf(databaseUrl) === 'postgres') {
    return { client: 'pg', connection: databaseUrl, pool: { min: 0, max: 10 }, migrations, ...logging };
  }
  const filename = sqliteFilename(databaseUrl);
  if (filename !== ':memory:') mkdirSync(dirname(filename), { recursive: true });
  return {
    client: 'better-sqlite3',
    connection: { filename },
    useNullAsDefault: true,
    pool: {
      min: 1,
      max: 1,
      afterCreate(connection: SqliteConnection, done: (error: Error | null, connection: unknown) => void) {
        // WAL lets readers (the dashboard) run beside the writer; the busy timeout lets a second
        // process (web and worker split) wait for the write lock instead of failing at once.
        connection.pragma('journal_mode = WAL');
        connection.pragma('synchronous = NORMAL');
        connection.pragma('foreign_keys = ON');
        connection.pragma('busy_timeout = 10000');
        // A savepoint keeps the pages it changes for its rollback in a sub-journal, a temporary
        // file by default: a burst's group commit, a savepoint per renew-all, wrote and reopened it
        // dozens of times per patron. In memory it is only memory (it never outlives a transaction).
        // Sorts that need a temporary B-tree use memory too; forny's are small (limited lists,
        // grouped counts, one day's due loans).
        connection.pragma('temp_store = MEMORY');
        tuneConnection(connection);
        done(null, connection);
      },
    },
    migrations,
    ...logging,
  };
}

/** knex's savepoints, named `trx` and a fresh number each time. */
const knexSavepoint = /^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) trx\d+/i;

/** Statements kept per connection; past this many distinct SQL texts (long IN lists) the cache starts over. */
const STATEMENT_CACHE_SIZE = 500;
/** SQL texts longer than this are prepared for their one use (their compiling is little beside what they write). */
const UNCACHED_SQL_LENGTH = 8192;

interface SqliteConnection {
  pragma(sql: string): unknown;
  prepare(sql: string): unknown;
}

/**
 * Two changes to the better-sqlite3 connection knex runs every query through (knex calls
 * `prepare` for each query and has no option for either):
 * - A transaction takes the write lock at BEGIN (`BEGIN IMMEDIATE`), not at its first write. With
 *   web and worker processes on one file, a deferred transaction that read first and then writes
 *   fails with SQLITE_BUSY at once when another process wrote meanwhile (the busy timeout does not
 *   apply to that upgrade); one that waits for the lock up front waits its turn instead. Every
 *   transaction in forny writes, so nothing is serialised that could have run beside another.
 * - Statements are prepared once per SQL text: compiling SQL was a visible part of every query.
 * Both rest on how knex 3 drives better-sqlite3 (a `prepare` per query, the literal `BEGIN;`), which
 * test/integration/knex-internals.test.ts pins.
 */
function tuneConnection(connection: SqliteConnection): void {
  const prepare = connection.prepare.bind(connection);
  const statements = new Map<string, unknown>();
  connection.prepare = (sql: string) => {
    const text = sql === 'BEGIN;' ? 'BEGIN IMMEDIATE;' : sql;
    // knex's savepoints carry a fresh name each time: kept, they would only push the others out.
    if (knexSavepoint.test(text)) return prepare(text);
    // A multi-row insert of a whole request is a text per row count and megabytes prepared (2.8 MB
    // for 1,725 rows of 18 columns): kept, a few hundred batch sizes would hold a gigabyte.
    if (text.length > UNCACHED_SQL_LENGTH) return prepare(text);
    let statement = statements.get(text);
    if (statement === undefined) {
      if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
      statement = prepare(text);
      statements.set(text, statement);
    }
    return statement;
  };
}

/** Where knex's own warnings go (forny's logger at debug); unset, knex writes to the console. */
export type KnexLog = (message: unknown) => void;

export function createKnex(databaseUrl: string, log?: KnexLog): Knex {
  return knex(knexConfig(databaseUrl, log));
}

export async function migrateToLatest(db: Knex): Promise<void> {
  await db.migrate.latest();
}
