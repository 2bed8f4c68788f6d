import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type RequestHandler, type Router } from 'express';
import { recordAudit } from '../../../db/repositories/operator-actions.js';
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors.js';
import { bullBoardCsp } from '../security-headers.js';
import { fromThisSite } from './csrf.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Bull Board changes queues through its own JSON API (PUT, POST, DELETE from its page). Those must
 * come from this site — a foreign form cannot send JSON or PUT, and its Origin gives it away — and
 * each one that succeeds is written to the audit log beside the dashboard's own actions.
 */
function guardChanges(deps: Pick<Deps, 'db' | 'clock' | 'config' | 'logger'>): RequestHandler {
  return (req, res, next) => {
    if (READS.has(req.method)) {
      next();
      return;
    }
    if (!fromThisSite(req, deps.config.publicBaseUrl)) {
      next(new AppError('cross_site_refused', 403, 'changes to the queues must come from Bull Board itself'));
      return;
    }
    res.on('finish', () => {
      if (res.statusCode >= 400) return;
      const entry = { actor: String(res.locals.operator), action: 'bull-board.change' as const, target: `${req.method} ${req.path}`, detail: null };
      recordAudit(deps.db, entry, deps.clock.now()).catch((error: unknown) => deps.logger.error({ err: error, ...entry }, 'audit log write failed'));
    });
    next();
  };
}

/** `/admin/queues`: Bull Board for every queue, in Danish, mounted behind the operators' login. */
export function bullBoardRouter(deps: Deps, basePath: string): Router {
  const adapter = new ExpressAdapter().setBasePath(basePath);
  createBullBoard({
    queues: deps.queues.all.map((queue) => new BullMQAdapter(queue)),
    serverAdapter: adapter,
    options: {
      uiConfig: {
        boardTitle: 'forny · køer',
        locale: { lng: 'da-DK' },
        miscLinks: [{ text: '← Tilbage til dashboardet', url: '/admin' }],
        // Times in the library's zone, as on the dashboard, not the browser's.
        dateFormats: {
          short: { hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: deps.config.timeZone },
          common: { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: deps.config.timeZone },
          full: { year: 'numeric', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: deps.config.timeZone },
        },
      },
    },
  });
  const router = express.Router();
  router.use(bullBoardCsp(), guardChanges(deps), adapter.getRouter() as Router);
  return router;
}
