import { createHash, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestHandler } from 'express';
import type { Logger } from '../logger.js';
import type { DeviceCookies } from './device-cookie.js';
import { failureKey, type LoginFailures } from './login-failures.js';
import type { OperatorLogins } from './operator-logins.js';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Compares in constant time whatever the lengths (both sides are hashed to 32 bytes first). */
export function safeEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export interface LockoutOptions {
  /** Failed logins a user name may have from one address before its attempts are slowed down. */
  readonly freeFailures: number;
  /** The first delay; each further failure doubles it, up to `maxDelayMs`. */
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  /** Slowed-down attempts one key may have waiting at once in this process; more get 429. */
  readonly maxWaiting: number;
  /** Failures are forgotten this long after the last one. */
  readonly windowMs: number;
}

export const DEFAULT_LOCKOUT: LockoutOptions = { freeFailures: 5, firstDelayMs: 1000, maxDelayMs: 15_000, maxWaiting: 4, windowMs: 15 * 60 * 1000 };

/** How long an attempt waits before its password is checked, after `failures` recent failures. */
export function loginDelayMs(failures: number, lockout: LockoutOptions = DEFAULT_LOCKOUT): number {
  if (failures < lockout.freeFailures) return 0;
  return Math.min(lockout.maxDelayMs, lockout.firstDelayMs * 2 ** Math.min(30, failures - lockout.freeFailures));
}

export interface BasicAuthOptions {
  /** The gateway's operator and the libraries' (SPEC §12): who the credentials are, and what they may see. */
  readonly logins: OperatorLogins;
  readonly logger: Logger;
  /** Where failed logins are counted (Redis, shared by every web process, or memory). */
  readonly failures: LoginFailures;
  /** Browsers that have logged in before, counted apart from their address (none: by address only). */
  readonly devices?: DeviceCookies;
  readonly lockout?: Partial<LockoutOptions>;
}

/**
 * One attempt at a time per key in this process, until it is checked or slowed down. Counting
 * before the check alone would count a page's parallel requests (right passwords all) against each
 * other until a sixth one waited; in turn, each finds the ones before it taken back. Across
 * processes the atomic count still holds a burst to the free tries.
 */
function lanes(): (key: string) => Promise<() => void> {
  const tails = new Map<string, Promise<void>>();
  return async (key) => {
    const ahead = tails.get(key);
    let leave = () => {};
    const done = new Promise<void>((resolve) => (leave = resolve));
    const tail = (ahead ?? Promise.resolve()).then(() => done);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    await ahead;
    return leave;
  };
}

/**
 * HTTP basic auth for operators. Failed logins are counted per user name and client address
 * (`req.ip`, which trusts X-Forwarded-For only as far as TRUST_PROXY says), or, for a browser with
 * a valid device cookie (set after its first successful login), per that browser: wrong passwords
 * from an office's shared address then slow everyone there but the operators who have logged in
 * before. After a few failures every further attempt of that key waits before its password is
 * checked, longer after each failure: guessing slows to one try per `maxDelayMs` or so, while the
 * right password still gets in after the wait. Each attempt is counted as failed before it is
 * checked (atomically, see LoginFailures), so attempts at once get no more free tries than
 * attempts in turn; a right password takes its count back, and the count to just under the delays
 * (the operator's next pages are quick; an attacker gains one free try, not a fresh allowance).
 * Only a flood of simultaneous attempts from one key gets 429s, since each waiting attempt holds a
 * socket. A wrong password is never logged, only that a login failed and from where.
 */
export function basicAuth(options: BasicAuthOptions): RequestHandler {
  const lockout = { ...DEFAULT_LOCKOUT, ...options.lockout };
  const waiting = new Map<string, number>();
  const enterLane = lanes();

  return async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
    const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    const separator = decoded.indexOf(':');
    if (!match || separator < 0) {
      res.status(401).set('WWW-Authenticate', 'Basic realm="forny", charset="UTF-8"').json({ error: 'unauthorized', message: 'operator login required' });
      return;
    }
    const user = decoded.slice(0, separator);
    const password = decoded.slice(separator + 1);
    const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    const device = await options.devices?.recognise(req.get('cookie'), user);
    const key = device ? failureKey(user, `device\u0000${device.id}`) : failureKey(user, address);

    const leaveLane = await enterLane(key);
    try {
      const count = await options.failures.fail(key);
      const delay = loginDelayMs(count - 1, lockout);
      if (delay > 0) {
        leaveLane(); // waits outside the lane, still counted: the next attempt waits longer
        const queued = waiting.get(key) ?? 0;
        if (queued >= lockout.maxWaiting) {
          await options.failures.takeBack(key); // never checked
          res
            .status(429)
            .set('Retry-After', String(Math.ceil(delay / 1000)))
            .json({ error: 'too_many_login_attempts', message: 'too many login attempts at once from this address; try again in a moment' });
          return;
        }
        waiting.set(key, queued + 1);
        try {
          await sleep(delay);
        } finally {
          const left = (waiting.get(key) ?? 1) - 1;
          if (left > 0) waiting.set(key, left);
          else waiting.delete(key);
        }
      }

      const scope = await options.logins.check(user, password);
      if (scope) {
        await options.failures.takeBack(key, count - 1 >= lockout.freeFailures ? lockout.freeFailures - 1 : undefined);
        leaveLane();
        const cookie = await options.devices?.afterLogin(user, device);
        if (cookie) res.append('Set-Cookie', cookie);
        res.locals.operator = user;
        res.locals.scope = scope;
        next();
        return;
      }
      leaveLane();
      options.logger.warn({ address, device: device !== undefined, path: req.path, failures: count, nextDelayMs: loginDelayMs(count, lockout) }, 'operator login failed');
      res.status(401).set('WWW-Authenticate', 'Basic realm="forny", charset="UTF-8"').json({ error: 'unauthorized', message: 'operator login required' });
    } finally {
      leaveLane();
    }
  };
}
