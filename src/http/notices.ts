import express, { type RequestHandler, type Router } from 'express';
import type { Deps } from '../deps.js';
import type { Library } from '../libraries.js';
import { AppError } from '../errors.js';
import { NoticeInputError, parseNotices } from '../notices/notice-input.js';
import { takeNotices } from '../notices/take-notices.js';
import { safeEqual } from './basic-auth.js';
import { formatInstant, outboundApiId } from './format.js';
import { noStore } from './security-headers.js';

/** SPEC §7, §11: a notices request may be up to 1 MiB (a batch of 1,000); the rest of /api keeps 64 KiB. */
export const NOTICES_BODY_LIMIT = 1024 * 1024;

/**
 * `Authorization: Bearer TOKEN` and nothing else (not the operators' login), compared in constant
 * time with every library's token, checked before the body is read. The token says whose notices
 * these are (SPEC §12): each library's system writes its own library's notices and patrons only.
 */
function noticesAccess(tokens: readonly { token: string; library: Library }[]): RequestHandler {
  return (req, res, next) => {
    const match = /^Bearer (\S+)$/i.exec(req.get('authorization') ?? '');
    const given = match?.[1];
    // Every token is compared, so the time taken does not say which library's token was close.
    let found: Library | undefined;
    for (const { token, library } of tokens) if (given !== undefined && safeEqual(given, token)) found = library;
    if (!found) {
      res.set('WWW-Authenticate', 'Bearer realm="forny notices"');
      next(new AppError('unauthorized', 401, 'notices need Authorization: Bearer NOTICES_TOKEN'));
      return;
    }
    res.locals.noticesLibrary = found;
    next();
  };
}

/**
 * `POST /api/notices` (SPEC §11): the library system's notices to patrons. Off (404, whatever the
 * request carries) while no library has a notices token. Mounted before the operators' /api, with
 * its own body limit.
 */
export function noticesRouter(deps: Deps): Router {
  const router = express.Router();
  const tokens = deps.libraries.all.flatMap((library) => (library.settings.noticesToken === undefined ? [] : [{ token: library.settings.noticesToken, library }]));
  if (tokens.length === 0) {
    router.all('/api/notices', (req, _res, next) => next(new AppError('not_found', 404, `no route for ${req.method} ${req.path}`)));
    return router;
  }
  const zone = deps.config.timeZone;
  router.post('/api/notices', noStore, noticesAccess(tokens), express.json({ limit: NOTICES_BODY_LIMIT }), async (req, res) => {
    if (!req.is('application/json')) throw new AppError('unsupported_media_type', 415, 'expected Content-Type application/json');
    let notices;
    try {
      notices = parseNotices(req.body);
    } catch (error) {
      if (error instanceof NoticeInputError) throw new AppError('invalid_notice', 400, error.message);
      throw error;
    }
    const taken = await takeNotices(deps, res.locals.noticesLibrary as Library, notices);
    // The messages of a request share a few instants (every SMS waits for the same opening, every
    // e-mail leaves now): each is formatted once, not once per message.
    const shown = new Map<string, string | null>();
    const show = (instant: string) => {
      if (!shown.has(instant)) shown.set(instant, formatInstant(instant, zone));
      return shown.get(instant) ?? null;
    };
    res.status(202).json({
      notices: taken.map((notice) => ({
        id: notice.id,
        messages: notice.messages.map((message) => ({
          id: outboundApiId(message.id),
          channel: message.channel,
          status: message.status,
          sendAfter: show(message.sendAfter),
        })),
      })),
    });
  });
  return router;
}
