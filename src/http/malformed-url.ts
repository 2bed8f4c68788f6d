import type { RequestHandler } from 'express';
import { AppError } from '../errors.js';

/** NUL and the other C0 controls and DEL: no path or query of forny's has a use for them. */
// eslint-disable-next-line no-control-regex -- control characters are what this pattern is for
const CONTROL = /[\u0000-\u001f\u007f]/;

function decodes(part: string): boolean {
  try {
    return !CONTROL.test(decodeURIComponent(part));
  } catch {
    return false; // bad percent-encoding: `%E0%A4%A`, `%zz`
  }
}

/**
 * SPEC §7: a path or query with bad percent-encoding or a control character (`%00`) is a 400 with
 * a one-line answer, before any router decodes it. Otherwise the router's URIError, or a NUL that
 * reaches PostgreSQL as a parameter, would surface as a 500 with a stack in the log.
 */
export const rejectMalformedUrl: RequestHandler = (req, _res, next) => {
  next(isWellFormedUrl(req.originalUrl) ? undefined : malformedUrl());
};

/** True when the path and query decode, without control characters. */
export function isWellFormedUrl(url: string): boolean {
  const queryAt = url.indexOf('?');
  const path = queryAt >= 0 ? url.slice(0, queryAt) : url;
  const query = queryAt >= 0 ? url.slice(queryAt + 1) : '';
  return decodes(path) && query.split(/[&=]/).every((part) => decodes(part.replaceAll('+', ' ')));
}

export const malformedUrl = (): AppError => new AppError('malformed_url', 400, 'malformed URL: bad percent-encoding or a control character in the path or query');
