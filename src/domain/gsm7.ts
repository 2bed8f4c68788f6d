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
