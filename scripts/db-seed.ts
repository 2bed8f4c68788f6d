/** `npm run db:seed`: the demo library, dated from today (or FAKE_NOW), into DATABASE_URL. */
import { createKnex, migrateToLatest } from '../db/knexfile.js';
import { loadFixture } from '../db/load-fixture.js';
import { demoLibrary, DEMO_PATRON_MOBILE } from '../db/seeds/demo-library.js';
import { clockFor } from '../src/clock.js';
import { dateIn } from '../src/domain/calendar-date.js';
import { configOrExit } from './run-forny.js';

const config = configOrExit();
const db = createKnex(config.databaseUrl);
try {
  await migrateToLatest(db);
  const today = dateIn(clockFor(config.fakeNow).now(), config.timeZone);
  const report = await loadFixture(db, demoLibrary(today), new Date());
  process.stdout.write(
    `Seeded the demo library for ${today}: ${report.patrons} patrons, ${report.loans} loans. Try: npm run sms -- --from ${DEMO_PATRON_MOBILE} "HBK FORNY ALLE"\n`,
  );
} finally {
  await db.destroy();
}
