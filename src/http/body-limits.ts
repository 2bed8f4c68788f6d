import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import { AppError } from '../errors.js';

/** SPEC §7: bodies over 64 KiB are refused with 413 (the notices route has its own limit). */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** True when the request says a body follows it. */
export const hasBody = (req: IncomingMessage): boolean => req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';

/** True when the request's Content-Length is over `maxBytes`. */
export const declaredOver = (req: IncomingMessage, maxBytes: number): boolean => {
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) > maxBytes;
};

/**
 * Refuses (413) before a byte of it is read a body whose Content-Length is over what its route
 * takes (`limitOf`), ahead of authentication: body-parser reads a refused body to its end before
 * it answers, to keep the connection.
 */
export function refuseDeclaredOverLimit(limitOf: (req: Request) => number): RequestHandler {
  return (req, _res, next) => {
    const limit = limitOf(req);
    if (declaredOver(req, limit)) {
      next(new AppError('payload_too_large', 413, `request body over the limit of ${limit / 1024} KiB`));
      return;
    }
    next();
  };
}

export interface BodyGateMetrics {
  bodyStarted(): void;
  bodyEnded(): void;
  /** A request answered 503 because `maxInFlight` bodies were arriving already. */
  bodyRefused(): void;
}

/**
 * Admits a request to the app, or answers it 503 when `maxInFlight` others are still sending
 * their bodies (a half-sent body holds its buffers until the request time-out: 4,000 of them took
 * 260 MB); requests without a body always pass. False when it answered. Called first for every
 * request; a request it has seen passes again.
 *
 * An answer given before a body has all been read (a refusal: 401, 413, 503) closes the
 * connection: otherwise Node reads the rest of the body, whatever length was declared, to keep
 * the connection for another request. So `Connection: close` is set from the start and taken
 * away once the body has been read.
 */
export function bodyGate(maxInFlight: number, metrics: BodyGateMetrics): (req: IncomingMessage, res: ServerResponse) => boolean {
  const seen = new WeakSet<IncomingMessage>();
  let inFlight = 0;
  return (req, res) => {
    if (seen.has(req)) return true;
    seen.add(req);
    if (!hasBody(req)) return true;
    res.setHeader('Connection', 'close');
    if (inFlight >= maxInFlight) {
      metrics.bodyRefused();
      const body = JSON.stringify({ error: 'busy', message: 'too many requests are sending bodies at once; try again in a moment' });
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'retry-after': '1', 'cache-control': 'no-store' });
      res.end(body);
      return false;
    }
    inFlight += 1;
    metrics.bodyStarted();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      inFlight -= 1;
      metrics.bodyEnded();
    };
    req.once('end', () => {
      end();
      if (!res.headersSent) res.removeHeader('Connection');
    });
    req.once('close', end);
    res.once('close', end);
    return true;
  };
}
