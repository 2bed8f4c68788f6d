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

/*
 * Every edge is luxon's own DateTime arithmetic (a wall time in a DST gap moves forward, which is
 * what a patron expects; a wall time in the hour that happens twice is taken at the offset in force
 * at the instant looked from, as luxon takes it). The window is checked per send and per reply, so
 * each day's edges are computed once and kept: what `set` gives depends only on the zone, the local
 * day, the offset in force at the instant looked from (luxon's guess for a repeated hour) and the
 * window, and that is the key.
 */

interface DayEdges {
  /** Today's window start and end. */
  readonly opens: number;
  readonly closes: number;
  /** The window start on the next day (after `startOf('day').plus({ days: 1 })`, as luxon steps). */
  readonly opensTomorrow: number;
}

/** Days kept; a day of sending touches a handful per zone, so this only bounds a long-running process. */
const EDGES_KEPT = 1_000;
const edgesByDay = new Map<string, DayEdges>();

function atTime(day: DateTime, time: TimeOfDay): DateTime {
  return day.set({ hour: time.hour, minute: time.minute, second: 0, millisecond: 0 });
}

/** `instant` in `zone` and the edges of its day, computed by luxon on the first ask of that day. */
function edgesOf(instant: Date, window: DailyWindow, zone: string): { local: DateTime; edges: DayEdges } {
  const local = DateTime.fromJSDate(instant, { zone });
  if (!local.isValid) return { local, edges: computeEdges(local, window) };
  const key = `${zone} ${local.year}-${local.month}-${local.day} ${local.offset} ${window.start.hour}:${window.start.minute}-${window.end.hour}:${window.end.minute}`;
  let edges = edgesByDay.get(key);
  if (edges === undefined) {
    edges = computeEdges(local, window);
    if (edgesByDay.size >= EDGES_KEPT) edgesByDay.clear();
    edgesByDay.set(key, edges);
  }
  return { local, edges };
}

function computeEdges(local: DateTime, window: DailyWindow): DayEdges {
  return {
    opens: atTime(local, window.start).toMillis(),
    closes: atTime(local, window.end).toMillis(),
    opensTomorrow: atTime(local.startOf('day').plus({ days: 1 }), window.start).toMillis(),
  };
}

/** True when `instant` lies inside the window on its own calendar day in `zone`. */
export function isInsideWindow(instant: Date, window: DailyWindow, zone: string): boolean {
  const { local, edges } = edgesOf(instant, window, zone);
  const now = local.toMillis();
  return now >= edges.opens && now < edges.closes;
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
  const { local, edges } = edgesOf(instant, window, zone);
  return new Date(edges.opens > local.toMillis() ? edges.opens : edges.opensTomorrow);
}

/** The end of the window that `instant` is in, or of the next one if it is outside. */
export function windowCloses(instant: Date, window: DailyWindow, zone: string): Date {
  return new Date(edgesOf(nextSendTime(instant, window, zone), window, zone).edges.closes);
}
