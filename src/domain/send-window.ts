import { DateTime } from 'luxon';

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

function atTime(day: DateTime, time: TimeOfDay): DateTime {
  // Luxon moves a wall time that falls in a DST gap forward, which is what a patron expects.
  return day.set({ hour: time.hour, minute: time.minute, second: 0, millisecond: 0 });
}

/** True when `instant` lies inside the window on its own calendar day in `zone`. */
export function isInsideWindow(instant: Date, window: DailyWindow, zone: string): boolean {
  const local = DateTime.fromJSDate(instant, { zone });
  return local >= atTime(local, window.start) && local < atTime(local, window.end);
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
  const local = DateTime.fromJSDate(instant, { zone });
  const today = atTime(local, window.start);
  if (today > local) return today.toJSDate();
  return atTime(local.startOf('day').plus({ days: 1 }), window.start).toJSDate();
}

/** The end of the window that `instant` is in, or of the next one if it is outside. */
export function windowCloses(instant: Date, window: DailyWindow, zone: string): Date {
  const opens = DateTime.fromJSDate(nextSendTime(instant, window, zone), { zone });
  return atTime(opens, window.end).toJSDate();
}
