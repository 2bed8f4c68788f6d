/** `npm run db:migrate`: the schema to the latest migration. */
import { createKnex } from '../db/knexfile.js';
import { configOrExit } from './run-forny.js';

const config = configOrExit();
const db = createKnex(config.databaseUrl);
try {
  const [batch, names] = (await db.migrate.latest()) as [number, string[]];
  process.stdout.write(names.length === 0 ? 'Already up to date.\n' : `Migrated (batch ${batch}): ${names.join(', ')}\n`);
} finally {
  await db.destroy();
}
