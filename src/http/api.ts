import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { getInboundBySid } from '../../db/repositories/inbound.js';
import { getLoan, getPatron, loansOfPatron } from '../../db/repositories/library.js';
import { listMessages, MAX_OFFSET, type LoggedMessage, type MessageFilter } from '../../db/repositories/message-log.js';
import { recordAudit } from '../../db/repositories/operator-actions.js';
import { lastResultsOfLoans, resultsOfInbound } from '../../db/repositories/renewals.js';
import type { Deps } from '../deps.js';
import { CHANNELS, DIRECTIONS, MESSAGE_KINDS, MESSAGE_STATUSES } from '../domain/message-status.js';
import { AppError } from '../errors.js';
import { normalisePhoneNumber } from '../domain/phone-number.js';
import { recallIllLoan, refuseIllRenewal, type IllDecision } from '../ill-decisions.js';
import { readSmsBacklog } from './backlog.js';
import { formatInstant, inboundApiId, outboundApiId } from './format.js';
import { MAX_MESSAGE_ID, parseMessageId } from './message-id.js';
import { libraryFilter, maySee, shownId, shownIdOrNull, storedIdOf } from './operator-scope.js';


function oneOf<T extends string>(req: Request, name: string, allowed: readonly T[]): T | undefined {
  const value = req.query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new AppError('invalid_query', 400, `query parameter ${name} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

function text(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new AppError('invalid_query', 400, `query parameter ${name} must appear once`);
  return value;
}

function whole(req: Request, name: string, fallback: number, max: number): number {
  const value = text(req, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > max) throw new AppError('invalid_query', 400, `query parameter ${name} must be a whole number up to ${max}`);
  return Number(value);
}

/**
 * A number as a patron or operator types it (`20000003`, `+45 20 00 00 03`) in the E.164 form
 * messages are stored in (SPEC §3); an e-mail address or anything else is kept as written.
 */
const asTyped = (value: string | undefined): string | undefined => (value === undefined ? undefined : (normalisePhoneNumber(value) ?? value.trim()));

/**
 * Reads the message filters shared by the API and the dashboard; with the response, narrowed to
 * what the operator may see (SPEC §12: a library's operator, their library; the gateway's, `?library=`).
 */
export function messageFilter(req: Request, defaults: { limit: number }, scope?: { res: Response; deps: Pick<Deps, 'libraries'> }): MessageFilter {
  const party = asTyped(text(req, 'number'));
  const library = scope ? libraryFilter(req, scope.res, scope.deps) : undefined;
  return {
    ...(library === undefined ? {} : { library }),
    direction: oneOf(req, 'direction', DIRECTIONS),
    channel: oneOf(req, 'channel', CHANNELS),
    to: asTyped(text(req, 'to')),
    status: oneOf(req, 'status', MESSAGE_STATUSES),
    kind: oneOf(req, 'kind', MESSAGE_KINDS),
    ...(party ? { party } : {}),
    limit: whole(req, 'limit', defaults.limit, 1000),
    offset: whole(req, 'offset', 0, MAX_OFFSET),
    ...cursor(req),
  };
}

/**
 * `before=in-120,out-45`: only messages older than those (the oldest of each direction the last
 * page showed; a direction left out is not limited). Any depth costs one page of index reads.
 */
function cursor(req: Request): { beforeInbound?: number; beforeOutbound?: number } {
  const value = text(req, 'before');
  if (value === undefined) return {};
  const found: { beforeInbound?: number; beforeOutbound?: number } = {};
  for (const part of value.split(',')) {
    const match = /^(in|out)-(.*)$/.exec(part.trim());
    const id = match?.[2] === undefined ? undefined : parseMessageId(match[2]);
    if (id === undefined) throw new AppError('invalid_query', 400, `query parameter before must be message ids such as in-120,out-45 (from 1 to ${MAX_MESSAGE_ID})`);
    if (match?.[1] === 'in') found.beforeInbound = id;
    else found.beforeOutbound = id;
  }
  return found;
}

/** A message as SPEC §7 shows it. */
export function apiMessage(message: LoggedMessage, zone: string) {
  return {
    id: message.direction === 'in' ? inboundApiId(message.id) : outboundApiId(message.id),
    direction: message.direction,
    channel: message.channel,
    to: message.to,
    from: message.from,
    body: message.body,
    kind: message.kind,
    status: message.status,
    sendAfter: formatInstant(message.sendAfter, zone),
    sentAt: formatInstant(message.sentAt, zone),
    providerSid: message.providerSid,
    createdAt: formatInstant(message.createdAt, zone),
    library: message.libraryId,
  };
}

/**
 * Writes take JSON only: a browser holding the operator's basic-auth login can be made to post a
 * form cross-site, but not JSON (that needs a CORS preflight forny never grants).
 */
const requireJson: RequestHandler = (req, _res, next) => {
  next(req.is('application/json') ? undefined : new AppError('unsupported_media_type', 415, 'expected Content-Type application/json'));
};

const decisionView = (decision: IllDecision, libraryId: string) => ({
  loanId: shownId(libraryId, decision.loanId),
  dueDate: decision.dueDate,
  noticeId: decision.notice ? outboundApiId(decision.notice.id) : null,
});

/** The operators' JSON API (SPEC §7); mounted behind basic auth. */
export function apiRouter(deps: Deps): Router {
  const router = express.Router();
  const zone = deps.config.timeZone;

  router.get('/messages', async (req, res) => {
    const messages = await listMessages(deps.db, messageFilter(req, { limit: 100 }, { res, deps }));
    res.json(messages.map((message) => apiMessage(message, zone)));
  });

  // The overview's "Kø af SMS": unsent SMS per library and kind, and when what is due now is gone.
  router.get('/backlog', async (req, res) => {
    const backlog = await readSmsBacklog(deps, libraryFilter(req, res, deps));
    const instant = (at: Date | null) => (at === null ? null : formatInstant(at.toISOString(), zone));
    res.json({
      at: instant(backlog.at),
      dueNow: backlog.dueNow,
      waitingForWindow: backlog.waitingForWindow,
      rate: backlog.rate,
      clearsInSeconds: backlog.clearsInSeconds,
      clearsAt: instant(backlog.clearsAt),
      items: backlog.rows.map((row) => ({ library: row.library, kind: row.kind, dueNow: row.dueNow, waitingForWindow: row.waitingForWindow })),
    });
  });

  router.get('/inbound/:messageSid', async (req, res) => {
    const found = await getInboundBySid(deps.db, req.params.messageSid ?? '');
    // Another library's message is answered exactly as one that does not exist (SPEC §12).
    const inbound = found && maySee(res, found.libraryId) ? found : undefined;
    if (!inbound) throw new AppError('not_found', 404, `no inbound message with MessageSid ${req.params.messageSid}`);
    const results = inbound.command === 'renew-all' ? await resultsOfInbound(deps.db, inbound.id) : [];
    // A request given up part-way has the renewals the library system made before it (SPEC §4): shown too.
    const answered = inbound.command === 'renew-all' && inbound.patronId !== null && (inbound.status === 'processed' || (inbound.status === 'failed' && results.length > 0));
    const library = inbound.libraryId;
    res.json({
      messageSid: inbound.messageSid,
      from: inbound.fromNumber,
      body: inbound.body,
      command: inbound.command,
      status: inbound.status,
      patronId: shownIdOrNull(library, inbound.patronId),
      result: answered
        ? {
            total: results.length,
            renewed: results.filter((result) => result.outcome === 'renewed').length,
            loans: results.map((result) => ({
              loanId: shownId(library, result.loanId),
              itemId: shownIdOrNull(library, result.itemId),
              title: result.title,
              outcome: result.outcome,
              reason: result.reason,
              systemMessage: result.systemMessage,
              oldDueDate: result.oldDueDate,
              newDueDate: result.newDueDate,
              provisional: result.provisional,
            })),
          }
        : null,
      replyId: inbound.replyId === null ? null : outboundApiId(inbound.replyId),
      library,
    });
  });

  router.get('/patrons/:id/loans', async (req, res) => {
    const found = await getPatron(deps.db, storedIdOf(req, res, deps, req.params.id ?? ''));
    const patron = found && maySee(res, found.libraryId) ? found : undefined;
    if (!patron) throw new AppError('not_found', 404, `no patron with id ${req.params.id}`);
    const loans = await loansOfPatron(deps.db, patron.id);
    const last = await lastResultsOfLoans(
      deps.db,
      loans.map((loan) => loan.id),
    );
    res.json({
      loans: loans.map((loan) => {
        const result = last.get(loan.id);
        return {
          id: shownId(patron.libraryId, loan.id),
          itemId: shownId(patron.libraryId, loan.itemId),
          titleId: shownId(patron.libraryId, loan.titleId),
          kind: loan.kind,
          dueDate: loan.dueDate,
          loanPeriodDays: loan.loanPeriodDays,
          renewals: loan.renewals,
          active: loan.active,
          lastRenewal: result ? { at: formatInstant(result.createdAt, zone), outcome: result.outcome, reason: result.reason } : null,
        };
      }),
    });
  });

  /** The stored id of a loan the operator may see; another library's is 404 as if it did not exist. */
  const visibleLoan = async (req: Request, res: Response): Promise<{ id: string; libraryId: string }> => {
    const given = String(req.params.id);
    const loan = await getLoan(deps.db, storedIdOf(req, res, deps, given));
    if (!loan || !maySee(res, loan.libraryId)) throw new AppError('not_found', 404, `no loan with id ${given}`);
    return { id: loan.id, libraryId: loan.libraryId };
  };

  // The owning library's decisions on interlibrary loans (SPEC §2), entered by staff.
  router.post('/loans/:id/ill-refusal', requireJson, async (req, res) => {
    const loan = await visibleLoan(req, res);
    const decision = await refuseIllRenewal(deps, loan.id);
    await recordAudit(deps.db, { actor: String(res.locals.operator), action: 'loan.ill-refused', target: shownId(loan.libraryId, decision.loanId), detail: `due date back to ${decision.dueDate}`, libraryId: loan.libraryId }, deps.clock.now());
    res.json(decisionView(decision, loan.libraryId));
  });

  router.post('/loans/:id/ill-recall', requireJson, async (req, res) => {
    const dueDate = (req.body as { dueDate?: unknown } | undefined)?.dueDate;
    if (typeof dueDate !== 'string') throw new AppError('missing_field', 400, 'missing dueDate (YYYY-MM-DD) in the JSON body');
    const loan = await visibleLoan(req, res);
    const decision = await recallIllLoan(deps, loan.id, dueDate);
    await recordAudit(deps.db, { actor: String(res.locals.operator), action: 'loan.ill-recalled', target: shownId(loan.libraryId, decision.loanId), detail: `due date shortened to ${decision.dueDate}`, libraryId: loan.libraryId }, deps.clock.now());
    res.json(decisionView(decision, loan.libraryId));
  });

  return router;
}
