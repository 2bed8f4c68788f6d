/** Stands in for whatever secret was taken out. */
export const REDACTED = '[redacted]';

/**
 * The user-info part of any URL (`redis://:pw@`, `postgres://u:pw@`, `sip2://u:pw@`, `smtp://u:pw@`):
 * the scheme is kept, and so is a user name, so a line still says which account and host it is about.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"'<>\\]*)@/gi;

/** `Authorization: Bearer …`, `Basic …` wherever they appear in text (not `Basic realm=`). */
const AUTH_SCHEMES = /\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=-]{8,}/g;

/** `"password":"…"` and friends in JSON (a log line is JSON: this covers nested objects too). */
const SECRET_FIELDS =
  /("(?:[A-Za-z0-9_-]*(?:password|passwd|secret|token|api[_-]?key)|authorization|cookie|set-cookie|x-twilio-signature)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

/** `password=…`, `token=…` in query strings and form bodies. */
const SECRET_PARAMS = /\b((?:[a-z0-9_]*(?:password|passwd|secret|token)|api[_-]?key)=)[^&\s"']+/gi;

/**
 * Takes every credential this module knows the shape of out of `text`: a log line, an error
 * message, a URL. Known secret values (`secrets`) are taken out wherever they appear besides.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let result = text
    .replace(URL_CREDENTIALS, (_match, scheme: string, userInfo: string) => {
      const colon = userInfo.indexOf(':');
      const user = colon >= 0 ? userInfo.slice(0, colon) : '';
      return `${scheme}${user}${user ? ':' : ''}${REDACTED}@`;
    })
    .replace(AUTH_SCHEMES, `$1$2${REDACTED}`)
    .replace(SECRET_FIELDS, `$1"${REDACTED}"`)
    .replace(SECRET_PARAMS, `$1${REDACTED}`);
  for (const secret of secrets) result = result.replaceAll(secret, REDACTED);
  return result;
}

/**
 * A connection URL fit for a log line or an answer: without user info, query or fragment, so
 * neither a password nor a token in a parameter can ride along.
 */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return redactText(url);
  const parsed = new URL(url);
  const hadUser = parsed.username !== '' || parsed.password !== '';
  parsed.username = '';
  parsed.password = '';
  parsed.search = '';
  parsed.hash = '';
  const shown = parsed.toString();
  return hadUser ? shown.replace('://', `://${REDACTED}@`) : shown;
}

/**
 * The secrets inside a configuration, to be taken out of every log line whatever their shape:
 * passwords and tokens, and the passwords inside connection URLs. Very short values are left
 * alone (replacing `abc` everywhere would garble the logs and protect nothing).
 */
export function secretsOf(values: readonly (string | undefined)[]): string[] {
  const found = new Set<string>();
  for (const value of values) {
    if (!value) continue;
    if (URL.canParse(value) && value.includes('://')) {
      const password = decodeURIComponent(new URL(value).password);
      if (password) found.add(password);
      const raw = new URL(value).password;
      if (raw) found.add(raw);
      continue;
    }
    found.add(value);
  }
  return [...found].filter((secret) => secret.length >= 6).sort((a, b) => b.length - a.length);
}
