import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../logger.js';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Compares in constant time whatever the lengths (both sides are hashed to 32 bytes first). */
export function safeEqual(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export interface BasicAuthOptions {
  readonly user: string;
  readonly password: string;
  readonly logger: Logger;
  /** Failed logins allowed per client address in `windowMs` before it gets 429s. */
  readonly maxFailures?: number;
  readonly windowMs?: number;
  readonly now?: () => number;
}

/**
 * HTTP basic auth for operators. A wrong password is never logged, only that a login failed and
 * from where; an address that keeps failing is refused for a while (429) instead of guessing on.
 */
export function basicAuth(options: BasicAuthOptions): RequestHandler {
  const maxFailures = options.maxFailures ?? 10;
  const windowMs = options.windowMs ?? 15 * 60 * 1000;
  const now = options.now ?? Date.now;
  const failures = new Map<string, { count: number; since: number }>();

  // Forget failures whose window has passed, so addresses that fail once and never return do not pile up.
  const sweep = () => {
    for (const [address, record] of failures) if (now() - record.since > windowMs) failures.delete(address);
  };

  return (req, res, next) => {
    if (failures.size > 10_000) sweep();
    const address = req.ip ?? 'unknown';
    const record = failures.get(address);
    if (record && now() - record.since > windowMs) failures.delete(address);
    if ((failures.get(address)?.count ?? 0) >= maxFailures) {
      res.status(429).set('Retry-After', String(Math.ceil(windowMs / 1000))).json({ error: 'too_many_failed_logins', message: 'too many failed logins from this address; try again later' });
      return;
    }
    const header = req.get('authorization') ?? '';
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
    const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    const separator = decoded.indexOf(':');
    const user = separator >= 0 ? decoded.slice(0, separator) : '';
    const password = separator >= 0 ? decoded.slice(separator + 1) : '';
    // Both comparisons always run, so timing does not tell whether the user name was right.
    const userOk = safeEqual(user, options.user);
    const passwordOk = safeEqual(password, options.password);
    if (match && userOk && passwordOk) {
      failures.delete(address);
      res.locals.operator = user;
      next();
      return;
    }
    if (match) {
      const current = failures.get(address) ?? { count: 0, since: now() };
      failures.set(address, { count: current.count + 1, since: current.since });
      options.logger.warn({ address, path: req.path }, 'operator login failed');
    }
    res.status(401).set('WWW-Authenticate', 'Basic realm="forny", charset="UTF-8"').json({ error: 'unauthorized', message: 'operator login required' });
  };
}
