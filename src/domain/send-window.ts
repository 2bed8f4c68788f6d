import { DateTime } from 'luxon';
import { atWallTime, clockAt, nextDay, offsetFunction, usableInstant, type OffsetOf } from './zone-clock.js';

/** A wall-clock time in the library's zone. */
export interface TimeOfDay {
  readonly hour: number;
  readonly minute: number;
}

/** The daily SMS window: start inclusive, end exclusive, both wall-clock times on the same day. */
export interface DailyWindow {
  readonly start: TimeOfDay;
  readonly end: TimeOfDay;
}

/** Parses `HH:MM` (24-hour). Throws an Error saying what was expected. */
export function parseTimeOfDay(text: string): TimeOfDay {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  const hour = Number(match?.[1]);
  const minute = Number(match?.[2]);
  if (!match || hour > 23 || minute > 59) throw new Error('expected a time of day as HH:MM, e.g. 07:00');
  return { hour, minute };
}

/** Parses `HH:MM-HH:MM`, e.g. `08:45-20:00`; the start must come before the end on the same day. */
export function parseWindow(text: string): DailyWindow {
  const parts = text.split('-');
  if (parts.length !== 2) throw new Error('expected a window as HH:MM-HH:MM, e.g. 08:45-20:00');
  const start = parseTimeOfDay(parts[0] ?? '');
  const end = parseTimeOfDay(parts[1] ?? '');
  if (minutesOf(start) >= minutesOf(end)) throw new Error('expected the window to start before it ends on the same day');
  return { start, end };
}

export function formatTimeOfDay(time: TimeOfDay): string {
  return `${String(time.hour).padStart(2, '0')}:${String(time.minute).padStart(2, '0')}`;
}

const minutesOf = (time: TimeOfDay) => time.hour * 60 + time.minute;

/*
 * The window is checked per send and per reply, so the work goes through zone-clock: the steps of the
 * luxon code kept below (which still answers for an invalid zone or instant) without making DateTimes.
 * A wall time in a DST gap moves forward, which is what a patron expects; a wall time in the hour that
 * happens twice is taken at the offset in force at the instant looked from, as luxon takes it.
 */

function fastPath(instant: Date, zone: string): OffsetOf | undefined {
  return usableInstant(instant) ? offsetFunction(zone) : undefined;
}

/** True when `instant` lies inside the window on its own calendar day in `zone`. */
export function isInsideWindow(instant: Date, window: DailyWindow, zone: string): boolean {
  const offsetOf = fastPath(instant, zone);
  if (offsetOf === undefined) return viaLuxon.isInsideWindow(instant, window, zone);
  const now = clockAt(instant.valueOf(), offsetOf);
  return (
    now.ts >= atWallTime(now, window.start.hour, window.start.minute, offsetOf) &&
    now.ts < atWallTime(now, window.end.hour, window.end.minute, offsetOf)
  );
}

/**
 * The earliest instant at or after `instant` at which an SMS may leave: `instant` itself when it is
 * inside the window, else the next opening (today's when still to come, otherwise tomorrow's).
 */
export function nextSendTime(instant: Date, window: DailyWindow, zone: string): Date {
  if (isInsideWindow(instant, window, zone)) return instant;
  return nextOpening(instant, window, zone);
}

/** The first window start strictly after `instant` (the opening that follows, whatever the hour). */
export function nextOpening(instant: Date, window: DailyWindow, zone: string): Date {
  const offsetOf = fastPath(instant, zone);
  if (offsetOf === undefined) return viaLuxon.nextOpening(instant, window, zone);
  const { hour, minute } = window.start;
  const now = clockAt(instant.valueOf(), offsetOf);
  const today = atWallTime(now, hour, minute, offsetOf);
  if (today > now.ts) return new Date(today);
  const midnight = clockAt(atWallTime(now, 0, 0, offsetOf), offsetOf);
  const tomorrow = clockAt(nextDay(midnight, offsetOf), offsetOf);
  return new Date(atWallTime(tomorrow, hour, minute, offsetOf));
}

/** The end of the window that `instant` is in, or of the next one if it is outside. */
export function windowCloses(instant: Date, window: DailyWindow, zone: string): Date {
  const opens = nextSendTime(instant, window, zone);
  const offsetOf = fastPath(opens, zone);
  if (offsetOf === undefined) return viaLuxon.windowCloses(opens, window, zone);
  return new Date(atWallTime(clockAt(opens.valueOf(), offsetOf), window.end.hour, window.end.minute, offsetOf));
}

function atTime(day: DateTime, time: TimeOfDay): DateTime {
  return day.set({ hour: time.hour, minute: time.minute, second: 0, millisecond: 0 });
}

/** The DateTime arithmetic the functions above reproduce, answering where they step aside. */
const viaLuxon = {
  isInsideWindow(instant: Date, window: DailyWindow, zone: string): boolean {
    const local = DateTime.fromJSDate(instant, { zone });
    return local >= atTime(local, window.start) && local < atTime(local, window.end);
  },
  nextOpening(instant: Date, window: DailyWindow, zone: string): Date {
    const local = DateTime.fromJSDate(instant, { zone });
    const today = atTime(local, window.start);
    if (today > local) return today.toJSDate();
    return atTime(local.startOf('day').plus({ days: 1 }), window.start).toJSDate();
  },
  /** The window end on the day of `opens` (already the opening or an instant inside the window). */
  windowCloses(opens: Date, window: DailyWindow, zone: string): Date {
    return atTime(DateTime.fromJSDate(opens, { zone }), window.end).toJSDate();
  },
};
