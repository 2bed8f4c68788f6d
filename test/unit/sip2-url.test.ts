import { expect } from 'chai';
import { Sip2UrlError, describeSip2, parseSip2Url, type Sip2Options } from '../../src/library/sip2/url.js';

const SECRET = 'S3cr3t!pw';

describe('LIBRARY_SYSTEM_URL for SIP2', () => {
  const good: Array<{ url: string; expected: Partial<Sip2Options> }> = [
    {
      url: `sip2://forny:${SECRET}@sip.helsbib.dk:6001?institution=HBK&location=HB01`,
      expected: {
        tls: false,
        host: 'sip.helsbib.dk',
        port: 6001,
        user: 'forny',
        password: SECRET,
        institution: 'HBK',
        location: 'HB01',
        encoding: 'utf8',
        poolSize: 2,
        timeoutMs: 10_000,
        checksums: true,
        ca: null,
        servername: null,
      },
    },
    {
      url: 'sips2://forny:pw@10.0.0.5:6443/?institution=726500&encoding=latin1&pool=4&timeout_ms=2500&checksums=false&ca=/etc/forny/fbs-ca.pem&servername=sip.fbs.dk',
      expected: { tls: true, host: '10.0.0.5', port: 6443, institution: '726500', location: null, encoding: 'latin1', poolSize: 4, timeoutMs: 2500, checksums: false, ca: '/etc/forny/fbs-ca.pem', servername: 'sip.fbs.dk' },
    },
    { url: 'sip2://us%40er:p%40ss%3Aw%2Fd@[::1]:6001?institution=HBK', expected: { user: 'us@er', password: 'p@ss:w/d', host: '::1' } },
    { url: 'SIP2://forny:pw@host:6001?institution=Helsing%C3%B8r', expected: { tls: false, institution: 'Helsingør' } },
  ];
  for (const row of good) {
    it(`reads ${row.url.replace(/:[^:@/]+@/, ':***@')}`, () => {
      const options = parseSip2Url(row.url);
      for (const [key, value] of Object.entries(row.expected)) expect(options[key as keyof Sip2Options], key).to.deep.equal(value);
    });
  }

  const bad: Array<{ url: string; names: RegExp }> = [
    { url: `http://forny:${SECRET}@host:6001?institution=HBK`, names: /scheme must be sip2:\/\/ or sips2:\/\// },
    { url: `sip2://forny:${SECRET}@host?institution=HBK`, names: /port is missing/ },
    { url: `sip2://forny:${SECRET}@host:0?institution=HBK`, names: /port must be a whole number from 1 to 65535/ },
    { url: `sip2://forny:${SECRET}@host:99999?institution=HBK`, names: /^LIBRARY_SYSTEM_URL: not a URL/ },
    { url: `sip2://${SECRET}@host:6001?institution=HBK`, names: /password is missing/ },
    { url: `sip2://:${SECRET}@host:6001?institution=HBK`, names: /user is missing/ },
    { url: `sip2://forny:${SECRET}@host:6001`, names: /institution is missing/ },
    { url: `sip2://forny:${SECRET}@host:6001?institution=`, names: /institution is missing/ },
    { url: `sip2://forny:${SECRET}@host:6001?institution=HBK&encoding=utf-16`, names: /encoding must be utf8 or latin1, got "utf-16"/ },
    { url: `sip2://forny:${SECRET}@host:6001?institution=HBK&pool=0`, names: /pool must be a whole number from 1 to 32, got "0"/ },
    { url: `sip2://forny:${SECRET}@host:6001?institution=HBK&pool=two`, names: /pool must be a whole number/ },
    { url: `sip2://forny:${SECRET}@host:6001?institution=HBK&timeout_ms=5`, names: /timeout_ms must be a whole number from 100 to 600000/ },
    { url: `sip2://forny:${SECRET}@host:6001?institution=HBK&checksums=yes`, names: /checksums must be true or false, got "yes"/ },
    { url: `sip2://forny:${SECRET}@host:6001?institution=HBK&ca=/x.pem`, names: /ca applies only to sips2:\/\// },
    { url: `sip2://forny:${SECRET}@host:6001?institution=HBK&servername=x`, names: /servername applies only to sips2:\/\// },
    { url: `sips2://forny:${SECRET}@host:6001?institution=HBK&ca=`, names: /ca is empty/ },
    { url: `sip2://forny:${SECRET}@host:6001?institution=HBK&timeout=5`, names: /unknown parameter "timeout"/ },
    { url: `sip2://forny:${SECRET}@host:6001?institution=HBK&pool=2&pool=3`, names: /parameter pool is given twice/ },
    { url: `sip2://forny:${SECRET}@host:6001?institution=H%7CBK`, names: /institution contains \|/ },
    { url: `sip2://forny:${SECRET}@host:6001/sip?institution=HBK`, names: /a path is not used/ },
    { url: `sip2://forny:${SECRET}%ZZ@host:6001?institution=HBK`, names: /password has a bad percent-escape/ },
  ];
  for (const row of bad) {
    it(`refuses ${row.url.replace(SECRET, '***')} naming the problem, never the password`, () => {
      let caught: unknown;
      try {
        parseSip2Url(row.url);
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(Sip2UrlError);
      const message = (caught as Error).message;
      expect(message).to.match(/^LIBRARY_SYSTEM_URL: /);
      expect(message).to.match(row.names);
      expect(message).not.to.contain(SECRET);
      expect(message).not.to.contain('\n');
    });
  }

  it('describes the system without the password', () => {
    const options = parseSip2Url(`sips2://forny:${SECRET}@[::1]:6001?institution=HBK`);
    expect(describeSip2(options)).to.equal('sips2://forny@[::1]:6001');
  });
});
