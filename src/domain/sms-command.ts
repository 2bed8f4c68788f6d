/**
 * What a patron's SMS asks for (SPEC §3). Parsing is total: every body maps to exactly one command,
 * `unknown` included, so the webhook never has to decide what a message means.
 */
export type Command = 'renew-all' | 'stop' | 'start' | 'help' | 'unknown';

export const COMMANDS: readonly Command[] = ['renew-all', 'stop', 'start', 'help', 'unknown'];

/** The keywords of `KEYWORD FORNY ALLE` when configuration gives none (SPEC §6: `HBK,HKB`). */
export const DEFAULT_KEYWORDS: readonly string[] = ['HBK', 'HKB'];

/** Line breaks of every kind: only the first line that says anything counts (signatures follow it). */
const lineBreaks = /\r\n|[\n\v\f\r\u0085\u2028\u2029]/u;
/** Invisible format characters (zero-width space and joiners, direction marks, BOM, soft hyphen): dropped. */
const formatCharacters = /\p{Cf}/gu;
/**
 * Made spaces: symbols and emoji (with their variation selectors and skin tones), the punctuation
 * `. , ! ? ; :`, quotes of every kind, hyphens and dashes of every kind, underscores and slashes.
 */
const spaced = /[\p{S}\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0E\uFE0F.,!?;:"'\p{Pi}\p{Pf}„‚«»‹›\p{Pd}\p{Pc}/\\⁄]/gu;
/** White space of any kind, and control characters such as NUL, count as a space. */
const spaceLike = /[\s\p{Cc}]+/gu;

/**
 * One line as SPEC §3 normalises it: NFKC, case folded, symbols and the listed punctuation made
 * spaces, runs of white space made one space, trimmed. `" Hbk–FORNY\u00a0alle! 🙂"` becomes
 * `"hbk forny alle"`.
 */
function normaliseLine(line: string): string {
  return (
    line
      .normalize('NFKC')
      .toLowerCase()
      .replace(formatCharacters, '')
      .replace(spaced, ' ')
      .replace(spaceLike, ' ')
      .trim()
      // Dropping a format character can bring a letter and a combining mark together: compose them.
      .normalize('NFKC')
  );
}

/** The first line of `body` that is not empty once normalised, normalised; `''` when there is none. */
export function normaliseBody(body: string): string {
  for (const line of body.split(lineBreaks)) {
    const normalised = normaliseLine(line);
    if (normalised !== '') return normalised;
  }
  return '';
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * `KEYWORD forny alle` or `forny alle`, any space between the words optional, followed by nothing
 * or by a space and anything (`forny alle tak`; `forny allerede` is not a renew-all).
 */
function renewAllPattern(keywords: readonly string[]): RegExp {
  const alternatives = keywords.map((keyword) => normaliseLine(keyword).replace(/ /g, '')).filter((keyword) => keyword !== '');
  const prefix = alternatives.length > 0 ? `(?:(?:${alternatives.map(escapeRegExp).join('|')}) ?)?` : '';
  return new RegExp(`^${prefix}forny ?alle(?: |$)`, 'u');
}

/** Built once per keyword list (the configuration's is one array for the life of the process). */
const renewAllPatterns = new WeakMap<readonly string[], RegExp>();

function cachedRenewAllPattern(keywords: readonly string[]): RegExp {
  let pattern = renewAllPatterns.get(keywords);
  if (!pattern) {
    pattern = renewAllPattern(keywords);
    renewAllPatterns.set(keywords, pattern);
  }
  return pattern;
}

const exactPhrases: ReadonlyMap<string, Command> = new Map([
  ['stop', 'stop'],
  ['afmeld', 'stop'],
  ['start', 'start'],
  ['tilmeld', 'start'],
  ['hjælp', 'help'],
  ['hjaelp', 'help'],
  ['help', 'help'],
  ['info', 'help'],
]);

/**
 * The command of an SMS body (SPEC §3). `keywords` are the library's (LIBRARY_KEYWORDS), in any
 * case; they make `KEYWORD forny alle` a renew-all and `stop KEYWORD` an opt-out.
 */
export function parseCommand(body: string, keywords: readonly string[]): Command {
  const line = normaliseBody(body);
  if (cachedRenewAllPattern(keywords).test(line)) return 'renew-all';
  const exact = exactPhrases.get(line);
  if (exact) return exact;
  for (const keyword of keywords) {
    const named = normaliseLine(keyword);
    if (line === `stop ${named}`) return 'stop';
    if (line === `start ${named}`) return 'start';
  }
  return 'unknown';
}

/**
 * The keyword a message is addressed with (SPEC §12), as given in `keywords`, or null: the first line
 * begins with it (`HBK FORNY ALLE`, `hbkfornyalle`, `HBK hjælp`), or names it after STOP or START.
 * The longest keyword wins, so `HBKX` is not taken for `HBK`.
 */
export function addressedKeyword(body: string, keywords: readonly string[]): string | null {
  const line = normaliseBody(body);
  const squeezed = line.replace(/ /g, '');
  let found: string | null = null;
  let foundLength = 0;
  for (const keyword of keywords) {
    const named = normaliseLine(keyword).replace(/ /g, '');
    if (named === '' || named.length <= foundLength) continue;
    const addressed =
      line === named ||
      line.startsWith(`${named} `) ||
      (squeezed.startsWith(`${named}fornyalle`) && cachedRenewAllPattern([keyword]).test(line)) ||
      line === `stop ${named}` ||
      line === `start ${named}`;
    if (addressed) {
      found = keyword;
      foundLength = named.length;
    }
  }
  return found;
}
