import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';

/** The driver itself (it ships no type declarations), as another process would open the file. */
export interface RawConnection {
  pragma(sql: string): unknown;
  exec(sql: string): unknown;
  prepare(sql: string): { run(): unknown; all(): unknown[] };
  close(): unknown;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (filename: string) => RawConnection;

/** A migrated SQLite file of its own: forny's knex on it, and another process's connection to it. */
export class SqliteFile {
  private constructor(
    private readonly dir: string,
    readonly db: Knex,
    readonly other: RawConnection,
  ) {}

  static async create(): Promise<SqliteFile> {
    const dir = mkdtempSync(join(tmpdir(), 'forny-sqlite-'));
    const db = createKnex(`sqlite:${join(dir, 'forny.sqlite')}`);
    await migrateToLatest(db);
    return new SqliteFile(dir, db, new Database(join(dir, 'forny.sqlite')));
  }

  async remove(): Promise<void> {
    this.other.close();
    await this.db.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
