import { expect } from 'chai';
import { FbsUrlError, describeFbs, parseFbsUrl, type FbsOptions } from '../../src/library/fbs/url.js';
import { LibrarySystemUrlError, describeLibrarySystemSettings, librarySystemSecrets, parseLibrarySystemUrl } from '../../src/library/system-url.js';

const SECRET = 'S3cr3t!pw';

describe('LIBRARY_SYSTEM_URL for FBS (SPEC §13)', () => {
  const good: Array<{ url: string; expected: Partial<FbsOptions> }> = [
    {
      url: `fbs://forny:${SECRET}@fbs.example.dk?agency=761500`,
      expected: { tls: true, host: 'fbs.example.dk', port: 443, basePath: '/rest', user: 'forny', password: SECRET, agency: 'DK-761500', timeoutMs: 10_000, ca: null, concurrency: 4 },
    },
    {
      url: 'fbs://forny:pw@cicero.example.dk:8443/fbs/rest/?agency=DK-726500&timeout_ms=2500&ca=/etc/forny/fbs-ca.pem&concurrency=8',
      expected: { tls: true, port: 8443, basePath: '/fbs/rest', agency: 'DK-726500', timeoutMs: 2500, ca: '/etc/forny/fbs-ca.pem', concurrency: 8 },
    },
    { url: 'fbs+http://forny:pw@127.0.0.1:8080?agency=dk-761500', expected: { tls: false, host: '127.0.0.1', port: 8080, basePath: '/rest', agency: 'DK-761500' } },
    { url: 'fbs+http://forny:pw@[::1]?agency=761500', expected: { host: '::1', port: 80 } },
    { url: 'FBS://us%40er:p%40ss%3Aw%2Fd@fbs.example.dk?agency=761500', expected: { user: 'us@er', password: 'p@ss:w/d' } },
  ];
  for (const row of good) {
    it(`reads ${row.url.replace(/:[^:@/]+@/, ':***@')}`, () => {
      const options = parseFbsUrl(row.url);
      for (const [key, value] of Object.entries(row.expected)) expect(options[key as keyof FbsOptions], key).to.deep.equal(value);
    });
  }

  const bad: Array<{ url: string; names: RegExp }> = [
    { url: `fbs://forny:${SECRET}@fbs.example.dk`, names: /^agency is missing/ },
    { url: `fbs://forny:${SECRET}@fbs.example.dk?agency=Helsingør`, names: /^agency must be/ },
    { url: `fbs://forny:${SECRET}@fbs.example.dk?agency=761500&agency=726500`, names: /^parameter agency is given twice/ },
    { url: `fbs://:${SECRET}@fbs.example.dk?agency=761500`, names: /^user is missing/ },
    { url: 'fbs://forny@fbs.example.dk?agency=761500', names: /^password is missing/ },
    { url: `fbs://forny:${SECRET}@fbs.example.dk:99999?agency=761500`, names: /^not a URL|^port/ },
    { url: `fbs://forny:${SECRET}@fbs.example.dk?agency=761500&timeout_ms=5`, names: /^timeout_ms must be a whole number from 100/ },
    { url: `fbs://forny:${SECRET}@fbs.example.dk?agency=761500&concurrency=0`, names: /^concurrency must be a whole number from 1/ },
    { url: `fbs://forny:${SECRET}@fbs.example.dk?agency=761500&pool=2`, names: /^unknown parameter "pool"/ },
    { url: `fbs+http://forny:${SECRET}@fbs.example.dk?agency=761500&ca=/x.pem`, names: /^ca applies only to fbs:\/\// },
    { url: `fbs://forny:${SECRET}@fbs.example.dk?agency=761500&ca=`, names: /^ca is empty/ },
    { url: `fbs://forny:${SECRET}@?agency=761500`, names: /^(host is missing|not a URL)/ },
    { url: `https://forny:${SECRET}@fbs.example.dk?agency=761500`, names: /^scheme must be fbs:\/\/ or fbs\+http:\/\// },
  ];
  for (const row of bad) {
    it(`refuses ${row.url.replace(SECRET, '***')}, naming the parameter and never the password`, () => {
      let error: unknown;
      try {
        parseFbsUrl(row.url);
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(FbsUrlError);
      const message = (error as Error).message;
      expect(message).to.match(row.names);
      expect(message).not.to.contain(SECRET);
      expect(message).not.to.match(/\n/);
    });
  }

  it('describes the API root without the password (a default port is left out)', () => {
    expect(describeFbs(parseFbsUrl(`fbs://forny:${SECRET}@fbs.example.dk?agency=761500`))).to.equal('fbs://forny@fbs.example.dk/rest');
    expect(describeFbs(parseFbsUrl(`fbs+http://forny:${SECRET}@127.0.0.1:8080/api?agency=761500`))).to.equal('fbs+http://forny@127.0.0.1:8080/api');
  });

  it('through LIBRARY_SYSTEM_URL: the settings, the start-up line naming FBS, agency and host, the secret to mask', () => {
    const settings = parseLibrarySystemUrl(`fbs://forny:${SECRET}@fbs.example.dk?agency=761500`);
    expect(settings.kind).to.equal('fbs');
    const line = describeLibrarySystemSettings(settings);
    expect(line).to.equal('FBS at fbs://forny@fbs.example.dk/rest (agency DK-761500, HTTPS)');
    expect(line).not.to.contain(SECRET);
    expect(librarySystemSecrets(settings)).to.deep.equal([SECRET]);
  });

  it('through LIBRARY_SYSTEM_URL: a bad FBS URL is a LibrarySystemUrlError naming the parameter', () => {
    expect(() => parseLibrarySystemUrl(`fbs://forny:${SECRET}@fbs.example.dk`)).to.throw(LibrarySystemUrlError, /^agency is missing/);
  });
});
