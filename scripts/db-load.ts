/**
 * `npm run db:load -- [--library ID] FILE.json`: loads a library fixture (SPEC §9) into one library
 * (SPEC §12); a bad one loads nothing. `--library` is required when LIBRARIES_FILE names several.
 */
import { readFileSync } from 'node:fs';
import { FixtureError } from '../db/fixture.js';
import { createKnex, migrateToLatest } from '../db/knexfile.js';
import { loadFixture } from '../db/load-fixture.js';
import { clockFor } from '../src/clock.js';
import { configOrExit, stopWith } from './run-forny.js';

const USAGE = 'usage: npm run db:load -- [--library ID] FILE.json';

function parseArguments(args: readonly string[]): { library: string | undefined; file: string } {
  let library: string | undefined;
  const rest: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (arg === '--library') {
      library = args[index + 1];
      index += 1;
      if (library === undefined || library === '') usage();
    } else if (arg.startsWith('--library=')) {
      library = arg.slice('--library='.length);
    } else {
      rest.push(arg);
    }
  }
  const [file, ...extra] = rest;
  if (file === undefined || extra.length > 0 || file.startsWith('--')) usage();
  return { library, file };
}

function usage(): never {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

const { library: named, file } = parseArguments(process.argv.slice(2));
const config = configOrExit();
const ids = config.libraries.map((library) => library.id);
if (named === undefined && ids.length > 1) stopWith(`db:load: --library is required with several libraries (${ids.join(', ')}): npm run db:load -- --library ${ids[0] ?? 'ID'} ${file}`);
const libraryId = named ?? ids[0] ?? 'default';
if (!ids.includes(libraryId)) stopWith(`db:load: no library ${JSON.stringify(libraryId)}; the libraries are ${ids.join(', ')}`);

let input: unknown;
try {
  input = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  stopWith(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not valid JSON (${(error as Error).message})`}`);
}

const db = createKnex(config.databaseUrl);
try {
  await migrateToLatest(db);
  const report = await loadFixture(db, input, clockFor(config.fakeNow).now(), libraryId);
  const into = config.librariesFile ? ` into library ${libraryId}` : '';
  process.stdout.write(
    `Loaded ${file}${into}: ${report.patrons} patrons, ${report.titles} titles, ${report.items} items, ${report.loans} loans, ${report.reservations} reservations.\n`,
  );
} catch (error) {
  if (!(error instanceof FixtureError)) throw error;
  process.stderr.write(`${file}: ${error.message}; nothing was loaded\n`);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
