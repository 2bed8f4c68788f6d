/** `npm run db:load -- FILE.json`: loads a library fixture (SPEC §9); a bad one loads nothing. */
import { readFileSync } from 'node:fs';
import { FixtureError } from '../db/fixture.js';
import { createKnex, migrateToLatest } from '../db/knexfile.js';
import { loadFixture } from '../db/load-fixture.js';
import { clockFor } from '../src/clock.js';
import { configOrExit } from './run-forny.js';

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  process.stderr.write('usage: npm run db:load -- FILE.json\n');
  process.exit(2);
}

let input: unknown;
try {
  input = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  process.stderr.write(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not valid JSON (${(error as Error).message})`}\n`);
  process.exit(1);
}

const config = configOrExit();
const db = createKnex(config.databaseUrl);
try {
  await migrateToLatest(db);
  const report = await loadFixture(db, input, clockFor(config.fakeNow).now());
  process.stdout.write(
    `Loaded ${file}: ${report.patrons} patrons, ${report.titles} titles, ${report.items} items, ${report.loans} loans, ${report.reservations} reservations.\n`,
  );
} catch (error) {
  if (!(error instanceof FixtureError)) throw error;
  process.stderr.write(`${file}: ${error.message}; nothing was loaded\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
