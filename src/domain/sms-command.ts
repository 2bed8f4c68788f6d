/**
 * What a patron's SMS asks for (SPEC §3). Parsing is total: every body maps to exactly one command,
 * `unknown` included, so the webhook never has to decide what a message means.
 */
export type Command = 'renew-all' | 'stop' | 'start' | 'help' | 'unknown';

export const COMMANDS: readonly Command[] = ['renew-all', 'stop', 'start', 'help', 'unknown'];

const phrases: ReadonlyMap<string, Command> = new Map([
  ['hbk forny alle', 'renew-all'],
  ['hkb forny alle', 'renew-all'], // the library's own page spells it this way too
  ['forny alle', 'renew-all'],
  ['stop', 'stop'],
  ['stop hbk', 'stop'],
  ['afmeld', 'stop'],
  ['start', 'start'],
  ['tilmeld', 'start'],
  ['hjælp', 'help'],
  ['hjaelp', 'help'],
  ['help', 'help'],
  ['info', 'help'],
]);

/** Punctuation patrons add without meaning anything by it, and every kind of quote. */
const droppedPunctuation = /[.,!?;:"'`´‘’‚‛“”„‟«»‹›]/gu;
/** Invisible format characters (zero-width space, joiners, direction marks, BOM). */
const formatCharacters = /\p{Cf}/gu;
/** White space of any kind, and control characters such as NUL, count as a space. */
const spaceLike = /[\s\p{Cc}]+/gu;

/**
 * NFKC, case folded, the punctuation of SPEC §3 and quotes dropped, runs of white space made one
 * space, trimmed. `" Hbk  FORNY\u00a0alle! "` becomes `"hbk forny alle"`.
 */
export function normaliseBody(body: string): string {
  return body
    .normalize('NFKC')
    .toLowerCase()
    .replace(formatCharacters, '')
    .replace(droppedPunctuation, '')
    .replace(spaceLike, ' ')
    .trim()
    // Dropping a character can bring a letter and a combining mark together: compose them again.
    .normalize('NFKC');
}

export function parseCommand(body: string): Command {
  return phrases.get(normaliseBody(body)) ?? 'unknown';
}
