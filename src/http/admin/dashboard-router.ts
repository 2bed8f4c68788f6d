import { MAX_OFFSET } from '../../../db/repositories/message-log.js';
import express, { type ErrorRequestHandler, type Request, type Response, type Router } from 'express';
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors.js';
import { inboundApiId, outboundApiId } from '../format.js';
import { parseMessageId } from '../message-id.js';
import { cancelMessage, retryFailedJob, retryFailedMessage, retryGivenUpRenewAll } from './actions.js';
import { conversationPage } from './conversation-page.js';
import { createCsrf } from './csrf.js';
import { failuresPage } from './failures-page.js';
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { messagesPage, normaliseParty } from './messages-page.js';
import { overviewPage } from './overview-page.js';
import { renewalPage, renewalsPage } from './renewals-page.js';
import { libraryView } from './library-view.js';
import { requireGateway } from '../operator-scope.js';

/** Results an action redirects with (`?done=…&target=…`); only these texts are ever shown. */
const FLASH: Readonly<Record<string, (target: string) => string>> = {
  'message-retried': (target) => `Besked ${target} er sat i kø og sendes igen.`,
  'message-cancelled': (target) => `Besked ${target} er annulleret og bliver ikke sendt.`,
  'renew-all-retried': (target) => `FORNY ALLE ${target} er sat i kø og forsøges igen.`,
  'job-retried': (target) => `Job ${target} køres igen.`,
  unchanged: (target) => `${target} var ikke (længere) fejlet, så intet er ændret.`,
};

function flashOf(req: Request): string | undefined {
  const { done, target } = req.query;
  if (typeof done !== 'string' || typeof target !== 'string' || !/^[\w:./-]{1,100}$/.test(target)) return undefined;
  return FLASH[done]?.(target);
}

const ERROR_TITLES: Readonly<Record<number, string>> = { 400: 'Ugyldig forespørgsel', 403: 'Afvist', 404: 'Findes ikke', 503: 'Midlertidigt utilgængelig' };

const send = (res: Response, page: Html) => res.type('html').send(page.text);

/** Back to the Fejl page after an action: 303, so reloading the page does not post again. */
const backToFailures = (res: Response, done: boolean, flash: string, target: string) =>
  res.redirect(303, `/admin/failures?${new URLSearchParams({ done: done ? flash : 'unchanged', target }).toString()}`);

function offsetOf(req: Request): number {
  const offset = req.query.offset;
  if (offset === undefined) return 0;
  // Capped: an offset makes the database walk past every skipped row.
  if (typeof offset !== 'string' || !/^\d{1,7}$/.test(offset) || Number(offset) > MAX_OFFSET) {
    throw new AppError('invalid_query', 400, `offset skal være et helt tal op til ${MAX_OFFSET}.`);
  }
  return Number(offset);
}

/** A message id in a path; one that cannot be a message's (past 32 bits, not a number) is no such message. */
function messageId(text: string): number {
  const id = parseMessageId(text);
  if (id === undefined) throw new AppError('not_found', 404, `Ingen besked med id ${text}.`);
  return id;
}

/**
 * The operators' dashboard under /admin (mounted behind basic auth): server-rendered Danish pages,
 * and POST actions that each carry a CSRF token and land in the audit log.
 */
export function dashboardRouter(deps: Deps): Router {
  const router = express.Router();
  const csrf = createCsrf(deps.config);
  const operatorOf = (res: Response) => String(res.locals.operator);

  // Every page shows what the operator may see (SPEC §12): a library's operator their library's rows only.
  const view = (req: Request, res: Response) => libraryView(req, res, deps);
  router.get('/', async (req, res) => send(res, await overviewPage(deps, view(req, res))));
  router.get('/messages', async (req, res) => send(res, await messagesPage(deps, req, view(req, res))));
  router.get('/conversations/:number', async (req, res) => send(res, await conversationPage(deps, normaliseParty(req.params.number), view(req, res))));
  router.get('/renewals', async (req, res) => send(res, await renewalsPage(deps, offsetOf(req), view(req, res))));
  router.get('/renewals/:messageSid', async (req, res) => send(res, await renewalPage(deps, req.params.messageSid, view(req, res))));
  router.get('/failures', async (req, res) => send(res, await failuresPage(deps, { csrfToken: csrf.tokenFor(operatorOf(res)), flash: flashOf(req) }, view(req, res))));

  // Every action is a form POST: parsed, then refused unless it carries the operator's token.
  router.post('/{*action}', express.urlencoded({ extended: false, limit: '4kb' }), csrf.verify);
  router.post('/failures/messages/:id/retry', async (req, res) => {
    const id = messageId(req.params.id);
    backToFailures(res, await retryFailedMessage(deps, id, operatorOf(res), view(req, res).library), 'message-retried', outboundApiId(id));
  });
  router.post('/failures/messages/:id/cancel', async (req, res) => {
    const id = messageId(req.params.id);
    backToFailures(res, await cancelMessage(deps, id, operatorOf(res), view(req, res).library), 'message-cancelled', outboundApiId(id));
  });
  router.post('/failures/renew-alls/:id/retry', async (req, res) => {
    const id = messageId(req.params.id);
    backToFailures(res, await retryGivenUpRenewAll(deps, id, operatorOf(res), view(req, res).library), 'renew-all-retried', inboundApiId(id));
  });
  router.post('/failures/jobs/:queue/:jobId/retry', async (req, res) => {
    // Jobs are the whole gateway's (its queues), not one library's.
    requireGateway(res, 'Retrying a queue job');
    const { queue, jobId } = req.params;
    backToFailures(res, await retryFailedJob(deps, queue, jobId, operatorOf(res)), 'job-retried', `${queue}/${jobId}`);
  });

  router.use((req) => {
    throw new AppError('not_found', 404, `Siden ${req.originalUrl} findes ikke.`);
  });
  // Refusals and outages the operator can act on, as a dashboard page; anything else goes to the app's handler.
  const onError: ErrorRequestHandler = (error, req, res, next) => {
    if (!(error instanceof AppError)) {
      next(error);
      return;
    }
    if (error.httpStatus >= 500) deps.logger.error({ err: error, path: req.path }, error.message);
    res.status(error.httpStatus).type('html').send(layout({ title: ERROR_TITLES[error.httpStatus] ?? 'Fejl', body: html`<p>${error.message}</p><p><a href="/admin">Til overblikket</a></p>` }).text);
  };
  router.use(onError);
  return router;
}
