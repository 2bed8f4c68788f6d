import { Info, type Zone } from 'luxon';
import { civilFromDays } from './civil.js';

/*
 * Wall-clock arithmetic in a time zone at the price of a few integer operations, giving exactly what
 * luxon's DateTime gives (the unit tests compare the two over many zones, instants and DST changes).
 *
 * Luxon asks Intl for a zone's offset each time a DateTime is made or moved (a formatToParts, several
 * per window check), and that was most of the worker's date cost. Offsets only change at a zone's
 * transitions, so each hour of UTC is asked about once per zone: its offset at both ends, and where
 * they differ, a bisection to the second at which it changed (offsets change on whole seconds, and
 * luxon reads them to the second). The one thing this takes on trust is that no zone changes its offset
 * and changes it back within the same hour: in tzdata 2025 the closest two changes of any zone are four
 * days apart (Africa/Freetown, September 1939).
 *
 * The steps below (fromJSDate, set, plus) repeat luxon 3's own: the same offset guess, the same
 * fix-up around gaps and overlaps, the same floating-point expressions. Anything outside that ground
 * (an invalid zone or instant, the far ends of Date's range) is for the caller to hand to luxon.
 */

/** A zone's offset east of UTC in minutes at an epoch millisecond, as luxon's `Zone.offset`. */
export type OffsetOf = (ts: number) => number;

const dayMs = 86_400_000;
/** Instants this far inside Date's range keep every step below (a day or two either way) valid. */
const safeMs = 8.64e15 - 30 * dayMs;

interface Hour {
  readonly first: number;
  /** Seconds at which the offset changed within the hour, ascending, and the offset from each on. */
  readonly changes: readonly number[];
  readonly offsets: readonly number[];
}

function survey(zone: Zone, hour: number): Hour {
  const offsetAt = (second: number) => zone.offset(second * 1000);
  const start = hour * 3600;
  const end = start + 3599;
  const first = offsetAt(start);
  const changes: number[] = [];
  const offsets: number[] = [];
  const split = (from: number, fromOffset: number, to: number, toOffset: number): void => {
    if (fromOffset === toOffset) return;
    if (to - from === 1) {
      changes.push(to);
      offsets.push(toOffset);
      return;
    }
    const middle = Math.floor((from + to) / 2);
    const middleOffset = offsetAt(middle);
    split(from, fromOffset, middle, middleOffset);
    split(middle, middleOffset, to, toOffset);
  };
  split(start, first, end, offsetAt(end));
  return { first, changes, offsets };
}

function memoised(zone: Zone): OffsetOf {
  const hours = new Map<number, Hour>();
  return (ts) => {
    const ms = Math.trunc(ts); // what `new Date(ts)` keeps, and all luxon's offset looks at
    if (!(Math.abs(ms) <= safeMs)) return zone.offset(ts);
    const second = Math.floor(ms / 1000);
    const key = Math.floor(second / 3600);
    let hour = hours.get(key);
    if (hour === undefined) {
      hour = survey(zone, key);
      if (hours.size >= 20_000) hours.clear(); // a bound, far above what a day of sending touches
      hours.set(key, hour);
    }
    let offset = hour.first;
    for (let i = 0; i < hour.changes.length && second >= (hour.changes[i] ?? Infinity); i++) offset = hour.offsets[i] ?? offset;
    return offset;
  };
}

const namedZones = new Map<string, OffsetOf | null>();

/**
 * The offset function for a zone as luxon reads `zone` (an IANA name, `UTC`, `UTC+2`, `system`…), or
 * undefined when luxon would find the zone invalid. IANA zones are memoised by name; the others are
 * cheap already and may follow settings that change (luxon's default zone, the process's TZ).
 */
export function offsetFunction(zone: string): OffsetOf | undefined {
  const known = namedZones.get(zone);
  if (known !== undefined) return known ?? undefined;
  const resolved = Info.normalizeZone(zone);
  if (resolved.type === 'iana') {
    const offsetOf = resolved.isValid ? memoised(resolved) : null;
    if (namedZones.size >= 100) namedZones.clear();
    namedZones.set(zone, offsetOf);
    return offsetOf ?? undefined;
  }
  return resolved.isValid ? (ts) => resolved.offset(ts) : undefined;
}

/** A moment as a luxon DateTime holds it: the instant, the zone's offset then, and the wall clock in ms. */
export interface WallClock {
  readonly ts: number;
  readonly offset: number;
  /** The wall-clock time as milliseconds since 1970-01-01T00:00 on the local calendar. */
  readonly wall: number;
}

/** `DateTime.fromMillis(ts, { zone })`, or a DateTime after `set`/`plus` (which recompute the offset). */
export function clockAt(ts: number, offsetOf: OffsetOf): WallClock {
  const offset = offsetOf(ts);
  return { ts, offset, wall: Math.trunc(ts + offset * 60 * 1000) };
}

/** luxon's fixOffset: the instant of wall time `localTS`, starting from the guess `offset`. */
function fixOffset(localTS: number, offset: number, offsetOf: OffsetOf): number {
  let utcGuess = localTS - offset * 60 * 1000;
  const o2 = offsetOf(utcGuess);
  if (offset === o2) return utcGuess;
  utcGuess -= (o2 - offset) * 60 * 1000;
  const o3 = offsetOf(utcGuess);
  if (o2 === o3) return utcGuess;
  return localTS - Math.min(o2, o3) * 60 * 1000;
}

/** The instant of `clock.set({ hour, minute, second: 0, millisecond: 0 })`: same day, that wall time. */
export function atWallTime(clock: WallClock, hour: number, minute: number, offsetOf: OffsetOf): number {
  const dayStart = Math.floor(clock.wall / dayMs) * dayMs;
  return fixOffset(dayStart + (hour * 60 + minute) * 60_000, clock.offset, offsetOf);
}

/** The instant of `clock.plus({ days: 1 })`: the same wall time on the next day. */
export function nextDay(clock: WallClock, offsetOf: OffsetOf): number {
  return fixOffset(clock.wall + dayMs, clock.offset, offsetOf);
}

/** True when luxon could be replaced here: a real Date well inside Date's range. */
export function usableInstant(instant: Date): boolean {
  if (!(instant instanceof Date)) return false;
  const ts = instant.valueOf();
  return Math.abs(ts) <= safeMs;
}

/** The calendar date of `instant` in `zone`, or undefined where luxon must answer (bad zone or instant). */
export function localDate(instant: Date, zone: string): { year: number; month: number; day: number } | undefined {
  if (!usableInstant(instant)) return undefined;
  const offsetOf = offsetFunction(zone);
  if (offsetOf === undefined) return undefined;
  return civilFromDays(Math.floor(clockAt(instant.valueOf(), offsetOf).wall / dayMs));
}
