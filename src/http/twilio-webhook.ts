import { timingSafeEqual } from 'node:crypto';
import express, { type Request, type RequestHandler, type Router } from 'express';
import twilio from 'twilio';
import { recordReceipt } from '../../db/repositories/delivery-status.js';
import { insertInbound } from '../../db/repositories/inbound.js';
import { enqueueInboundBatched } from '../queue/enqueue.js';
import { redisProblem, type Deps } from '../deps.js';
import { normalisePhoneNumber } from '../domain/phone-number.js';
import { parseCommand } from '../domain/sms-command.js';
import { storableErrorCode, storableText } from '../domain/stored-text.js';
import { AppError } from '../errors.js';
import { whenRedisUp } from '../redis-gate.js';

/** The empty TwiML answer: Twilio sends nothing back itself; forny's reply goes through the outbox. */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

/** SPEC §7: bodies over 64 KiB are refused with 413. */
export const BODY_LIMIT = '64kb';

const sidPattern = /^[A-Za-z0-9]{2,64}$/;

/** Twilio posts forms; anything else is refused before it is read. */
const requireForm: RequestHandler = (req, _res, next) => {
  if (!req.is('application/x-www-form-urlencoded')) {
    next(new AppError('unsupported_media_type', 415, 'expected Content-Type application/x-www-form-urlencoded'));
    return;
  }
  next();
};

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
 * wrong → 403). Runs before anything is stored, so a forged request leaves no trace but a log line.
 */
function verifySignature(deps: Pick<Deps, 'config' | 'logger'>): RequestHandler {
  return (req, _res, next) => {
    const signature = req.get('x-twilio-signature');
    if (!signature) {
      next(new AppError('missing_signature', 400, 'missing X-Twilio-Signature header'));
      return;
    }
    const url = `${deps.config.publicBaseUrl}${req.originalUrl}`;
    const params = req.body as Record<string, string>;
    if (!signedAsIs(deps.config.sms.authToken, signature, url, params) && !twilio.validateRequest(deps.config.sms.authToken, signature, url, params)) {
      deps.logger.warn({ path: req.path }, 'webhook with a wrong signature refused');
      // Never the URL it was checked against: that would tell anyone PUBLIC_BASE_URL (SPEC §7).
      next(new AppError('bad_signature', 403, 'X-Twilio-Signature does not match this request'));
      return;
    }
    next();
  };
}

/**
 * A single form field, without control characters (checked after the signature, which covers the
 * text as sent); a repeated or missing required one is a 400 naming it.
 */
function field(req: Request, name: string, { required }: { required: boolean }): string | undefined {
  const value = (req.body as Record<string, unknown>)[name];
  if (value === undefined) {
    if (required) throw new AppError('missing_field', 400, `missing form field ${name}`);
    return undefined;
  }
  if (typeof value !== 'string') throw new AppError('invalid_field', 400, `form field ${name} must appear once`);
  return storableText(value);
}

function sid(req: Request, name: string): string {
  const value = field(req, name, { required: true }) ?? '';
  if (!sidPattern.test(value)) throw new AppError('invalid_field', 400, `form field ${name} is not a Twilio sid`);
  return value;
}

/**
 * `POST /sms/inbound` and `POST /sms/status` (SPEC §7, DESIGN: courier's discipline): verify →
 * validate → store → enqueue → empty TwiML. A valid message that needs nothing (a repeat, a sender
 * that is not a phone number) still gets 200, so Twilio does not retry it.
 */
export function twilioWebhookRouter(deps: Pick<Deps, 'config' | 'logger' | 'db' | 'clock' | 'queues' | 'redis'>): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 200 });

  router.post('/sms/inbound', requireForm, form, verifySignature(deps), async (req, res) => {
    const messageSid = sid(req, 'MessageSid');
    const from = field(req, 'From', { required: true }) ?? '';
    const body = field(req, 'Body', { required: true }) ?? '';
    const to = field(req, 'To', { required: false }) ?? deps.config.sms.from;
    const accountSid = field(req, 'AccountSid', { required: false }) ?? null;

    const number = normalisePhoneNumber(from);
    const { message, inserted } = await insertInbound(
      deps.db,
      {
        messageSid,
        accountSid,
        fromNumber: number ?? from.slice(0, 64),
        toNumber: to.slice(0, 64),
        body,
        command: parseCommand(body, deps.config.library.keywords),
        ...(number ? { status: 'received' } : { status: 'ignored', ignoredReason: 'not_a_phone_number' }),
      },
      deps.clock.now(),
    );
    if (!number) deps.logger.warn({ messageSid }, 'inbound SMS from something that is not a phone number; stored and ignored');
    if (!inserted) deps.logger.info({ messageSid }, 'repeated webhook for a stored message');

    // A repeat of a message still waiting is enqueued again: cheap (the job id is the same) and it
    // mends an enqueue that failed the first time. If Redis is down now, reconciliation does it later.
    if (message.status === 'received') {
      try {
        await whenRedisUp(deps.redis, () => enqueueInboundBatched(deps.queues, message));
      } catch (error) {
        deps.logger.warn({ messageSid }, `stored; enqueue failed (${redisProblem(deps.config, error)}) and is left to reconciliation`);
        deps.logger.debug({ messageSid, err: error }, 'enqueue failed');
      }
    }
    res.status(200).type('text/xml').send(EMPTY_TWIML);
  });

  router.post('/sms/status', requireForm, form, verifySignature(deps), async (req, res) => {
    const messageSid = sid(req, 'MessageSid');
    const status = field(req, 'MessageStatus', { required: true }) ?? '';
    const errorCode = storableErrorCode(field(req, 'ErrorCode', { required: false }));
    const result = await recordReceipt(deps.db, { providerSid: messageSid, twilioStatus: status, errorCode }, deps.clock.now());
    deps.logger.info({ messageSid, status, result }, 'delivery receipt');
    res.status(200).type('text/xml').send(EMPTY_TWIML);
  });

  return router;
}
