import type { IncomingMessage } from 'node:http';
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
 * mid-body. What body-parser's `urlencoded` does for the webhooks, in the fraction of the CPU:
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
 * The body as text; 413 as soon as it is past `maxBytes` (a chunked body has no length to refuse
 * it by beforehand), without waiting for the rest.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error?: AppError) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('error', onAborted);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, size).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        done(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => done();
    const onAborted = () => done(new AppError('request_aborted', 400, 'the request was aborted before its body arrived'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('error', onAborted);
  });
}

/** `+` is a space; a percent escape that does not decode is kept as sent. */
function decodeComponent(text: string): string {
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** Parses `a=1&b=2&a=3` into fields; no prototype, so a field named `__proto__` is only a field. */
export function parseForm(body: string, maxFields: number): FormFields {
  const fields: FormFields = Object.create(null) as FormFields;
  if (body === '') return fields;
  const pairs = body.split('&');
  if (pairs.length > maxFields) throw new AppError('payload_too_large', 413, `more than ${maxFields} form fields`);
  for (const pair of pairs) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = decodeComponent(equals >= 0 ? pair.slice(0, equals) : pair);
    const value = equals >= 0 ? decodeComponent(pair.slice(equals + 1)) : '';
    const earlier = fields[name];
    fields[name] = earlier === undefined ? value : Array.isArray(earlier) ? [...earlier, value] : [earlier, value];
  }
  return fields;
}
