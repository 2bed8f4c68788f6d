import { createHmac, randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Config } from '../../config.js';
import { AppError } from '../../errors.js';
import { safeEqual } from '../basic-auth.js';

/**
 * True unless the request says it comes from another site: its Origin (or, without one, its
 * Referer) must name this host or PUBLIC_BASE_URL's. Requests with neither (curl, scripts) pass
 * here; for the dashboard's forms the token still has to match.
 */
export function fromThisSite(req: Request, publicBaseUrl: string): boolean {
  const source = req.get('origin') ?? req.get('referer');
  if (source === undefined) return true;
  if (!URL.canParse(source)) return false; // `Origin: null` from a sandboxed or privacy-stripped page
  const host = new URL(source).host;
  return host === req.get('host') || host === new URL(publicBaseUrl).host;
}

export interface Csrf {
  /** The token the operator's forms carry (hidden field `_csrf`). */
  tokenFor(operator: string): string;
  /** Refuses (403) a POST from another site or without the operator's token; mount after the form parser. */
  readonly verify: RequestHandler;
}

/**
 * Browsers send basic-auth credentials with every request to the site, including one a foreign page
 * makes them send, so each dashboard form also carries a token only forny's pages show: an HMAC of
 * the operator's name under a random key made when the app is built. The key has nothing to do
 * with the password (a token derived from it let a leaked token — a saved page, a HAR file — be
 * used to test passwords offline), and a restart retires every token. Several web processes behind
 * a load balancer each have their own key: the dashboard then needs sticky sessions, or an operator
 * whose form lands on another process is asked to reload the page.
 */
export function createCsrf(config: Pick<Config, 'publicBaseUrl'>): Csrf {
  const key = randomBytes(32);
  const tokenFor = (operator: string) => createHmac('sha256', key).update(operator, 'utf8').digest('base64url');
  return {
    tokenFor,
    verify(req, res, next) {
      const operator = typeof res.locals.operator === 'string' ? res.locals.operator : '';
      const token = (req.body as Record<string, unknown> | undefined)?._csrf;
      if (!fromThisSite(req, config.publicBaseUrl) || typeof token !== 'string' || !safeEqual(token, tokenFor(operator))) {
        next(new AppError('csrf_refused', 403, 'Handlingen blev afvist: anmodningen kom ikke fra en af dashboardets formularer. Genindlæs siden, og prøv igen.'));
        return;
      }
      next();
    },
  };
}
