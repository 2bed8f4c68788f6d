import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

/**
 * The README and docs/ are read in a clone, where only the repository exists (issue 21): every
 * relative link in them must reach a file of the repository (and, for a `#heading` in a Markdown
 * file, a heading of that file), and nothing may point into `../shared`, which a clone does not have.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const documents = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

interface Link {
  readonly file: string;
  readonly line: number;
  readonly target: string;
}

/** The text outside fenced code blocks and inline code, line by line (a link in code is not a link). */
function proseLines(text: string): string[] {
  let fenced = false;
  return text.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line.replace(/`[^`]*`/g, '');
  });
}

/** Every inline link and image target, `[text](target)` or `![alt](target "title")`. */
function linksOf(file: string): Link[] {
  const lines = proseLines(readFileSync(join(root, file), 'utf8'));
  return lines.flatMap((text, index) =>
    [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => ({ file, line: index + 1, target: match[1] ?? '' })));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  let fenced = false;
  const headings = readFileSync(file, 'utf8').split('\n').filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    return !fenced && /^#{1,6}\s/.test(line);
  });
  return new Set(headings.map((line) => slug(line.replace(/^#{1,6}\s+/, ''))));
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** What is wrong with one link, or undefined when it resolves. */
function problem(link: Link): string | undefined {
  if (/(^|\/)\.\.\/shared(\/|$)|(^|\/)shared\/SPEC/i.test(link.target)) return 'links into ../shared, which a clone does not have';
  if (isExternal(link.target)) return undefined;
  const [path = '', anchor] = link.target.split('#');
  const from = dirname(join(root, link.file));
  const file = path === '' ? join(root, link.file) : resolve(from, decodeURI(path));
  if (!file.startsWith(`${root}/`) && file !== root) return 'points outside the repository';
  if (!existsSync(file)) return `${relative(root, file)} does not exist`;
  if (anchor !== undefined && anchor !== '' && statSync(file).isFile() && file.endsWith('.md') && !anchorsOf(file).has(anchor)) {
    return `${relative(root, file)} has no heading #${anchor}`;
  }
  return undefined;
}

describe('links in README.md and docs/*.md', () => {
  const links = documents.flatMap(linksOf);

  it('finds the links (the README links into docs/)', () => {
    expect(documents).to.include.members(['README.md', 'docs/configuration.md', 'docs/operations.md', 'docs/sip2.md']);
    expect(links.filter((link) => link.file === 'README.md' && link.target.startsWith('docs/')).length).to.be.greaterThan(5);
  });

  it('has every relative link reach a file of the repository (and its heading)', () => {
    const broken = links.flatMap((link) => {
      const wrong = problem(link);
      return wrong === undefined ? [] : [`${link.file}:${link.line}: (${link.target}) ${wrong}`];
    });
    expect(broken, 'broken links').to.deep.equal([]);
  });

  it('never names ../shared or its SPEC, in a link or in the text', () => {
    const files = [...documents, 'docs/openapi.yaml'];
    const mentions = files.flatMap((file) =>
      readFileSync(join(root, file), 'utf8').split('\n').flatMap((text, index) => (/\.\.\/shared|shared\/SPEC|\bSPEC(\.md| §)/.test(text) ? [`${file}:${index + 1}: ${text.trim()}`] : [])));
    expect(mentions, 'mentions of ../shared').to.deep.equal([]);
  });

  it('keeps the README a guide of at most 600 lines', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8').trimEnd().split('\n').length).to.be.at.most(600);
  });
});
