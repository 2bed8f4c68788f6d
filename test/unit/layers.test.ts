import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * The README's "which folder may import which", checked against the imports as written: a file that
 * breaks a rule is named with the import that breaks it.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sourceFiles(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(folder, name));
}

/** Every relative import of a file, as a path from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((match) => match[1] ?? '');
  return specifiers.map((specifier) => relative(root, resolve(root, dirname(file), specifier)));
}

function breaches(folder: string, allowed: (target: string) => boolean): string[] {
  return sourceFiles(folder).flatMap((file) => importsOf(file).filter((target) => !allowed(target)).map((target) => `${file} imports ${target}`));
}

const inside = (...folders: string[]) => (target: string) => folders.some((folder) => target.startsWith(`${folder}/`));

describe('which folder may import which (README, "Where the code lives")', () => {
  it('src/domain imports nothing of forny outside itself', () => {
    expect(breaches('src/domain', inside('src/domain'))).to.deep.equal([]);
  });

  it('db imports only itself, src/domain and lib', () => {
    expect(breaches('db', inside('db', 'src/domain', 'lib'))).to.deep.equal([]);
  });

  it('nothing under src imports jobs or scripts', () => {
    expect(breaches('src', (target) => !inside('jobs', 'scripts')(target))).to.deep.equal([]);
  });

  it('jobs imports neither scripts nor tests', () => {
    expect(breaches('jobs', (target) => !inside('scripts', 'test')(target))).to.deep.equal([]);
  });

  it('no job imports another: a processor is a thin adapter over a use-case in src (start-workers runs them all)', () => {
    const processors = sourceFiles('jobs').filter((file) => file !== join('jobs', 'start-workers.ts'));
    const found = processors.flatMap((file) => importsOf(file).filter((target) => target.startsWith('jobs/')).map((target) => `${file} imports ${target}`));
    expect(found).to.deep.equal([]);
  });

  it('lib imports nothing of forny: its pieces (ThisTurn) are neutral, for db and src alike', () => {
    expect(breaches('lib', inside('lib'))).to.deep.equal([]);
  });
});

/** Every source file outside the tests, with its text. */
const everySource = () => ['lib', 'src', 'jobs', 'db', 'scripts'].flatMap((folder) => sourceFiles(folder)).map((file) => ({ file, text: readFileSync(join(root, file), 'utf8') }));

describe('one owner of the SMS rate (src/sms/sms-rate.ts)', () => {
  const owner = join('src', 'sms', 'sms-rate.ts');

  it("only the owner names a key of the rate (forny's slot key, BullMQ's limiter key) or runs a script on Redis's clock", () => {
    const found = everySource()
      .filter(({ file }) => file !== owner)
      .flatMap(({ file, text }) => [/sms-next-slot/, /:limiter\b/, /redis\.call\(\s*'TIME'/].filter((pattern) => pattern.test(text)).map((pattern) => `${file} matches ${pattern}`));
    expect(found).to.deep.equal([]);
  });

  it('SMS_RATE_PER_SECOND is read only to build the owner (src/deps.ts) and by the benches that check it', () => {
    const allowed = new Set([owner, join('src', 'config.ts'), join('src', 'deps.ts')]);
    const found = everySource()
      .filter(({ file }) => !allowed.has(file) && !file.startsWith(join('scripts', 'bench')))
      .filter(({ text }) => /sms\.ratePerSecond|smsRateLimiter/.test(text))
      .map(({ file }) => file);
    expect(found).to.deep.equal([]);
  });
});

describe('no module-level batch state', () => {
  it('every ThisTurn is made inside a function (built with what it batches, in createDeps), none at the top of a module', () => {
    const found = everySource().flatMap(({ file, text }) => (/^(?:export )?(?:const|let|var) \w+\s*(?::[^=]+)?= new ThisTurn/m.test(text) ? [file] : []));
    expect(found).to.deep.equal([]);
  });
});
