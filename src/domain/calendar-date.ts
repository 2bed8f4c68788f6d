import { DateTime } from 'luxon';
import { civilFromDays, daysFromCivil, daysInMonth } from './civil.js';
import { localDate } from './zone-clock.js';

/**
 * Calendar dates as the library writes them: `YYYY-MM-DD` strings. Loans are due on a date, not at
 * an instant, so rules compare dates in the library's zone and never touch the hours.
 * Branded so that only text that went through `parseCalendarDate`/`isCalendarDate` (or a function
 * here that computes one) can be passed where a date is expected.
 */
export type CalendarDate = string & { readonly __brand: 'CalendarDate' };

const shape = /^\d{4}-\d{2}-\d{2}$/;

/*
 * Plain integer arithmetic on the text: a renew-all checks and moves a date per loan, and building a
 * luxon DateTime for each cost more than the rest of the rules together. The results are luxon's
 * (the unit tests compare the two): proleptic Gregorian, years 0000-9999; luxon itself is used only
 * where a result leaves that range or the step is not a whole number of days.
 */

const digit = (text: string, at: number) => text.charCodeAt(at) - 48;

/** `YYYY-MM-DD` for a year 0-9999 (the caller keeps to that range, where luxon writes the same). */
function formatCivil(year: number, month: number, day: number): CalendarDate {
  return `${String(year).padStart(4, '0')}-${month < 10 ? '0' : ''}${month}-${day < 10 ? '0' : ''}${day}` as CalendarDate;
}

interface Civil {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** The date the text names, or undefined when it is not a real `YYYY-MM-DD` date. */
function readCivil(text: string): Civil | undefined {
  if (!shape.test(text)) return undefined;
  const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + digit(text, 2) * 10 + digit(text, 3);
  const month = digit(text, 5) * 10 + digit(text, 6);
  const day = digit(text, 8) * 10 + digit(text, 9);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  return { year, month, day };
}

/** True for a real date in `YYYY-MM-DD` form (2026-02-30 is not one). */
export function isCalendarDate(text: string): text is CalendarDate {
  return readCivil(text) !== undefined;
}

/** The date this text names; a RangeError naming the text when it is not a real `YYYY-MM-DD` date. */
export function parseCalendarDate(text: string): CalendarDate {
  if (!isCalendarDate(text)) throw new RangeError(`not a calendar date: ${JSON.stringify(text)}`);
  return text;
}

function parse(date: CalendarDate): Civil {
  const civil = readCivil(date);
  if (civil === undefined) throw new RangeError(`not a calendar date: ${JSON.stringify(date)}`);
  return civil;
}

/** Any step longer than this leaves the years 0000-9999 (they span 3,652,425 days): luxon answers those. */
const fastDaysLimit = 4_000_000;

export function addDays(date: CalendarDate, days: number): CalendarDate {
  const from = parse(date);
  if (Number.isInteger(days) && Math.abs(days) <= fastDaysLimit) {
    const to = civilFromDays(daysFromCivil(from.year, from.month, from.day) + days);
    if (to.year >= 0 && to.year <= 9999) return formatCivil(to.year, to.month, to.day);
  }
  // Fractions of a day, and years luxon writes with a sign: leave those to luxon as before.
  return DateTime.fromISO(date, { zone: 'utc' }).plus({ days }).toISODate() as CalendarDate;
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
  const local = localDate(instant, zone);
  if (local !== undefined && local.year >= 0 && local.year <= 9999) return formatCivil(local.year, local.month, local.day);
  // An invalid zone or instant, or a year luxon writes with a sign: luxon's answer as before.
  return DateTime.fromJSDate(instant, { zone }).toISODate() as CalendarDate;
}

const danishMonths = [
  'januar', 'februar', 'marts', 'april', 'maj', 'juni',
  'juli', 'august', 'september', 'oktober', 'november', 'december',
] as const;

/** `2026-12-03` → `3. december`, as Danish is written (fixed table: no dependence on ICU data). */
export function danishDate(date: CalendarDate): string {
  const parsed = parse(date);
  return `${parsed.day}. ${danishMonths[parsed.month - 1]}`;
}
