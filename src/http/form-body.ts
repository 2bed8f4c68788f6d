import type { IncomingMessage } from 'node:http';
import { parse } from 'node:querystring';
import getRawBody from 'raw-body';
import { AppError } from '../errors.js';
import { declaredOver } from './body-limits.js';

/** A form's fields; a field sent more than once is a list, as Twilio signs it. */
export type FormFields = Record<string, string | string[]>;

export interface FormLimits {
  /** Bytes of body, beyond which the answer is 413. */
  readonly maxBytes: number;
  /** Fields, beyond which the answer is 413. */
  readonly maxFields: number;
}

/**
 * Reads an `application/x-www-form-urlencoded` body in UTF-8: 415 for another media type, charset or
 * content encoding (before a byte is read), 413 past the limits, 400 when the client goes away
 * mid-body. The webhooks read their form here, ahead of Express's body-parser (that route is the
 * measured win); the reading is raw-body's (what body-parser uses) and the parsing `node:querystring`'s.
 * Twilio's forms are flat, so no nesting, no other charsets.
 */
export async function readForm(req: IncomingMessage, limits: FormLimits): Promise<FormFields> {
  checkFormHeaders(req);
  // Too large as declared: refused before a byte of it is read (the answer closes the connection,
  // see body-limits), where reading it to its end let one sender stream 1.3 GiB in 10 s.
  if (declaredOver(req, limits.maxBytes)) throw tooLarge(limits.maxBytes);
  const body = await readBody(req, limits.maxBytes);
  return parseForm(body, limits.maxFields);
}

const tooLarge = (maxBytes: number) => new AppError('payload_too_large', 413, `request body over the limit of ${maxBytes / 1024} KiB`);

function checkFormHeaders(req: IncomingMessage): void {
  const type = req.headers['content-type'] ?? '';
  const semicolon = type.indexOf(';');
  const media = (semicolon >= 0 ? type.slice(0, semicolon) : type).trim().toLowerCase();
  if (media !== 'application/x-www-form-urlencoded') {
    throw new AppError('unsupported_media_type', 415, 'expected Content-Type application/x-www-form-urlencoded');
  }
  const charset = semicolon >= 0 ? /(?:^|;)\s*charset\s*=\s*"?([^";\s]+)/i.exec(type.slice(semicolon))?.[1] : undefined;
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) throw new AppError('unsupported_charset', 415, `unsupported charset ${charset.slice(0, 40)}; send UTF-8`);
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    throw new AppError('unsupported_encoding', 415, `unsupported Content-Encoding ${encoding.slice(0, 40)}; send the form uncompressed`);
  }
}

/**
 * The body as text, read by raw-body: 413 as soon as it is past `maxBytes` (a chunked body has no
 * length to refuse it by beforehand), without waiting for the rest; 400 when the client goes away.
 * raw-body leaves a refused body paused; it is let flow again (and thrown away) so that a kept
 * connection can serve its next request, as Node does with any body not read.
 */
async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  try {
    return (await getRawBody(req, { limit: maxBytes })).toString('utf8');
  } catch (error) {
    req.resume();
    if ((error as { type?: unknown }).type === 'entity.too.large') throw tooLarge(maxBytes);
    throw new AppError('request_aborted', 400, 'the request was aborted before its body arrived');
  }
}

/** A percent escape that does not decode is kept as sent (`+` is a space already, querystring's own). */
function decodeComponent(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Parses `a=1&b=2&a=3` into fields (querystring's object has no prototype: `__proto__` is only a field). */
export function parseForm(body: string, maxFields: number): FormFields {
  let pairs = body === '' ? 0 : 1;
  for (let at = body.indexOf('&'); at >= 0 && pairs <= maxFields; at = body.indexOf('&', at + 1)) pairs += 1;
  if (pairs > maxFields) throw new AppError('payload_too_large', 413, `more than ${maxFields} form fields`);
  return parse(body, '&', '=', { maxKeys: 0, decodeURIComponent: decodeComponent }) as FormFields;
}
