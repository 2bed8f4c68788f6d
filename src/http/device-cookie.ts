import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** A browser that has logged in before, as its device cookie says. */
export interface Device {
  /** Random, made at the first login; failures with this cookie are counted under it. */
  readonly id: string;
  /** When the cookie was issued (ms since the epoch). */
  readonly issuedAt: number;
}

/**
 * OWASP's device cookies for a login lockout: a browser that has logged in successfully carries a
 * signed cookie, and its attempts are counted apart from its address's, so wrong passwords from an
 * office's shared address cannot keep its operators out.
 */
export interface DeviceCookies {
  /** The device of a valid, unexpired cookie issued to `user` in this Cookie header, if any. */
  recognise(cookieHeader: string | undefined, user: string): Promise<Device | undefined>;
  /**
   * The Set-Cookie value to send after `user` logged in with `device` (undefined: no valid cookie):
   * a new cookie, the same device renewed once a third of its life has passed, or undefined when
   * the browser's cookie is fresh (not sent again on every page).
   */
  afterLogin(user: string, device: Device | undefined): Promise<string | undefined>;
}

export interface DeviceCookieOptions {
  /** The operators' password: the signing key is derived from it. */
  readonly password: string;
  /** Makes the key this installation's own (the public URL and the user name). */
  readonly salt: string;
  /** Secure and `__Host-` (PUBLIC_BASE_URL is https). */
  readonly secure: boolean;
  readonly now: () => number;
  readonly lifetimeMs?: number;
}

/** 90 days: an operator who comes back within a quarter keeps the exemption. */
export const DEVICE_COOKIE_LIFETIME_MS = 90 * 24 * 3600 * 1000;

/**
 * The key is scrypt(ADMIN_PASSWORD): the same in every web process and across restarts with no
 * key to store, and void once the password changes (every browser then earns its cookie again).
 * The CSRF key, random per process, would lose every cookie at a restart. scrypt makes a stolen
 * cookie as slow to guess the password from as a password hash.
 */
const SCRYPT = { N: 2 ** 14, r: 8, p: 1, maxmem: 32 * 1024 * 1024 } as const;

const mac = (key: Buffer, user: string, id: string, issued: string) => createHmac('sha256', key).update(`forny-device-v1\u0000${user}\u0000${id}\u0000${issued}`, 'utf8').digest();

export function deviceCookies(options: DeviceCookieOptions): DeviceCookies {
  const lifetimeMs = options.lifetimeMs ?? DEVICE_COOKIE_LIFETIME_MS;
  // The prefix tells the browser to take it only over https, for this host and path /, from no other site.
  const name = options.secure ? '__Host-forny-device' : 'forny-device';
  // Derived at the first need, off the event loop, once per process.
  let key: Promise<Buffer> | undefined;
  const keyOf = () =>
    (key ??= new Promise<Buffer>((resolve, reject) => {
      scrypt(options.password, `forny-device-cookie-v1\u0000${options.salt}`, 32, SCRYPT, (error, derived) => (error ? reject(error) : resolve(derived)));
    }));

  const check = async (value: string, user: string): Promise<Device | undefined> => {
    const [version, id, issued, signature, ...rest] = value.split('.');
    if (version !== 'v1' || !id || !issued || !signature || rest.length > 0 || !/^\d{1,15}$/.test(issued)) return undefined;
    const given = Buffer.from(signature, 'base64url');
    const expected = mac(await keyOf(), user, id, issued);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const issuedAt = Number(issued) * 1000;
    const age = options.now() - issuedAt;
    // The browser drops it after Max-Age; the server does not rely on that.
    if (age < -60_000 || age >= lifetimeMs) return undefined;
    return { id, issuedAt };
  };

  return {
    async recognise(cookieHeader, user) {
      if (!cookieHeader) return undefined;
      for (const pair of cookieHeader.split(';')) {
        const equals = pair.indexOf('=');
        if (equals < 0 || pair.slice(0, equals).trim() !== name) continue;
        const device = await check(pair.slice(equals + 1).trim(), user);
        if (device) return device;
      }
      return undefined;
    },
    async afterLogin(user, device) {
      if (device && options.now() - device.issuedAt < lifetimeMs / 3) return undefined;
      const id = device?.id ?? randomBytes(16).toString('base64url');
      const issued = String(Math.floor(options.now() / 1000));
      const value = `v1.${id}.${issued}.${mac(await keyOf(), user, id, issued).toString('base64url')}`;
      return `${name}=${value}; Path=/; Max-Age=${Math.floor(lifetimeMs / 1000)}; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
    },
  };
}
