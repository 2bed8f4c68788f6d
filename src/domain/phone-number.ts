import { parsePhoneNumberFromString } from 'libphonenumber-js';

/** A phone number in E.164 form, e.g. `+4520000001`; made only by `normalisePhoneNumber`. */
export type E164 = string & { readonly __brand: 'E164' };

const danishE164 = /^\+45\d{8}$/;

/**
 * Normalises a number as a patron or Twilio writes it (`+45 20 00 00 01`, `20000001`,
 * `004520000001`, `4520000001`) to E.164, Danish by default. Returns null for anything that cannot
 * be a phone number (an alphanumeric sender, an empty string). Length is checked, not the
 * allocation of number ranges, so test numbers such as +4512345678 are accepted.
 */
export function normalisePhoneNumber(raw: string, defaultCountry: 'DK' = 'DK'): E164 | null {
  // How Twilio writes a Danish sender: already E.164, and every Danish number has eight digits.
  if (danishE164.test(raw)) return raw as E164;
  const text = raw.trim();
  if (!/^[+\d][\d\s().-]*$/.test(text)) return null;
  const candidates = [text];
  // A Danish number written with its country code but no plus: 45 and eight digits.
  if (/^45\d{8}$/.test(text.replace(/\D/g, ''))) candidates.push(`+${text.replace(/\D/g, '')}`);
  for (const candidate of candidates) {
    const parsed = parsePhoneNumberFromString(candidate, defaultCountry);
    if (parsed?.isPossible()) return parsed.number as E164;
  }
  return null;
}
