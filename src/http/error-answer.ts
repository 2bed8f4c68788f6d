import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';

/** body-parser's error types, mapped to the answer a client can act on. */
const BODY_ERRORS: Readonly<Record<string, { status: number; code: string }>> = {
  'entity.too.large': { status: 413, code: 'payload_too_large' },
  'parameters.too.many': { status: 413, code: 'payload_too_large' },
  'entity.parse.failed': { status: 400, code: 'malformed_body' },
  'encoding.unsupported': { status: 415, code: 'unsupported_encoding' },
  'charset.unsupported': { status: 415, code: 'unsupported_charset' },
  'request.aborted': { status: 400, code: 'request_aborted' },
};

/** body-parser's errors carry a `type` saying what was wrong with the body; any other error is not one of them. */
function bodyErrorOf(error: unknown): { status: number; code: string; detail: string } | undefined {
  if (typeof error !== 'object' || error === null || !('type' in error) || typeof error.type !== 'string') return undefined;
  const known = BODY_ERRORS[error.type];
  if (!known) return undefined;
  return { ...known, detail: String('message' in error ? error.message : undefined) };
}

export interface ErrorAnswer {
  readonly status: number;
  readonly body: { readonly error: string; readonly message: string };
}

/**
 * What a request that failed is answered with, the same on every route: the status and
 * `{error, message}`, one line naming the problem. A fault of the server's own is logged with its
 * stack and answered 500 without it.
 */
export function errorAnswer(error: unknown, logger: Logger, path: string): ErrorAnswer {
  const bodyError = bodyErrorOf(error);
  if (error instanceof AppError || bodyError) {
    const status = error instanceof AppError ? error.httpStatus : (bodyError?.status ?? 400);
    const code = error instanceof AppError ? error.code : (bodyError?.code ?? 'bad_request');
    const message = error instanceof AppError ? error.message : `${code.replaceAll('_', ' ')}: ${bodyError?.detail}`;
    if (status >= 500) logger.error({ err: error, path }, message);
    return { status, body: { error: code, message } };
  }
  // A parameter the router could not decode (rejectMalformedUrl catches these first).
  if (error instanceof URIError) return { status: 400, body: { error: 'malformed_url', message: 'malformed URL: bad percent-encoding in the path' } };
  logger.error({ err: error, path }, 'request failed');
  return { status: 500, body: { error: 'internal', message: 'internal error; see the server log' } };
}
