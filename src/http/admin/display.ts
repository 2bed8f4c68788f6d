import { DateTime } from 'luxon';

/** How the dashboard writes times and numbers: Danish, in the library's zone. */

const at = (instant: string | Date, zone: string) =>
  (typeof instant === 'string' ? DateTime.fromISO(instant, { zone: 'utc' }) : DateTime.fromJSDate(instant)).setZone(zone).setLocale('da');

/** `1. dec. 2026 10:00:05`: a stored UTC instant on the library's wall clock. */
export const showInstant = (instant: string | null, zone: string): string => (instant === null ? '' : at(instant, zone).toFormat('d. LLL yyyy HH:mm:ss'));

/** `tirsdag 2. december kl. 08:45`: when something happens next. */
export const showMoment = (instant: Date, zone: string): string => at(instant, zone).toFormat("cccc d. LLLL 'kl.' HH:mm");

/** `3. jan. 2027`: a calendar date (`YYYY-MM-DD`), with no zone to apply; a library system's due date in its own form is shown as it wrote it. */
export const showDate = (date: string | null): string => {
  if (date === null) return '';
  const parsed = DateTime.fromISO(date, { zone: 'utc' });
  return parsed.isValid ? parsed.setLocale('da').toFormat('d. LLL yyyy') : date;
};

const integer = new Intl.NumberFormat('da-DK');
const percent = new Intl.NumberFormat('da-DK', { style: 'percent' });

export const showCount = (count: number): string => integer.format(count);

/** A share as a whole percentage, or a dash when there is nothing to divide. */
export const showShare = (part: number, whole: number): string => (whole === 0 ? '–' : percent.format(part / whole));

/**
 * A number as people read it: a Danish one in pairs (`+45 20 00 00 01`), others as stored. E-mail
 * addresses and anything else pass through unchanged.
 */
export const showParty = (party: string): string => {
  const danish = /^\+45(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(party);
  return danish ? `+45 ${danish.slice(1).join(' ')}` : party;
};

/** `opdateret kl. 10:00:05`: when the page's numbers were read, on the library's clock. */
export const showUpdatedAt = (instant: Date, zone: string): string => `opdateret kl. ${at(instant, zone).toFormat('HH:mm:ss')}`;
