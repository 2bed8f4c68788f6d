import { accessSync, constants, createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createBrotliDecompress } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium: used when it is installed (`apt-get install chromium`, as `.ci/run` used to do). */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** Headless, and nothing that calls out of the machine: no updates, no sync, no first-run checks. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] as const;

/** Which Chromium a test runs, and where it came from (for the error a failed launch reports). */
export interface ChromiumExecutable {
  path: string;
  source: 'debian' | 'npm';
}

/** The npm package that ships a headless Chromium (x86-64 Linux) as one Brotli file, `bin/chromium.br`. */
const PACKAGE = '@sparticuz/chromium';

/**
 * The headless Chromium inside the devDependency `@sparticuz/chromium`, so `npm ci` alone brings a
 * browser: no apt-get, no root, nothing downloaded at run time. The binary is inflated once per
 * package version into `node_modules/.cache/forny-chromium/<version>/` (about 7 s, 190 MB), written
 * under a temporary name and renamed, so a test run killed midway or two runs at once never leave a
 * half-written browser behind. The package's own `executablePath()` is not used: it inflates into a
 * fixed `/tmp/chromium` (with libraries and fonts beside it in `/tmp`) and trusts whatever file is
 * there, of any version, whole or not.
 */
export async function npmChromium(): Promise<string> {
  const packageDir = join(dirname(createRequire(import.meta.url).resolve(PACKAGE)), '..', '..');
  const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const compressed = join(packageDir, 'bin', 'chromium.br');
  if (!existsSync(compressed)) throw new Error(`${PACKAGE}@${version} has no ${compressed} (this package ships x86-64 Linux only); install Debian's chromium instead`);
  const dir = fileURLToPath(new URL(`../../node_modules/.cache/forny-chromium/${version}/`, import.meta.url));
  const executable = join(dir, 'chromium');
  if (existsSync(executable)) return executable;
  mkdirSync(dir, { recursive: true });
  const partial = `${executable}.${process.pid}-${randomUUID()}.partial`;
  try {
    await pipeline(createReadStream(compressed), createBrotliDecompress(), createWriteStream(partial, { mode: 0o755 }));
    renameSync(partial, executable);
  } finally {
    rmSync(partial, { force: true });
  }
  return executable;
}

/** Debian's `/usr/bin/chromium` when it is installed, else the one that came with `npm ci`. */
export async function chromiumExecutable(): Promise<ChromiumExecutable> {
  try {
    accessSync(DEBIAN_CHROMIUM, constants.X_OK);
    return { path: DEBIAN_CHROMIUM, source: 'debian' };
  } catch {
    return { path: await npmChromium(), source: 'npm' };
  }
}

/** Launches headless Chromium with {@link CHROMIUM_ARGS}; a failure says which binary it tried. */
export async function launchChromium(executable?: ChromiumExecutable): Promise<Browser> {
  const { path, source } = executable ?? (await chromiumExecutable());
  try {
    return await chromium.launch({ executablePath: path, args: [...CHROMIUM_ARGS] });
  } catch (error) {
    const from = source === 'debian' ? "Debian's chromium" : `the Chromium of the npm package ${PACKAGE}`;
    throw new Error(`could not launch ${from} at ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
