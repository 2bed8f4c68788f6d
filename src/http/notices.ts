import express, { type RequestHandler, type Router } from 'express';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { NoticeInputError, parseNotices } from '../notices/notice-input.js';
import { takeNotices } from '../notices/take-notices.js';
import { safeEqual } from './basic-auth.js';
import { formatInstant, outboundApiId } from './format.js';
import { noStore } from './security-headers.js';

/** SPEC §7, §11: a notices request may be up to 1 MiB (a batch of 1,000); the rest of /api keeps 64 KiB. */
export const NOTICES_BODY_LIMIT = 1024 * 1024;

/**
 * `Authorization: Bearer NOTICES_TOKEN` and nothing else (not the operators' login), compared in
 * constant time, checked before the body is read.
 */
function noticesAccess(token: string): RequestHandler {
  return (req, res, next) => {
    const match = /^Bearer (\S+)$/i.exec(req.get('authorization') ?? '');
    if (!match?.[1] || !safeEqual(match[1], token)) {
      res.set('WWW-Authenticate', 'Bearer realm="forny notices"');
      next(new AppError('unauthorized', 401, 'notices need Authorization: Bearer NOTICES_TOKEN'));
      return;
    }
    next();
  };
}

/**
 * `POST /api/notices` (SPEC §11): the library system's notices to patrons. Off (404, whatever the
 * request carries) while NOTICES_TOKEN is unset. Mounted before the operators' /api, with its own
 * body limit.
 */
export function noticesRouter(deps: Deps): Router {
  const router = express.Router();
  const token = deps.config.http.noticesToken;
  if (token === undefined) {
    router.all('/api/notices', (req, _res, next) => next(new AppError('not_found', 404, `no route for ${req.method} ${req.path}`)));
    return router;
  }
  const zone = deps.config.timeZone;
  router.post('/api/notices', noStore, noticesAccess(token), express.json({ limit: NOTICES_BODY_LIMIT }), async (req, res) => {
    if (!req.is('application/json')) throw new AppError('unsupported_media_type', 415, 'expected Content-Type application/json');
    let notices;
    try {
      notices = parseNotices(req.body);
    } catch (error) {
      if (error instanceof NoticeInputError) throw new AppError('invalid_notice', 400, error.message);
      throw error;
    }
    const taken = await takeNotices(deps, notices);
    res.status(202).json({
      notices: taken.map((notice) => ({
        id: notice.id,
        messages: notice.messages.map((message) => ({
          id: outboundApiId(message.id),
          channel: message.channel,
          status: message.status,
          sendAfter: formatInstant(message.sendAfter, zone),
        })),
      })),
    });
  });
  return router;
}
