/** Everything needed to reach FBS's external API for one library, from its URL (SPEC §13). */
export interface FbsOptions {
  /** `fbs://` is HTTPS; `fbs+http://` plain HTTP (a local proxy, a test server). */
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  /** The path every call is below, without a trailing slash: `/rest` unless the URL gives one. */
  readonly basePath: string;
  readonly user: string;
  readonly password: string;
  /** The library's ISIL, `DK-761500`: every path names it. */
  readonly agency: string;
  readonly timeoutMs: number;
  /** A CA certificate file to trust beside the system's CAs (fbs:// only). */
  readonly ca: string | null;
  /** Requests at once to FBS from this library's adapter. */
  readonly concurrency: number;
}

/** An FBS URL that cannot be used; one line naming the parameter, never the password. */
export class FbsUrlError extends Error {
  override readonly name = 'FbsUrlError';
}

const FORM = 'fbs://USER:PASSWORD@HOST[:PORT][/BASE]?agency=ISIL';
const KNOWN = new Set(['agency', 'timeout_ms', 'ca', 'concurrency']);

function integerIn(name: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new FbsUrlError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function decoded(name: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new FbsUrlError(`${name} has a bad percent-escape`);
  }
}

/**
 * An ISIL as FBS's paths want it: `DK-761500`. A bare agency number (what a Danish library usually
 * quotes) means the Danish ISIL; anything else must already be an ISIL (prefix, hyphen, identifier).
 */
function isilOf(text: string): string {
  if (/^\d{1,11}$/.test(text)) return `DK-${text}`;
  if (/^[A-Za-z]{1,4}-[A-Za-z0-9:/-]{1,11}$/.test(text)) return text.replace(/^[a-z]+/i, (prefix) => prefix.toUpperCase());
  throw new FbsUrlError(`agency must be the library's ISIL (DK-761500) or its agency number (761500), got ${JSON.stringify(text)}`);
}

/** Parses `fbs://…` or `fbs+http://…`; throws FbsUrlError naming the parameter at fault. */
export function parseFbsUrl(text: string): FbsOptions {
  const scheme = /^([a-z0-9+.-]+):/i.exec(text)?.[1]?.toLowerCase();
  if (scheme !== 'fbs' && scheme !== 'fbs+http') throw new FbsUrlError(`scheme must be fbs:// or fbs+http:// (${FORM})`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // URL's own message repeats the input, password and all.
    throw new FbsUrlError(`not a URL of the form ${FORM}`);
  }
  const tls = scheme === 'fbs';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new FbsUrlError(`host is missing (${FORM})`);
  const port = url.port === '' ? (tls ? 443 : 80) : integerIn('port', url.port, 1, 65535);
  if (url.username === '') throw new FbsUrlError(`user is missing (${FORM}): the client system's user name for FBS's external API`);
  if (url.password === '') throw new FbsUrlError(`password is missing (${FORM})`);
  const user = decoded('user', url.username);
  const password = decoded('password', url.password);
  const path = decoded('path', url.pathname).replace(/\/+$/, '');
  if (url.hash !== '') throw new FbsUrlError('a #fragment is not used');

  const params = new Map<string, string>();
  for (const [name, value] of url.searchParams) {
    if (!KNOWN.has(name)) throw new FbsUrlError(`unknown parameter ${JSON.stringify(name)} (known: ${[...KNOWN].join(', ')})`);
    if (params.has(name)) throw new FbsUrlError(`parameter ${name} is given twice`);
    params.set(name, value);
  }
  const agency = params.get('agency') ?? '';
  if (agency === '') throw new FbsUrlError("agency is missing (the library's ISIL, e.g. agency=DK-761500)");
  const ca = params.get('ca');
  if (!tls && ca !== undefined) throw new FbsUrlError('ca applies only to fbs:// (HTTPS)');
  if (ca === '') throw new FbsUrlError('ca is empty (a path to a PEM file)');

  return Object.freeze({
    tls,
    host,
    port,
    basePath: path === '' ? '/rest' : path,
    user,
    password,
    agency: isilOf(agency),
    timeoutMs: params.has('timeout_ms') ? integerIn('timeout_ms', params.get('timeout_ms')!, 100, 600_000) : 10_000,
    ca: ca ?? null,
    concurrency: params.has('concurrency') ? integerIn('concurrency', params.get('concurrency')!, 1, 64) : 4,
  });
}

/** The API's root as logs and the start-up line show it: scheme, user, host, port and base, no password. */
export function describeFbs(options: Pick<FbsOptions, 'tls' | 'user' | 'host' | 'port' | 'basePath'>): string {
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const standard = options.port === (options.tls ? 443 : 80);
  return `${options.tls ? 'fbs' : 'fbs+http'}://${options.user}@${host}${standard ? '' : `:${options.port}`}${options.basePath}`;
}
