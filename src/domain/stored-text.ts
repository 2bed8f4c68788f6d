/** Control characters but tab, line feed and carriage return (which patrons' texts may hold). */
// eslint-disable-next-line no-control-regex -- control characters are what this pattern is for
const STRIPPED = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/**
 * Text as forny stores it: without NUL and the other control characters (SPEC §7). PostgreSQL
 * cannot hold NUL in text at all, so a message with one was refused and lost; none of them means
 * anything in an SMS, and the same rule on SQLite keeps both databases alike.
 */
export const storableText = (text: string): string => text.replace(STRIPPED, '');

/** Twilio's error codes are numbers (30003, 21610); anything else is stored as this. */
export const UNKNOWN_ERROR_CODE = 'unknown';

/**
 * `ErrorCode` of a delivery receipt as stored: digits only (`^\d{1,6}$`), else `unknown`, so a
 * receipt can never put text of its sender's choosing into the failures page or a metrics label.
 */
export const storableErrorCode = (code: string | undefined): string | null => {
  if (code === undefined || code === '') return null;
  return /^\d{1,6}$/.test(code) ? code : UNKNOWN_ERROR_CODE;
};
