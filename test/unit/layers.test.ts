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

  it('db imports only itself and src/domain', () => {
    expect(breaches('db', inside('db', 'src/domain'))).to.deep.equal([]);
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
});
