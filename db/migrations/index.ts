import type { Knex } from 'knex';
import * as initial from './001-initial.js';

interface Migration {
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

/** Migrations in order. Listed here rather than read from a folder, so they work the same under tsx and a bundle. */
const migrations: ReadonlyArray<readonly [string, Migration]> = [['001-initial', initial]];

export const migrationSource: Knex.MigrationSource<readonly [string, Migration]> = {
  getMigrations: async () => [...migrations],
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
