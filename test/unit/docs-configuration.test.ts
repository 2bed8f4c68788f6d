import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';

/**
 * docs/configuration.md is the reference of every variable (issue 21). The variables are those
 * loadConfig reads, found by giving it an environment that records every name asked for: a
 * variable added to src/config.ts without a row in the document fails here, and so does a row
 * for a variable the code no longer reads.
 */
const DOC = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

function variablesRead(): string[] {
  const read = new Set<string>();
  const env = new Proxy<Record<string, string | undefined>>({}, {
    get(_target, key) {
      if (typeof key === 'string') read.add(key);
      return undefined;
    },
  });
  loadConfig(env);
  return [...read].sort();
}

/** The variables with a row of their own: `| \`NAME\` | default | what it does |`. */
const rows = [...DOC.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((match) => match[1] ?? '');

describe('docs/configuration.md', () => {
  const read = variablesRead();

  it('finds the variables by what loadConfig reads', () => {
    expect(read).to.include.members(['PORT', 'DATABASE_URL', 'REDIS_URL', 'TWILIO_AUTH_TOKEN', 'LIBRARY_SYSTEM_URL', 'NOTICES_TOKEN', 'LOG_LEVEL']);
    expect(read.length).to.be.greaterThan(30);
  });

  it('has a row for every variable src/config.ts reads', () => {
    expect(read.filter((name) => !rows.includes(name)), 'variables without a row').to.deep.equal([]);
  });

  it('has no row for a variable the code does not read, and one row per variable', () => {
    expect(rows.filter((name) => !read.includes(name)), 'rows for variables nothing reads').to.deep.equal([]);
    expect(rows.filter((name, index) => rows.indexOf(name) !== index), 'variables with two rows').to.deep.equal([]);
  });

  it('gives each row a default and what the variable does', () => {
    for (const line of DOC.split('\n').filter((text) => /^\| `[A-Z][A-Z0-9_]*` \|/.test(text))) {
      const cells = line.split(' | ');
      expect(cells, line).to.have.length(3);
      expect(cells[1]?.trim(), `${line}: the default`).to.not.equal('');
      expect((cells[2] ?? '').length, `${line}: what it does`).to.be.greaterThan(20);
    }
  });
});
