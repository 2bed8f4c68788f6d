import helmet from 'helmet';
import type { RequestHandler } from 'express';

/** Only forny's own files: no inline script or style, no other origin, no framing. */
const STRICT_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/**
 * helmet's headers on every response, with a CSP that allows only forny's own files. No
 * `upgrade-insecure-requests`: the demo and a LAN install answer on plain HTTP. HSTS only when
 * PUBLIC_BASE_URL is https: sent over plain HTTP it means nothing, and a browser that once saw it
 * for a host would refuse the plain-HTTP install on it. Referrer-Policy `same-origin` rather than helmet's `no-referrer`:
 * under `no-referrer` browsers send `Origin: null` with the dashboard's own form posts, and the CSRF
 * check needs the real origin; other sites still learn nothing (the URLs hold patrons' numbers).
 */
export const securityHeaders = (publicBaseUrl: string): RequestHandler =>
  helmet({
    contentSecurityPolicy: { useDefaults: false, directives: STRICT_DIRECTIVES },
    referrerPolicy: { policy: 'same-origin' },
    strictTransportSecurity: publicBaseUrl.startsWith('https:'),
  });

/**
 * Bull Board's page carries inline style attributes and a `<style>` element, so its CSP also allows
 * inline styles (scripts stay its own files). Its link to Google Fonts stays blocked: operators'
 * browsers need not tell Google about the dashboard, and the board falls back to system fonts.
 */
export const bullBoardCsp = (): RequestHandler =>
  helmet.contentSecurityPolicy({ useDefaults: false, directives: { ...STRICT_DIRECTIVES, styleSrc: ["'self'", "'unsafe-inline'"] } });

/** Operators' pages and the API show patrons' numbers and messages: never kept by a browser or a proxy. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', 'no-store');
  next();
};
