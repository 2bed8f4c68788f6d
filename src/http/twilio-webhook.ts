import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import twilio from 'twilio';
import { recordReceipt } from '../../db/repositories/delivery-status.js';
import type { NewInbound } from '../../db/repositories/inbound.js';
import { redisProblem, type Deps } from '../deps.js';
import { normalisePhoneNumber } from '../domain/phone-number.js';
import { parseCommand } from '../domain/sms-command.js';
import { storableErrorCode, storableText } from '../domain/stored-text.js';
import { AppError } from '../errors.js';
import { whenRedisUp } from '../redis-gate.js';
import { errorAnswer } from './error-answer.js';
import { readForm, type FormFields } from './form-body.js';
import { logSampler } from './log-sampler.js';
import { isWellFormedUrl, malformedUrl } from './malformed-url.js';
import type { AppMetrics } from './metrics.js';

/** The empty TwiML answer: Twilio sends nothing back itself; forny's reply goes through the outbox. */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

/** SPEC §7: bodies over 64 KiB are refused with 413. */
export const BODY_LIMIT = '64kb';
const FORM_LIMITS = { maxBytes: 64 * 1024, maxFields: 200 } as const;

const sidPattern = /^[A-Za-z0-9]{2,64}$/;

/**
 * The signature of the URL exactly as configured, which is what Twilio signs for a webhook set to
 * PUBLIC_BASE_URL: one HMAC and no URL parsing. Anything else (a port added or left out, an escaped
 * form) goes on to the SDK's own check, which tries those variants.
 */
function signedAsIs(authToken: string, signature: string, url: string, params: Record<string, string>): boolean {
  const expected = Buffer.from(twilio.getExpectedTwilioSignature(authToken, url, params));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Checks X-Twilio-Signature against PUBLIC_BASE_URL + the path Twilio called (missing → 400,
 * wrong → 403). Runs before anything is stored, so a forged request leaves no trace but a count
 * (and now and then a log line, see twilioWebhooks).
 */
function verifySignature(deps: Pick<Deps, 'config'>, req: IncomingMessage, form: FormFields): void {
  const signature = req.headers['x-twilio-signature'];
  if (typeof signature !== 'string' || signature === '') throw new AppError('missing_signature', 400, 'missing X-Twilio-Signature header');
  const url = `${deps.config.publicBaseUrl}${req.url ?? ''}`;
  const params = form as Record<string, string>;
  if (!signedAsIs(deps.config.sms.authToken, signature, url, params) && !twilio.validateRequest(deps.config.sms.authToken, signature, url, params)) {
    // Never the URL it was checked against: that would tell anyone PUBLIC_BASE_URL (SPEC §7).
    throw new AppError('bad_signature', 403, 'X-Twilio-Signature does not match this request');
  }
}

/**
 * A single form field, without control characters (checked after the signature, which covers the
 * text as sent); a repeated or missing required one is a 400 naming it.
 */
function field(form: FormFields, name: string, { required }: { required: boolean }): string | undefined {
  const value = form[name];
  if (value === undefined) {
    if (required) throw new AppError('missing_field', 400, `missing form field ${name}`);
    return undefined;
  }
  if (typeof value !== 'string') throw new AppError('invalid_field', 400, `form field ${name} must appear once`);
  return storableText(value);
}

function sid(form: FormFields, name: string): string {
  const value = field(form, name, { required: true }) ?? '';
  if (!sidPattern.test(value)) throw new AppError('invalid_field', 400, `form field ${name} is not a Twilio sid`);
  return value;
}

type WebhookDeps = Pick<Deps, 'config' | 'logger' | 'db' | 'groupCommit' | 'clock' | 'inboundEnqueuer' | 'redis' | 'libraries'>;
type WebhookMetrics = Pick<AppMetrics, 'timeRequest' | 'webhookNotStored' | 'webhookRefused'>;

/** A forged webhook's warn line is written at most this often (with the number left out). */
export const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * A webhook's write. If it fails (a full disk, a database that is away) the webhook is answered
 * 503, never 200: Twilio then calls the fallback URL (or retries, where configured), where a 200
 * would tell it the message is taken. The error line (errorAnswer's) names the sid and the
 * database's reason, never the body; the counter is for the operators' alerts.
 */
async function stored<T>(metrics: WebhookMetrics, webhook: 'inbound' | 'status', messageSid: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    metrics.webhookNotStored(webhook);
    const what = webhook === 'inbound' ? 'message' : 'delivery receipt';
    throw new AppError('not_stored', 503, `${what} ${messageSid} could not be stored; try again later`, { cause: error });
  }
}

/** Stores an inbound SMS and hands it to its queue. */
async function takeInbound(deps: WebhookDeps, metrics: WebhookMetrics, form: FormFields): Promise<void> {
  const messageSid = sid(form, 'MessageSid');
  const from = field(form, 'From', { required: true }) ?? '';
  const body = field(form, 'Body', { required: true }) ?? '';
  const to = field(form, 'To', { required: false }) ?? deps.config.sms.from;
  const accountSid = field(form, 'AccountSid', { required: false }) ?? null;

  const number = normalisePhoneNumber(from);
  const received: NewInbound = {
    messageSid,
    accountSid,
    fromNumber: number ?? from.slice(0, 64),
    toNumber: to.slice(0, 64),
    body,
    command: parseCommand(body, deps.libraries.keywords),
    libraryId: deps.libraries.addressedBy(body)?.id ?? null,
    ...(number ? { status: 'received' } : { status: 'ignored', ignoredReason: 'not_a_phone_number' }),
  };
  const { message, inserted } = await stored(metrics, 'inbound', messageSid, () => deps.groupCommit.insertInbound(received, deps.clock.now()));
  if (!number) deps.logger.warn({ messageSid }, 'inbound SMS from something that is not a phone number; stored and ignored');
  if (!inserted) deps.logger.info({ messageSid }, 'repeated webhook for a stored message');

  // A repeat of a message still waiting is enqueued again: cheap (the job id is the same) and it
  // mends an enqueue that failed the first time. If Redis is down now, reconciliation does it later.
  if (message.status === 'received') {
    try {
      await whenRedisUp(deps.redis, () => deps.inboundEnqueuer.enqueue(message));
    } catch (error) {
      deps.logger.warn({ messageSid }, `stored; enqueue failed (${redisProblem(deps.config, error)}) and is left to reconciliation`);
      deps.logger.debug({ messageSid, err: error }, 'enqueue failed');
    }
  }
}

/** Records a delivery receipt. */
async function takeReceipt(deps: WebhookDeps, metrics: WebhookMetrics, form: FormFields): Promise<void> {
  const messageSid = sid(form, 'MessageSid');
  const status = field(form, 'MessageStatus', { required: true }) ?? '';
  const errorCode = storableErrorCode(field(form, 'ErrorCode', { required: false }));
  const result = await stored(metrics, 'status', messageSid, () => recordReceipt(deps.db, { providerSid: messageSid, twilioStatus: status, errorCode }, deps.clock.now()));
  deps.logger.info({ messageSid, status, result }, 'delivery receipt');
}

function answer(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * `POST /sms/inbound` and `POST /sms/status` (SPEC §7, DESIGN: courier's discipline): verify →
 * validate → store → enqueue → empty TwiML. A valid message that needs nothing (a repeat, a sender
 * that is not a phone number) still gets 200, so Twilio does not retry it.
 *
 * Answered ahead of Express, on Node's own request and response, with a form reader of forny's
 * own: these are the requests a burst is made of, and Express's request set-up, the router's walk,
 * body-parser and the response helpers were most of a webhook's CPU beyond the work itself. True
 * when it took the request; anything else (other methods on these paths too) is left to the app.
 * Errors answer as the app's do: the status and `{error, message}`.
 */
export function twilioWebhooks(deps: WebhookDeps, metrics: WebhookMetrics): (req: IncomingMessage, res: ServerResponse) => boolean {
  const routes = new Map<string, { webhook: 'inbound' | 'status'; take: (form: FormFields) => Promise<void> }>([
    ['/sms/inbound', { webhook: 'inbound', take: (form) => takeInbound(deps, metrics, form) }],
    ['/sms/status', { webhook: 'status', take: (form) => takeReceipt(deps, metrics, form) }],
  ]);
  const sampler = logSampler(deps.clock, REFUSAL_LOG_INTERVAL_MS);
  // Every refusal is counted; a forged signature is also worth a line, but not one per request.
  const refused = (webhook: 'inbound' | 'status', reason: string, path: string) => {
    metrics.webhookRefused(webhook, reason);
    if (reason !== 'bad_signature') return;
    const sampled = sampler.take(`${webhook} ${reason}`);
    if (sampled.log) deps.logger.warn({ path, suppressed: sampled.suppressed }, 'webhook with a wrong signature refused (at most one line a minute; forny_webhooks_refused_total counts all)');
  };
  return (req, res) => {
    const url = req.url ?? '';
    const queryAt = url.indexOf('?');
    const path = queryAt >= 0 ? url.slice(0, queryAt) : url;
    const route = req.method === 'POST' ? routes.get(path) : undefined;
    if (!route) return false;
    metrics.timeRequest(req, res, path);
    void (async () => {
      try {
        if (queryAt >= 0 && !isWellFormedUrl(url)) throw malformedUrl();
        const form = await readForm(req, FORM_LIMITS);
        verifySignature(deps, req, form);
        await route.take(form);
        answer(res, 200, 'text/xml; charset=utf-8', EMPTY_TWIML);
      } catch (error) {
        const { status, body } = errorAnswer(error, deps.logger, path);
        if (status >= 400 && status < 500) refused(route.webhook, body.error, path);
        if (!res.headersSent) answer(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
      }
    })();
    return true;
  };
}
