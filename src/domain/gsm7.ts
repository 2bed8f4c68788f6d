/**
 * GSM 03.38 default alphabet. An SMS of at most 160 septets goes as one segment; anything outside
 * the alphabet would switch the whole message to UCS-2 (70 characters a segment).
 */
const basic =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
/** Characters of the extension table: each costs an escape plus itself. */
const extension = '\f^{}\\[~]|€';

const basicSet = new Set(basic);
const extensionSet = new Set(extension);

/** Septets `text` needs in GSM-7, or null when a character is not in the alphabet. */
export function gsm7Septets(text: string): number | null {
  let septets = 0;
  for (const char of text) {
    if (basicSet.has(char)) septets += 1;
    else if (extensionSet.has(char)) septets += 2;
    else return null;
  }
  return septets;
}

export const SINGLE_SEGMENT_SEPTETS = 160;

/** True when `text` goes as one GSM-7 segment. */
export function fitsOneSegment(text: string): boolean {
  const septets = gsm7Septets(text);
  return septets !== null && septets <= SINGLE_SEGMENT_SEPTETS;
}

/** Look-alikes for characters a library system's titles often hold and GSM-7 lacks. */
const lookAlikes: Readonly<Record<string, string>> = {
  '‘': "'", '’': "'", '‚': "'", '‛': "'", '´': "'", '`': "'",
  '“': '"', '”': '"', '„': '"', '«': '"', '»': '"',
  '–': '-', '—': '-', '‐': '-', '‑': '-', '−': '-',
  '…': '...', '\u00a0': ' ', '\t': ' ', '\n': ' ', '\r': ' ',
};

/**
 * Text from outside (a title, a branch) made GSM-7, so one odd character cannot turn an SMS into
 * UCS-2: look-alikes replaced (`…` → `...`), accents GSM-7 lacks dropped (`ó` → `o`), anything
 * else `?`; runs of spaces made one.
 */
export function toGsm7(text: string): string {
  let out = '';
  for (const char of text.normalize('NFC')) {
    if (basicSet.has(char) || extensionSet.has(char)) out += char;
    else if (lookAlikes[char] !== undefined) out += lookAlikes[char];
    else {
      const base = char.normalize('NFD').replace(/\p{M}/gu, '');
      out += base !== '' && gsm7Septets(base) !== null ? base : '?';
    }
  }
  return out.replace(/ {2,}/g, ' ').trim();
}

/**
 * `text` (GSM-7) cut to at most `septets`, ending in `...` when cut (`…` is not GSM-7). Null when
 * not even one character and the dots fit.
 */
export function shortenToSeptets(text: string, septets: number): string | null {
  const whole = gsm7Septets(text);
  if (whole !== null && whole <= septets) return text;
  let kept = '';
  let used = 0;
  for (const char of text) {
    const cost = gsm7Septets(char) ?? 1;
    if (used + cost + 3 > septets) break;
    kept += char;
    used += cost;
  }
  kept = kept.trimEnd();
  return kept === '' ? null : `${kept}...`;
}
