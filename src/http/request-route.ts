import type { Request, RequestHandler } from 'express';

const matched = new WeakMap<Request, string>();

/**
 * Remembers the route pattern a request matched (`/api/inbound/:messageSid`), so metrics can label
 * by route without a label per URL. Express assigns `req.route` when a route matches, while
 * `req.baseUrl` is still the router's mount path; by the time the response finishes a router may
 * have restored both (an error leaves it), so the pattern is taken at the moment it is assigned.
 */
export const captureRoute: RequestHandler = (req, _res, next) => {
  let route: unknown;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: { path?: string | RegExp | readonly (string | RegExp)[] } | undefined) {
      route = value;
      const path = value?.path;
      // A route with several paths (Bull Board's page) is named by its first.
      if (path !== undefined) matched.set(req, `${req.baseUrl}${String(Array.isArray(path) ? path[0] : path)}`);
    },
  });
  next();
};

/** The matched route pattern, or `unmatched` (static files, 404s, requests refused before routing). */
export const routeOf = (req: Request): string => matched.get(req) ?? 'unmatched';
