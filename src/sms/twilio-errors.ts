import { SmsSendError } from './transport.js';

/**
 * Twilio error codes that no retry can fix (https://www.twilio.com/docs/api/errors). 21610: the
 * recipient answered STOP to this sender; 21211/21614: not a valid or not a mobile number;
 * 21408/21612: no route or permission for that destination; 20003: bad credentials.
 */
export const PERMANENT_TWILIO_CODES: ReadonlyMap<number, string> = new Map([
  [21610, 'recipient has opted out (STOP)'],
  [21211, 'invalid phone number'],
  [21614, 'not a mobile number'],
  [21408, 'no permission to send to this region'],
  [21612, 'no route to this number'],
  [20003, 'authentication failed'],
]);

/** The Twilio code that also opts the patron out. */
export const OPTED_OUT_CODE = '21610';

/** Network failures where the request surely never reached Twilio. */
const NOT_SENT_NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

interface TwilioLikeError {
  status?: unknown;
  code?: unknown;
  message?: unknown;
}

/**
 * Turns whatever the Twilio SDK threw into an SmsSendError. 429 and 5xx are worth retrying; other
 * HTTP errors are permanent; network errors are retried, and those that may have reached Twilio
 * (reset, timeout) leave the outcome uncertain.
 */
export function classifyTwilioError(error: unknown): SmsSendError {
  const e = (error ?? {}) as TwilioLikeError;
  const message = typeof e.message === 'string' ? e.message : String(error);
  if (typeof e.status === 'number') {
    const code = typeof e.code === 'number' ? e.code : null;
    const codeText = code === null ? `http-${e.status}` : String(code);
    if (code !== null && PERMANENT_TWILIO_CODES.has(code)) {
      return new SmsSendError(`${PERMANENT_TWILIO_CODES.get(code)}: ${message}`, codeText, false, true, { cause: error });
    }
    const retryable = e.status === 429 || e.status >= 500;
    return new SmsSendError(message, codeText, retryable, true, { cause: error });
  }
  const networkCode = typeof e.code === 'string' ? e.code : 'network';
  return new SmsSendError(message, networkCode, true, NOT_SENT_NETWORK_CODES.has(networkCode), { cause: error });
}
