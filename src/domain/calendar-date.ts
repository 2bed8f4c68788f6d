import { DateTime } from 'luxon';

/**
 * Calendar dates as the library writes them: `YYYY-MM-DD` strings. Loans are due on a date, not at
 * an instant, so rules compare dates in the library's zone and never touch the hours.
 * Branded so that only text that went through `parseCalendarDate`/`isCalendarDate` (or a function
 * here that computes one) can be passed where a date is expected.
 */
export type CalendarDate = string & { readonly __brand: 'CalendarDate' };

const shape = /^\d{4}-\d{2}-\d{2}$/;

/** True for a real date in `YYYY-MM-DD` form (2026-02-30 is not one). */
export function isCalendarDate(text: string): text is CalendarDate {
  return shape.test(text) && DateTime.fromISO(text, { zone: 'utc' }).isValid;
}

/** The date this text names; a RangeError naming the text when it is not a real `YYYY-MM-DD` date. */
export function parseCalendarDate(text: string): CalendarDate {
  if (!isCalendarDate(text)) throw new RangeError(`not a calendar date: ${JSON.stringify(text)}`);
  return text;
}

function parse(date: CalendarDate): DateTime {
  const parsed = DateTime.fromISO(date, { zone: 'utc' });
  if (!shape.test(date) || !parsed.isValid) throw new RangeError(`not a calendar date: ${JSON.stringify(date)}`);
  return parsed;
}

export function addDays(date: CalendarDate, days: number): CalendarDate {
  return parse(date).plus({ days }).toISODate() as CalendarDate;
}

/** Negative when `a` comes first, zero when equal, positive when `a` comes after `b`. */
export function compareDates(a: CalendarDate, b: CalendarDate): number {
  return a < b ? -1 : a > b ? 1 : 0; // the fixed-width ISO form sorts as text
}

export function laterOf(a: CalendarDate, b: CalendarDate): CalendarDate {
  return compareDates(a, b) >= 0 ? a : b;
}

/** The calendar date of `instant` in `zone`. */
export function dateIn(instant: Date, zone: string): CalendarDate {
  return DateTime.fromJSDate(instant, { zone }).toISODate() as CalendarDate;
}

const danishMonths = [
  'januar', 'februar', 'marts', 'april', 'maj', 'juni',
  'juli', 'august', 'september', 'oktober', 'november', 'december',
] as const;

/** Dates already written: a batch of notices names the same few dates thousands of times, and parsing is the cost. */
const written = new Map<CalendarDate, string>();

/** `2026-12-03` → `3. december`, as Danish is written (fixed table: no dependence on ICU data). */
export function danishDate(date: CalendarDate): string {
  const known = written.get(date);
  if (known !== undefined) return known;
  const parsed = parse(date);
  const text = `${parsed.day}. ${danishMonths[parsed.month - 1]}`;
  if (written.size >= 2000) written.clear();
  written.set(date, text);
  return text;
}
