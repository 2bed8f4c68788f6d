import { expect } from 'chai';
import { DEVICE_COOKIE_LIFETIME_MS, deviceCookies, type DeviceCookieOptions } from '../../src/http/device-cookie.js';

const DAY = 24 * 3600 * 1000;

describe('device cookies (the login lockout’s exemption for browsers that have logged in)', () => {
  let now = Date.parse('2026-12-01T10:00:00Z');
  const options: DeviceCookieOptions = { password: 'correct-horse-battery', salt: 'https://forny.test\u0000operator', secure: false, now: () => now };
  const cookieHeaderOf = (setCookie: string | undefined) => (setCookie ?? '').split(';')[0] ?? '';
  beforeEach(() => {
    now = Date.parse('2026-12-01T10:00:00Z');
  });

  it('recognises its own cookie for the user it was issued to, among other cookies', async () => {
    const devices = deviceCookies(options);
    const issued = cookieHeaderOf(await devices.afterLogin('operator', undefined));
    const device = await devices.recognise(`theme=dark; ${issued}; other=1`, 'operator');
    expect(device?.id).to.be.a('string').with.length.at.least(20);
    expect(await devices.recognise(issued, 'someone-else')).to.equal(undefined);
  });

  it('is void under another password or another installation, and in another process with the same configuration it holds', async () => {
    const issued = cookieHeaderOf(await deviceCookies(options).afterLogin('operator', undefined));
    expect(await deviceCookies({ ...options }).recognise(issued, 'operator')).not.to.equal(undefined);
    expect(await deviceCookies({ ...options, password: 'a-new-password' }).recognise(issued, 'operator')).to.equal(undefined);
    expect(await deviceCookies({ ...options, salt: 'https://other.test\u0000operator' }).recognise(issued, 'operator')).to.equal(undefined);
  });

  it('refuses a cookie changed in any part', async () => {
    const devices = deviceCookies(options);
    const issued = cookieHeaderOf(await devices.afterLogin('operator', undefined));
    const [name, value = ''] = issued.split('=');
    const [version, id = '', at = '', signature = ''] = value.split('.');
    for (const forged of [`${version}.${id}x.${at}.${signature}`, `${version}.${id}.${Number(at) + 1}.${signature}`, `${version}.${id}.${at}.${signature.slice(1)}`, `v2.${id}.${at}.${signature}`, `${value}.x`, '']) {
      expect(await devices.recognise(`${name}=${forged}`, 'operator'), forged).to.equal(undefined);
    }
  });

  it('lasts 90 days, is renewed (same device) once a third of that has passed, and not before', async () => {
    const devices = deviceCookies(options);
    const issued = cookieHeaderOf(await devices.afterLogin('operator', undefined));
    const device = await devices.recognise(issued, 'operator');
    now += 29 * DAY;
    expect(await devices.afterLogin('operator', device)).to.equal(undefined);
    now += 2 * DAY;
    const renewed = cookieHeaderOf(await devices.afterLogin('operator', device));
    expect((await devices.recognise(renewed, 'operator'))?.id).to.equal(device?.id);
    now = Date.parse('2026-12-01T10:00:00Z') + DEVICE_COOKIE_LIFETIME_MS;
    expect(await devices.recognise(issued, 'operator')).to.equal(undefined);
    expect(await devices.recognise(renewed, 'operator')).not.to.equal(undefined);
  });

  it('is named __Host- and Secure only for https', async () => {
    expect(await deviceCookies(options).afterLogin('operator', undefined)).to.match(/^forny-device=[^;]+; Path=\/; Max-Age=7776000; HttpOnly; SameSite=Strict$/);
    expect(await deviceCookies({ ...options, secure: true }).afterLogin('operator', undefined)).to.match(/^__Host-forny-device=[^;]+; Path=\/; Max-Age=7776000; HttpOnly; SameSite=Strict; Secure$/);
  });
});
