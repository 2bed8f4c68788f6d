/* global process */
// `npm start`, `npm run web`, `npm run worker`: run the compiled JavaScript in dist/ (built by
// `npm run build`), not TypeScript through tsx. Plain JavaScript, so it runs before any build: with
// no build, or one older than the source (a pull without a build), it says so in one line instead of
// running stale code or failing with a stack trace.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const name = process.argv[2];
const entry = `dist/scripts/${name}.js`;
const stamp = 'dist/.built';

function newestSource(dir) {
  let newest = 0;
  for (const item of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, item.name);
    if (item.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (item.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

if (!existsSync(entry) || !existsSync(stamp)) {
  process.stderr.write(`forny is not built yet: run \`npm run build\` first (it compiles to dist/), then \`npm ${name === 'start' ? 'start' : `run ${name}`}\` again.\n`);
  process.exit(1);
}
const built = statSync(stamp).mtimeMs;
if (['src', 'jobs', 'db', 'scripts'].some((dir) => newestSource(dir) > built)) {
  process.stderr.write('dist/ is older than the source (changed since the last build): run `npm run build` first.\n');
  process.exit(1);
}
await import(pathToFileURL(entry).href);
