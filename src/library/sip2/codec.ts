import { isUtf8 } from 'node:buffer';

/**
 * SIP2 (3M Standard Interchange Protocol 2.00) as bytes ⇄ typed messages, with no sockets: the
 * connection owns the socket, sequence numbers and resends (DESIGN practice 13).
 *
 * A message is a two-digit command code, a fixed part whose length depends on the code, then
 * variable fields `XXvalue|` in any order, then (with error detection) `AY<n>AZ<hhhh>`, then CR.
 */

export type Sip2Encoding = 'utf8' | 'latin1';

/** A message at the framing level: what every SIP2 message shares. */
export interface Sip2Frame {
  readonly code: string;
  /** The fixed-length part after the code, as text. */
  readonly fixed: string;
  /** Variable fields in the order they appeared (or are to be written). */
  readonly fields: ReadonlyArray<readonly [id: string, value: string]>;
}

export interface DecodedFrame extends Sip2Frame {
  /** `AY`, when the message carried one. */
  readonly sequence: number | null;
  /** `AZ` as sent, when the message carried one. */
  readonly checksum: string | null;
  /**
   * The encoding the text looks like when it cannot be the configured one (an `encoding=` in the
   * URL that is not the system's); null when it can. The frame is still decoded as configured.
   */
  readonly looksLike: Sip2Encoding | null;
}

/** The message could not be read as SIP2; `badChecksum` is the one the connection recovers from with `97`. */
export class Sip2DecodeError extends Error {
  override readonly name = 'Sip2DecodeError';

  constructor(
    message: string,
    readonly badChecksum = false,
  ) {
    super(message);
  }
}

/** Fixed-part lengths of the messages forny reads and writes (the 2.00 specification's layouts). */
const FIXED_LENGTHS: Readonly<Record<string, number>> = {
  '93': 2, // UID algorithm, PWD algorithm
  '94': 1, // ok
  '99': 8, // status code, max print width (3), protocol version (4)
  '98': 34, // six flags, timeout (3), retries (3), date/time sync (18), protocol version (4)
  '63': 31, // language (3), transaction date (18), summary (10)
  '64': 59, // patron status (14), language (3), transaction date (18), six counts (4 each)
  '17': 18, // transaction date
  '18': 24, // circulation status (2), security marker (2), fee type (2), transaction date (18)
  '29': 38, // third party allowed, no block, transaction date (18), nb due date (18)
  '30': 22, // ok, renewal ok, magnetic media, desensitize, transaction date (18)
  '96': 0,
  '97': 0,
};

const CR = 0x0d;

/** The 2.00 checksum: the bytes up to and including `AZ` summed, two's complement, low 16 bits, 4 upper-case hex digits. */
export function sip2Checksum(bytes: Uint8Array): string {
  let sum = 0;
  for (const byte of bytes) sum += byte;
  return ((-sum) & 0xffff).toString(16).toUpperCase().padStart(4, '0');
}

/** Text in the chosen encoding; a character latin1 cannot carry becomes `?` rather than a wrong byte. */
export function toBytes(text: string, encoding: Sip2Encoding): Buffer {
  if (encoding === 'utf8') return Buffer.from(text, 'utf8');
  return Buffer.from([...text].map((ch) => (ch.codePointAt(0)! <= 0xff ? ch : '?')).join(''), 'latin1');
}

export interface EncodeOptions {
  readonly encoding: Sip2Encoding;
  /** Error detection: `AY<sequence>AZ<checksum>`. `null` sequence: a checksum alone (for `96`/`97`). Omit for none. */
  readonly errorDetection?: { readonly sequence: number | null };
}

/** One frame as the bytes to write, CR included. */
export function encodeFrame(frame: Sip2Frame, options: EncodeOptions): Buffer {
  const expected = FIXED_LENGTHS[frame.code];
  if (expected !== undefined && frame.fixed.length !== expected) {
    throw new RangeError(`SIP2 ${frame.code}: fixed part is ${frame.fixed.length} characters, expected ${expected}`);
  }
  let text = frame.code + frame.fixed;
  for (const [id, value] of frame.fields) {
    if (!/^[A-Z]{2}$/.test(id)) throw new RangeError(`SIP2 field id ${JSON.stringify(id)} is not two capital letters`);
    if (/[|\r\n]/.test(value)) throw new RangeError(`SIP2 field ${id} contains a field separator or line break`);
    text += `${id}${value}|`;
  }
  const detection = options.errorDetection;
  if (detection === undefined) return Buffer.concat([toBytes(text, options.encoding), Buffer.from([CR])]);
  if (detection.sequence !== null) {
    if (!Number.isInteger(detection.sequence) || detection.sequence < 0 || detection.sequence > 9) {
      throw new RangeError(`SIP2 sequence number ${detection.sequence} is not 0-9`);
    }
    text += `AY${detection.sequence}`;
  }
  const head = toBytes(`${text}AZ`, options.encoding);
  return Buffer.concat([head, Buffer.from(sip2Checksum(head), 'latin1'), Buffer.from([CR])]);
}

export interface DecodeOptions {
  readonly encoding: Sip2Encoding;
  /** Require a correct `AZ` on every message but `96`/`97` (which may carry none). */
  readonly checksums: boolean;
}

const TRAILER = /(?:AY(\d))?AZ([0-9A-Fa-f]{4})$/;

/** One received message (with or without its CR/LF) as a frame; throws Sip2DecodeError. */
export function decodeFrame(raw: Uint8Array, options: DecodeOptions): DecodedFrame {
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === CR || raw[end - 1] === 0x0a)) end--;
  let start = 0;
  while (start < end && raw[start] === 0x0a) start++; // a LF some servers put after the previous CR
  const bytes = Buffer.from(raw.buffer, raw.byteOffset + start, end - start);
  // The trailer is ASCII in both encodings, so it can be found in the latin1 reading of the bytes.
  const ascii = bytes.toString('latin1');
  const code = ascii.slice(0, 2);
  if (!/^\d\d$/.test(code)) throw new Sip2DecodeError(`not a SIP2 message (starts ${JSON.stringify(ascii.slice(0, 2))})`);

  const trailer = TRAILER.exec(ascii);
  let sequence: number | null = null;
  let checksum: string | null = null;
  let bodyEnd = bytes.length;
  if (trailer) {
    checksum = trailer[2]!.toUpperCase();
    sequence = trailer[1] === undefined ? null : Number(trailer[1]);
    const expected = sip2Checksum(bytes.subarray(0, bytes.length - 4));
    if (options.checksums && expected !== checksum) {
      throw new Sip2DecodeError(`message ${code}: checksum AZ${checksum}, computed ${expected}`, true);
    }
    bodyEnd = trailer.index;
  } else if (options.checksums && code !== '96' && code !== '97') {
    throw new Sip2DecodeError(`message ${code}: no checksum (AZ) although error detection is on`, true);
  }

  const body = bytes.subarray(0, bodyEnd);
  const text = body.toString(options.encoding);
  const fixedLength = FIXED_LENGTHS[code] ?? 0;
  if (text.length < 2 + fixedLength) {
    throw new Sip2DecodeError(`message ${code}: ${text.length - 2} characters after the code, the fixed part alone is ${fixedLength}`);
  }
  const fixed = text.slice(2, 2 + fixedLength);
  const fields: Array<[string, string]> = [];
  const rest = text.slice(2 + fixedLength);
  // Each field ends with `|`; a last field without one (some servers) still counts.
  for (const part of rest.split('|')) {
    if (part === '') continue;
    if (part.length < 2) throw new Sip2DecodeError(`message ${code}: a variable field is too short to have an id (${JSON.stringify(part)})`);
    fields.push([part.slice(0, 2), part.slice(2)]);
  }
  return { code, fixed, fields, sequence, checksum, looksLike: otherEncoding(body, options.encoding) };
}

/**
 * Which encoding these bytes look like when they cannot be in `configured`. Bytes that are not
 * valid UTF-8 are single-byte text (latin1, or Windows-1252, which forny reads the same for æøå).
 * Latin1 can hold any bytes, so there the sign is the reverse: bytes beyond ASCII that form valid
 * UTF-8 sequences, which Danish text in latin1 practically never does (ø is F8, and `Ã¸`, C3 B8,
 * is what UTF-8's ø looks like read as latin1). Plain ASCII looks like both.
 */
export function otherEncoding(bytes: Uint8Array, configured: Sip2Encoding): Sip2Encoding | null {
  if (configured === 'utf8') return isUtf8(bytes) ? null : 'latin1';
  return bytes.some((byte) => byte >= 0x80) && isUtf8(bytes) ? 'utf8' : null;
}

// --- dates ----------------------------------------------------------------------------------

/** The 18-character SIP date `YYYYMMDDZZZZHHMMSS` of an instant, in UTC (`   Z` as the zone). */
export function toSipDate(instant: Date): string {
  const iso = instant.toISOString(); // 2026-11-29T14:30:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}   Z${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

const SIP_DATE = /^(\d{4})(\d{2})(\d{2})[ 0-9A-Z]{4}\d{6}$/;

/**
 * A SIP date as `YYYY-MM-DD` (the calendar date the system wrote; a due date is a date); any other
 * text is returned as the system wrote it, trimmed; empty is null.
 */
export function fromSipDate(text: string | null | undefined): string | null {
  if (text === null || text === undefined) return null;
  const match = SIP_DATE.exec(text);
  if (match) {
    const [, year, month, day] = match;
    const date = new Date(`${year}-${month}-${day}T00:00:00Z`);
    if (!Number.isNaN(date.getTime()) && date.toISOString().startsWith(`${year}-${month}-${day}`)) return `${year}-${month}-${day}`;
  }
  const trimmed = text.trim();
  return trimmed === '' ? null : trimmed;
}

// --- typed messages -------------------------------------------------------------------------

export type Sip2Request =
  | { readonly kind: 'login'; readonly user: string; readonly password: string; readonly location: string | null }
  | { readonly kind: 'scStatus' }
  | {
      readonly kind: 'patronInformation';
      readonly institution: string;
      readonly patron: string;
      readonly at: Date;
      /** 1-based, inclusive range of charged items to list. */
      readonly start: number;
      readonly end: number;
    }
  | { readonly kind: 'itemInformation'; readonly institution: string; readonly item: string; readonly at: Date }
  | { readonly kind: 'renew'; readonly institution: string; readonly patron: string; readonly item: string; readonly at: Date }
  | { readonly kind: 'requestAcsResend' };

/** BX positions (2.00): what an ACS says it supports. */
export const SUPPORTED_MESSAGE_NAMES = [
  'patron status request',
  'checkout',
  'checkin',
  'block patron',
  'SC/ACS status',
  'request SC/ACS resend',
  'login',
  'patron information',
  'end patron session',
  'fee paid',
  'item information',
  'item status update',
  'patron enable',
  'hold',
  'renew',
  'renew all',
] as const;
export type SupportedMessageName = (typeof SUPPORTED_MESSAGE_NAMES)[number];

export type Sip2Response =
  | { readonly kind: 'loginResponse'; readonly ok: boolean }
  | {
      readonly kind: 'acsStatus';
      readonly online: boolean;
      readonly renewalPolicy: boolean;
      readonly protocolVersion: string;
      /** Null when the system sent no BX. */
      readonly supported: ReadonlySet<SupportedMessageName> | null;
      readonly institution: string | null;
      readonly screenMessage: string | null;
    }
  | {
      readonly kind: 'patronInformationResponse';
      readonly chargedCount: number;
      readonly patron: string | null;
      readonly name: string | null;
      /** BL; null when the system did not say. */
      readonly valid: boolean | null;
      readonly chargedItems: readonly string[];
      readonly screenMessage: string | null;
    }
  | {
      readonly kind: 'itemInformationResponse';
      readonly circulationStatus: string;
      readonly item: string | null;
      readonly title: string | null;
      /** `YYYY-MM-DD`, or the system's own text, or null when it sent none. */
      readonly dueDate: string | null;
      readonly screenMessage: string | null;
    }
  | {
      readonly kind: 'renewResponse';
      readonly ok: boolean;
      readonly renewalOk: boolean;
      readonly item: string | null;
      readonly title: string | null;
      readonly dueDate: string | null;
      readonly screenMessage: string | null;
    }
  | { readonly kind: 'requestScResend' };

/** The frame for a request. Every request with an institution field carries `AO`. */
export function requestFrame(request: Sip2Request): Sip2Frame {
  switch (request.kind) {
    case 'login':
      return {
        code: '93',
        fixed: '00', // UID and PWD algorithm: not encrypted
        fields: [['CN', request.user], ['CO', request.password], ...(request.location === null ? [] : [['CP', request.location] as const])],
      };
    case 'scStatus':
      return { code: '99', fixed: '0' + '080' + '2.00', fields: [] }; // status OK, print width 80
    case 'patronInformation': {
      if (!Number.isInteger(request.start) || !Number.isInteger(request.end) || request.start < 1 || request.end < request.start) {
        throw new RangeError(`SIP2 63: bad item range ${request.start}-${request.end}`);
      }
      // Summary position 3 (index 2) asks for the charged items.
      return {
        code: '63',
        fixed: '000' + toSipDate(request.at) + '  Y       ',
        fields: [
          ['AO', request.institution],
          ['AA', request.patron],
          ['BP', String(request.start).padStart(5, '0')],
          ['BQ', String(request.end).padStart(5, '0')],
        ],
      };
    }
    case 'itemInformation':
      return { code: '17', fixed: toSipDate(request.at), fields: [['AO', request.institution], ['AB', request.item]] };
    case 'renew':
      return {
        code: '29',
        fixed: 'N' + 'N' + toSipDate(request.at) + ' '.repeat(18), // no third party, blocks apply, no due date asked
        fields: [['AO', request.institution], ['AA', request.patron], ['AB', request.item]],
      };
    case 'requestAcsResend':
      return { code: '97', fixed: '', fields: [] };
    default:
      return request satisfies never;
  }
}

/** The first value of a field, or null. */
export function field(frame: Sip2Frame, id: string): string | null {
  for (const [fieldId, value] of frame.fields) if (fieldId === id) return value;
  return null;
}

/** Every `AF` (a system may split its screen message), joined; null when there is none. */
function screenMessage(frame: Sip2Frame): string | null {
  const parts = frame.fields.filter(([id, value]) => id === 'AF' && value.trim() !== '').map(([, value]) => value.trim());
  return parts.length === 0 ? null : parts.join(' ');
}

function fieldOrNull(frame: Sip2Frame, id: string): string | null {
  const value = field(frame, id);
  return value === null || value === '' ? null : value;
}

function count(fixed: string, at: number, code: string, what: string): number {
  const text = fixed.slice(at, at + 4);
  if (text.trim() === '') return 0; // some systems leave unused counts blank
  if (!/^ *\d+$/.test(text)) throw new Sip2DecodeError(`message ${code}: ${what} ${JSON.stringify(text)} is not a number`);
  return Number(text);
}

/** A received frame as a typed answer; throws Sip2DecodeError for a code forny does not expect. */
export function parseResponse(frame: Sip2Frame): Sip2Response {
  const f = frame.fixed;
  switch (frame.code) {
    case '94':
      return { kind: 'loginResponse', ok: f === '1' };
    case '98': {
      const bx = field(frame, 'BX');
      return {
        kind: 'acsStatus',
        online: f[0] === 'Y',
        renewalPolicy: f[3] === 'Y',
        protocolVersion: f.slice(30, 34),
        supported: bx === null ? null : new Set(SUPPORTED_MESSAGE_NAMES.filter((_, i) => bx[i] === 'Y')),
        institution: fieldOrNull(frame, 'AO'),
        screenMessage: screenMessage(frame),
      };
    }
    case '64':
      return {
        kind: 'patronInformationResponse',
        chargedCount: count(f, 43, '64', 'charged items count'),
        patron: fieldOrNull(frame, 'AA'),
        name: fieldOrNull(frame, 'AE'),
        valid: field(frame, 'BL') === null ? null : field(frame, 'BL') === 'Y',
        chargedItems: frame.fields.filter(([id, value]) => id === 'AU' && value !== '').map(([, value]) => value),
        screenMessage: screenMessage(frame),
      };
    case '18':
      return {
        kind: 'itemInformationResponse',
        circulationStatus: f.slice(0, 2),
        item: fieldOrNull(frame, 'AB'),
        title: fieldOrNull(frame, 'AJ'),
        dueDate: fromSipDate(field(frame, 'AH')),
        screenMessage: screenMessage(frame),
      };
    case '30':
      return {
        kind: 'renewResponse',
        ok: f[0] === '1',
        renewalOk: f[1] === 'Y',
        item: fieldOrNull(frame, 'AB'),
        title: fieldOrNull(frame, 'AJ'),
        dueDate: fromSipDate(field(frame, 'AH')),
        screenMessage: screenMessage(frame),
      };
    case '96':
      return { kind: 'requestScResend' };
    default:
      throw new Sip2DecodeError(`message ${frame.code} is not an answer forny expects`);
  }
}
