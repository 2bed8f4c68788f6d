import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';

describe('security: TRUST_PROXY and METRICS_TOKEN configuration', () => {
  const rows: { env: Record<string, string>; trustProxy: unknown }[] = [
    { env: {}, trustProxy: false },
    { env: { TRUST_PROXY: '' }, trustProxy: false },
    { env: { TRUST_PROXY: '0' }, trustProxy: false },
    { env: { TRUST_PROXY: '1' }, trustProxy: 1 },
    { env: { TRUST_PROXY: '2' }, trustProxy: 2 },
    { env: { TRUST_PROXY: '10.0.0.0/8, loopback' }, trustProxy: ['10.0.0.0/8', 'loopback'] },
    { env: { TRUST_PROXY: '192.0.2.10,2001:db8::/32' }, trustProxy: ['192.0.2.10', '2001:db8::/32'] },
  ];
  for (const row of rows) {
    it(`reads TRUST_PROXY=${JSON.stringify(row.env.TRUST_PROXY)} as ${JSON.stringify(row.trustProxy)}`, () => {
      expect(loadConfig(row.env).http.trustProxy).to.deep.equal(row.trustProxy);
    });
  }

  for (const value of ['true', 'everyone', '10.0.0.0/33', '300.1.1.1', '10.0.0.0/8/1']) {
    it(`refuses TRUST_PROXY=${value} at start, naming the variable`, () => {
      expect(() => loadConfig({ TRUST_PROXY: value })).to.throw(/^Invalid configuration: TRUST_PROXY/);
    });
  }

  it('takes a METRICS_TOKEN of 32 characters or more', () => {
    expect(loadConfig({ METRICS_TOKEN: 'x'.repeat(32) }).http.metricsToken).to.equal('x'.repeat(32));
    expect(loadConfig({}).http.metricsToken).to.equal(undefined);
  });
});
