import { randomBytes } from 'node:crypto';
import knex from 'knex';

/** The PostgreSQL server of this project's machines (trust auth); tests make a database of their own in it. */
export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Creates an empty database for one test and returns its URL, and a way to drop it again. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `forny_test_${randomBytes(6).toString('hex')}`;
  const admin = knex({ client: 'pg', connection: TEST_POSTGRES_URL, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`create database ${name}`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const dropper = knex({ client: 'pg', connection: TEST_POSTGRES_URL, pool: { min: 0, max: 1 } });
      try {
        await dropper.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await dropper.destroy();
      }
    },
  };
}
