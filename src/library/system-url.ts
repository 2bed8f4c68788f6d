import { describeFbs, FbsUrlError, parseFbsUrl, type FbsOptions } from './fbs/url.js';
import { describeSip2, parseSip2Url, Sip2UrlError, type Sip2Options } from './sip2/url.js';

/** Which library system a library renews in, as its URL says (SPEC §10, §13). */
export type LibrarySystemSettings =
  | { readonly kind: 'embedded' }
  | { readonly kind: 'sip2'; readonly sip2: Sip2Options }
  | { readonly kind: 'fbs'; readonly fbs: FbsOptions };

/** A URL that names no library system forny speaks; the message names the parameter, never the value. */
export class LibrarySystemUrlError extends Error {
  override readonly name = 'LibrarySystemUrlError';
}

/** `embedded:` or nothing is forny's own tables; `sip2://`/`sips2://` the library's system over SIP2; `fbs://`/`fbs+http://` FBS's external API. */
export function parseLibrarySystemUrl(url: string | undefined): LibrarySystemSettings {
  if (url === undefined || url === '' || url === 'embedded:') return { kind: 'embedded' };
  const scheme = /^([a-z0-9+]+):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'sip2' || scheme === 'sips2') {
    try {
      return { kind: 'sip2', sip2: parseSip2Url(url) };
    } catch (error) {
      if (error instanceof Sip2UrlError) throw new LibrarySystemUrlError(error.message.replace(/^LIBRARY_SYSTEM_URL: /, ''));
      throw error;
    }
  }
  if (scheme === 'fbs' || scheme === 'fbs+http') {
    try {
      return { kind: 'fbs', fbs: parseFbsUrl(url) };
    } catch (error) {
      if (error instanceof FbsUrlError) throw new LibrarySystemUrlError(error.message);
      throw error;
    }
  }
  throw new LibrarySystemUrlError('expected embedded:, sip2://…, sips2://…, fbs://… or fbs+http://…');
}

/** One line for the start-up lines and the logs: the kind, host and account, never the password. */
export function describeLibrarySystemSettings(system: LibrarySystemSettings): string {
  if (system.kind === 'embedded') return "embedded (forny's own tables)";
  if (system.kind === 'fbs') return `FBS at ${describeFbs(system.fbs)} (agency ${system.fbs.agency}, ${system.fbs.tls ? 'HTTPS' : 'plain HTTP'})`;
  const sip2 = system.sip2;
  return `SIP2 at ${describeSip2(sip2)} (institution ${sip2.institution}, ${sip2.tls ? 'TLS' : 'plain TCP'})`;
}

/** The secrets in these settings, for the logger to take out of any line. */
export function librarySystemSecrets(system: LibrarySystemSettings): string[] {
  if (system.kind === 'sip2') return [system.sip2.password];
  if (system.kind === 'fbs') return [system.fbs.password];
  return [];
}
