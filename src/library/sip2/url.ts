import type { Sip2Encoding } from './codec.js';

/** Everything needed to reach a SIP2 library system, from `LIBRARY_SYSTEM_URL` (SPEC §10). */
export interface Sip2Options {
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** `AO` on every message that has an institution field. */
  readonly institution: string;
  /** `CP` in the login; null when the URL gives none. */
  readonly location: string | null;
  readonly encoding: Sip2Encoding;
  readonly poolSize: number;
  readonly timeoutMs: number;
  /** Error detection: `AY` sequence numbers and `AZ` checksums on every message. */
  readonly checksums: boolean;
  /** A CA certificate file to trust beside the system's CAs (sips2 only). */
  readonly ca: string | null;
  /** The TLS server name (SNI) when it differs from the host (sips2 only). */
  readonly servername: string | null;
}

/** A LIBRARY_SYSTEM_URL that cannot be used; the message is one line and never contains the password. */
export class Sip2UrlError extends Error {
  override readonly name = 'Sip2UrlError';

  constructor(problem: string) {
    super(`LIBRARY_SYSTEM_URL: ${problem}`);
  }
}

const FORM = 'sip2://USER:PASSWORD@HOST:PORT?institution=ID&location=LOC';
const KNOWN = new Set(['institution', 'location', 'encoding', 'pool', 'timeout_ms', 'checksums', 'ca', 'servername']);

function integerIn(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new Sip2UrlError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function decoded(name: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Sip2UrlError(`${name} has a bad percent-escape`);
  }
}

/** Parses `sip2://…` or `sips2://…`; throws Sip2UrlError naming the parameter at fault. */
export function parseSip2Url(text: string): Sip2Options {
  const scheme = /^([a-z0-9+.-]+):/i.exec(text)?.[1]?.toLowerCase();
  if (scheme !== 'sip2' && scheme !== 'sips2') throw new Sip2UrlError(`scheme must be sip2:// or sips2:// (${FORM})`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // URL's own message repeats the input, password and all.
    throw new Sip2UrlError(`not a URL of the form ${FORM}`);
  }
  const tls = scheme === 'sips2';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new Sip2UrlError(`host is missing (${FORM})`);
  if (url.port === '') throw new Sip2UrlError(`port is missing (${FORM}); SIP2 has no standard port`);
  const port = integerIn('port', url.port, 1, 65535);
  if (url.username === '') throw new Sip2UrlError(`user is missing (${FORM})`);
  if (url.password === '') throw new Sip2UrlError(`password is missing (${FORM})`);
  const user = decoded('user', url.username);
  const password = decoded('password', url.password);
  if (url.pathname !== '' && url.pathname !== '/') throw new Sip2UrlError('a path is not used; put the parameters after ?');

  const params = new Map<string, string>();
  for (const [name, value] of url.searchParams) {
    if (!KNOWN.has(name)) throw new Sip2UrlError(`unknown parameter ${JSON.stringify(name)} (known: ${[...KNOWN].join(', ')})`);
    if (params.has(name)) throw new Sip2UrlError(`parameter ${name} is given twice`);
    params.set(name, value);
  }
  const institution = params.get('institution') ?? '';
  if (institution === '') throw new Sip2UrlError('institution is missing (the AO institution id the system knows forny by)');
  for (const [name, value] of params) {
    if (/[|\r\n]/.test(value)) throw new Sip2UrlError(`${name} contains | or a line break, which SIP2 cannot carry`);
  }
  if (/[|\r\n]/.test(user)) throw new Sip2UrlError('user contains | or a line break, which SIP2 cannot carry');
  if (/[|\r\n]/.test(password)) throw new Sip2UrlError('password contains | or a line break, which SIP2 cannot carry');

  const encoding = params.get('encoding') ?? 'utf8';
  if (encoding !== 'utf8' && encoding !== 'latin1') throw new Sip2UrlError(`encoding must be utf8 or latin1, got ${JSON.stringify(encoding)}`);
  const checksums = params.get('checksums') ?? 'true';
  if (checksums !== 'true' && checksums !== 'false') throw new Sip2UrlError(`checksums must be true or false, got ${JSON.stringify(checksums)}`);
  const location = params.get('location');
  const ca = params.get('ca');
  const servername = params.get('servername');
  if (!tls && ca !== undefined) throw new Sip2UrlError('ca applies only to sips2:// (TLS)');
  if (!tls && servername !== undefined) throw new Sip2UrlError('servername applies only to sips2:// (TLS)');
  if (ca === '') throw new Sip2UrlError('ca is empty (a path to a PEM file)');
  if (servername === '') throw new Sip2UrlError('servername is empty');

  return Object.freeze({
    tls,
    host,
    port,
    user,
    password,
    institution,
    location: location === undefined || location === '' ? null : location,
    encoding,
    poolSize: params.has('pool') ? integerIn('pool', params.get('pool')!, 1, 32) : 2,
    timeoutMs: params.has('timeout_ms') ? integerIn('timeout_ms', params.get('timeout_ms')!, 100, 600_000) : 10_000,
    checksums: checksums === 'true',
    ca: ca ?? null,
    servername: servername ?? null,
  });
}

/** The system as logs and the start-up line show it (never /readyz, which names no host): scheme, user, host and port, no password. */
export function describeSip2(options: Pick<Sip2Options, 'tls' | 'user' | 'host' | 'port'>): string {
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return `${options.tls ? 'sips2' : 'sip2'}://${options.user}@${host}:${options.port}`;
}
