import { expect } from 'chai';
import { parseFbsUrl } from '../../src/library/fbs/url.js';
import { libraryStateLine, startCheckWhere } from '../../src/library/start-check.js';
import { parseLibrarySystemUrl } from '../../src/library/system-url.js';

const SECRET = 'Fbs-hemmelig';

describe('the FBS system at start: one line per state, naming host, agency and user, never the password', () => {
  const where = startCheckWhere(parseLibrarySystemUrl(`fbs://forny:${SECRET}@fbs.example.dk?agency=761500`))!;
  const prefix = 'fbs://forny@fbs.example.dk/rest: ';

  it('is there for fbs:// and sip2://, not for the embedded system', () => {
    expect(where).to.deep.include({ host: 'fbs.example.dk', agency: 'DK-761500' });
    expect(startCheckWhere(parseLibrarySystemUrl('sip2://forny:pw@sip.example.dk:6001?institution=HBK'))).to.include({ host: 'sip.example.dk', port: 6001 });
    expect(startCheckWhere(parseLibrarySystemUrl('embedded:'))).to.equal(undefined);
  });

  it('a refused login', () => {
    const { level, line } = libraryStateLine(where, { ok: false, down: 'login refused', reason: `${prefix}login refused for agency DK-761500 (403: invalid client credentials)` }, undefined);
    expect(level).to.equal('warn');
    expect(line).to.equal(
      "forny: the library system refused forny's login (fbs fbs.example.dk/rest, agency DK-761500, user forny); renewals wait until it accepts; check LIBRARY_SYSTEM_URL's user and password",
    );
    expect(line).not.to.contain(SECRET);
  });

  it('not answering, the reason without the address it begins with', () => {
    const { line } = libraryStateLine(where, { ok: false, down: 'not answering', reason: `${prefix}login: cannot connect (ECONNREFUSED)` }, undefined);
    expect(line).to.equal('forny: the library system is not answering (fbs fbs.example.dk/rest, agency DK-761500, user forny: login: cannot connect (ECONNREFUSED)); renewals wait until it answers; forny keeps trying');
  });

  it('answering', () => {
    const plain = startCheckWhere(parseLibrarySystemUrl(`fbs+http://forny:${SECRET}@127.0.0.1:8080?agency=DK-726500`))!;
    expect(libraryStateLine(plain, { ok: true }, undefined).line).to.equal("forny: the library system accepted forny's login (fbs+http 127.0.0.1:8080/rest, agency DK-726500, user forny)");
    expect(parseFbsUrl(`fbs+http://forny:${SECRET}@127.0.0.1:8080?agency=DK-726500`).agency).to.equal('DK-726500');
  });
});
