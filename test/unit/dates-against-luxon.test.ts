import { expect } from 'chai';
import fc from 'fast-check';
import { DateTime, IANAZone, Info } from 'luxon';
import { addDays, danishDate, dateIn, isCalendarDate, parseCalendarDate, type CalendarDate } from '../../src/domain/calendar-date.js';
import { isInsideWindow, nextOpening, nextSendTime, windowCloses, type DailyWindow, type TimeOfDay } from '../../src/domain/send-window.js';
import { offsetFunction } from '../../src/domain/zone-clock.js';

/*
 * calendar-date and send-window do their arithmetic in integers and memoise zone offsets; these
 * properties hold them to the straightforward luxon code they replaced (below, as it was), over random
 * dates, instants and zones, with extra weight on the days daylight saving changes.
 */
const reference = {
  isCalendarDate: (text: string): boolean => {
    return /^\d{4}-\d{2}-\d{2}$/.test(text) && DateTime.fromISO(text, { zone: 'utc' }).isValid;
  },
  addDays: (date: string, days: number): string | null => {
    const parsed = DateTime.fromISO(date, { zone: 'utc' });
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || !parsed.isValid) throw new RangeError(`not a calendar date: ${JSON.stringify(date)}`);
    return parsed.plus({ days }).toISODate();
  },
  dateIn: (instant: Date, zone: string): string | null => {
    return DateTime.fromJSDate(instant, { zone }).toISODate();
  },
  atTime: (day: DateTime, time: TimeOfDay): DateTime => {
    return day.set({ hour: time.hour, minute: time.minute, second: 0, millisecond: 0 });
  },
  isInsideWindow: (instant: Date, window: DailyWindow, zone: string): boolean => {
    const local = DateTime.fromJSDate(instant, { zone });
    return local >= reference.atTime(local, window.start) && local < reference.atTime(local, window.end);
  },
  nextOpening: (instant: Date, window: DailyWindow, zone: string): Date => {
    const local = DateTime.fromJSDate(instant, { zone });
    const today = reference.atTime(local, window.start);
    if (today > local) return today.toJSDate();
    return reference.atTime(local.startOf('day').plus({ days: 1 }), window.start).toJSDate();
  },
  nextSendTime: (instant: Date, window: DailyWindow, zone: string): Date => {
    return reference.isInsideWindow(instant, window, zone) ? instant : reference.nextOpening(instant, window, zone);
  },
  windowCloses: (instant: Date, window: DailyWindow, zone: string): Date => {
    const opens = DateTime.fromJSDate(reference.nextSendTime(instant, window, zone), { zone });
    return reference.atTime(opens, window.end).toJSDate();
  },
};

/** What a call gave: its value, or the kind and message of what it threw. */
function outcome(call: () => unknown): string {
  try {
    const value = call();
    return value instanceof Date ? `date ${value.valueOf()}` : `value ${JSON.stringify(value)}`;
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : 'thrown';
  }
}

const dayMs = 86_400_000;
const hourMs = 3_600_000;
const copenhagen = 'Europe/Copenhagen';
const ianaZones = Intl.supportedValuesOf('timeZone');
const zones = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...ianaZones) },
  { weight: 3, arbitrary: fc.constant(copenhagen) },
  // Offsets of half and quarter hours change in the middle of a UTC hour, as old local mean times did.
  { weight: 2, arbitrary: fc.constantFrom('Australia/Adelaide', 'Australia/Lord_Howe', 'America/St_Johns', 'Asia/Kathmandu', 'Asia/Tehran', 'Pacific/Chatham', 'Asia/Kolkata') },
  { weight: 1, arbitrary: fc.constantFrom('UTC', 'utc', 'Etc/UTC', 'UTC+3', 'UTC-9:30', 'europe/copenhagen', 'America/Nowhere', '') },
);

/**
 * Instants at which `zone` changed its offset during `year` (UTC), found the slow way with luxon: week
 * by week, then to the second. Only where to look harder; the properties compare against luxon itself.
 */
const transitionsKnown = new Map<string, number[]>();
function transitions(zone: string, year: number): number[] {
  const key = `${zone} ${year}`;
  const known = transitionsKnown.get(key);
  if (known) return known;
  const found: number[] = [];
  const iana = IANAZone.create(zone);
  if (iana.isValid) {
    const start = Date.UTC(year, 0, 1);
    const end = Date.UTC(year + 1, 0, 1);
    for (let from = start; from < end; from += 7 * dayMs) {
      let lo = from;
      let hi = from + 7 * dayMs;
      if (iana.offset(lo) === iana.offset(hi)) continue;
      while (hi - lo > 1000) {
        const middle = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (iana.offset(middle) === iana.offset(lo)) lo = middle;
        else hi = middle;
      }
      found.push(hi);
    }
  }
  transitionsKnown.set(key, found);
  return found;
}

/** An instant anywhere from 1850 to 2150, to the millisecond. */
const anyInstant = fc.integer({ min: Date.UTC(1850, 0, 1), max: Date.UTC(2150, 0, 1) }).map((ts) => new Date(ts));

/** A zone and an instant within two days of one of its offset changes (or anywhere in the year, if it had none). */
const nearChange = fc
  .record({
    zone: zones,
    year: fc.integer({ min: 1880, max: 2060 }),
    pick: fc.nat(),
    shift: fc.oneof(fc.integer({ min: -2 * dayMs, max: 2 * dayMs }), fc.integer({ min: -2 * hourMs, max: 2 * hourMs }), fc.integer({ min: -90_000, max: 90_000 })),
  })
  .map(({ zone, year, pick, shift }) => {
    const changes = transitions(zone, year);
    const around = changes.length > 0 ? (changes[pick % changes.length] ?? 0) : Date.UTC(year, 0, 1) + (pick % 365) * dayMs;
    // Half the time land on a whole minute or second, where the window's edges are.
    const ts = around + shift;
    const rounded = pick % 4 === 0 ? ts - (((ts % 60_000) + 60_000) % 60_000) : pick % 4 === 1 ? ts - (((ts % 1000) + 1000) % 1000) : ts;
    return { zone, instant: new Date(rounded) };
  });

/** Copenhagen's own change days, 1980-2100 (last Sundays of March and October): any instant of those days and the nights around them. */
const copenhagenChangeDay = fc
  .record({ year: fc.integer({ min: 1980, max: 2100 }), october: fc.boolean(), at: fc.integer({ min: -6 * hourMs, max: 30 * hourMs }), minuteOnly: fc.boolean() })
  .map(({ year, october, at, minuteOnly }) => {
    const month = october ? 9 : 2;
    const lastDay = new Date(Date.UTC(year, month, 31));
    const sunday = 31 - lastDay.getUTCDay();
    const ts = Date.UTC(year, month, sunday) - hourMs + at; // from local midnight (winter offset), give or take
    return { zone: copenhagen, instant: new Date(minuteOnly ? ts - (ts % 60_000) : ts) };
  });

const minuteOfDay = fc.oneof(fc.integer({ min: 0, max: 1438 }), fc.integer({ min: 0, max: 5 * 60 }));
const windows: fc.Arbitrary<DailyWindow> = minuteOfDay.chain((start) =>
  fc.integer({ min: start + 1, max: 1439 }).map((end) => ({
    start: { hour: Math.floor(start / 60), minute: start % 60 },
    end: { hour: Math.floor(end / 60), minute: end % 60 },
  })),
);
const library: DailyWindow = { start: { hour: 8, minute: 45 }, end: { hour: 20, minute: 0 } };
const zonedInstants = fc.oneof(nearChange, copenhagenChangeDay, fc.record({ zone: zones, instant: anyInstant }));

describe('calendar dates agree with luxon', () => {
  const pad = (n: number, width: number) => String(n).padStart(width, '0');

  it('every text of months 00-13 and days 00-32 in years around the leap-year rules is accepted exactly when luxon accepts it', () => {
    // Every year 0000-9999 was checked the same way by hand when the integer check was written.
    for (const year of [0, 1, 4, 99, 100, 400, 1582, 1900, 1999, 2000, 2024, 2025, 2026, 2027, 2028, 2100, 2400, 9996, 9999]) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          const text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
          if (isCalendarDate(text) !== reference.isCalendarDate(text)) expect.fail(`${text}: ${isCalendarDate(text)}, luxon ${reference.isCalendarDate(text)}`);
        }
      }
    }
  });

  it('accepts and refuses the texts luxon does, and parseCalendarDate throws as before', () => {
    const digits = fc
      .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }))
      .map(([y, m, d]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`);
    const nearly = fc.tuple(digits, fc.nat(9), fc.constantFrom('', ' ', 'T', '\n', '０', '٣', '+', '-', 'Z', '0')).map(([text, at, insert]) => text.slice(0, at) + insert + text.slice(at + 1));
    fc.assert(
      fc.property(fc.oneof(digits, nearly, fc.string({ maxLength: 12 })), (text) => {
        expect(isCalendarDate(text), text).to.equal(reference.isCalendarDate(text));
        expect(outcome(() => parseCalendarDate(text)), text).to.equal(outcome(() => (reference.isCalendarDate(text) ? text : reference.addDays(text, 0))));
      }),
      { numRuns: 1000 },
    );
  });

  const anyDate = fc.integer({ min: -719528, max: 2932896 }).map((day) => new Date(day * dayMs).toISOString().slice(0, 10) as CalendarDate);

  it('addDays gives what luxon gives, over years 0000-9999, leap days and both ends of the range', () => {
    const steps = fc.oneof(
      fc.integer({ min: -400, max: 400 }),
      fc.integer({ min: -4_000_000, max: 4_000_000 }),
      fc.constantFrom(0, -0, 1, -1, 0.5, -1.25, 1e7, -1e7, 146097, -146097),
    );
    const dates = fc.oneof(anyDate, fc.constantFrom('2028-02-29', '2000-02-29', '0000-01-01', '9999-12-31', '0099-12-31', '0100-03-01') as fc.Arbitrary<CalendarDate>);
    fc.assert(
      fc.property(dates, steps, (date, days) => {
        expect(outcome(() => addDays(date, days)), `${date} + ${days}`).to.equal(outcome(() => reference.addDays(date, days)));
      }),
      { numRuns: 1500 },
    );
  });

  it('addDays refuses a text that is not a date, as before', () => {
    for (const text of ['2026-02-30', '2026-1-1', '', '2026-12-03T00:00:00Z']) {
      expect(outcome(() => addDays(text as CalendarDate, 1))).to.equal(outcome(() => reference.addDays(text, 1)));
    }
  });

  it('danishDate names the day and month luxon read from the text', () => {
    const danishMonths = ['januar', 'februar', 'marts', 'april', 'maj', 'juni', 'juli', 'august', 'september', 'oktober', 'november', 'december'];
    fc.assert(
      fc.property(anyDate, (date) => {
        const parsed = DateTime.fromISO(date, { zone: 'utc' });
        expect(danishDate(date), date).to.equal(`${parsed.day}. ${danishMonths[parsed.month - 1]}`);
      }),
      { numRuns: 500 },
    );
  });

  it('dateIn gives the date luxon gives, in any zone, across offset changes', () => {
    fc.assert(
      fc.property(zonedInstants, ({ zone, instant }) => {
        expect(outcome(() => dateIn(instant, zone)), `${instant.toISOString()} ${zone}`).to.equal(outcome(() => reference.dateIn(instant, zone)));
      }),
      { numRuns: 1000 },
    );
  });

  it('dateIn of an invalid instant or zone is what luxon made of it', () => {
    for (const [instant, zone] of [[new Date(NaN), copenhagen], [new Date(0), 'Not/AZone'], [new Date(8.64e15), copenhagen], [new Date(-8.64e15), 'UTC']] as const) {
      expect(outcome(() => dateIn(instant, zone))).to.equal(outcome(() => reference.dateIn(instant, zone)));
    }
  });
});

describe('zone offsets, memoised per hour, agree with luxon', () => {
  it('gives the offset luxon reads from Intl, at any instant in any zone', () => {
    const instants = fc.oneof(
      nearChange.map(({ zone, instant }) => ({ zone, ts: instant.valueOf() })),
      fc.record({ zone: zones, ts: fc.double({ min: -1e13, max: 1e13, noNaN: true }) }),
    );
    fc.assert(
      fc.property(instants, ({ zone, ts }) => {
        const offsetOf = offsetFunction(zone);
        const iana = Info.normalizeZone(zone);
        if (iana.isValid) expect(offsetOf?.(ts), `${zone} at ${ts}`).to.equal(iana.offset(ts));
        else expect(offsetOf).to.equal(undefined);
      }),
      { numRuns: 1500 },
    );
  });
});

describe('the send window agrees with luxon', () => {
  const check = (name: string, ours: typeof isInsideWindow | typeof nextSendTime, theirs: typeof isInsideWindow | typeof nextSendTime) => {
    it(`${name}: any window, any zone, with weight on the days the offset changes`, () => {
      fc.assert(
        fc.property(zonedInstants, fc.oneof(windows, fc.constant(library)), ({ zone, instant }, window) => {
          const label = `${instant.toISOString()} ${zone} ${JSON.stringify(window)}`;
          expect(outcome(() => ours(instant, window, zone)), label).to.equal(outcome(() => theirs(instant, window, zone)));
        }),
        { numRuns: 1000 },
      );
    });
  };
  check('isInsideWindow', isInsideWindow, reference.isInsideWindow);
  check('nextSendTime', nextSendTime, reference.nextSendTime);
  check('nextOpening', nextOpening, reference.nextOpening);
  check('windowCloses', windowCloses, reference.windowCloses);

  it('Copenhagen’s change days in 2026, every 10 minutes of the night and every 30 of the day, for windows that start or end in the changed hours', () => {
    const edgy: DailyWindow[] = [
      library,
      { start: { hour: 2, minute: 0 }, end: { hour: 3, minute: 0 } },
      { start: { hour: 2, minute: 30 }, end: { hour: 20, minute: 0 } },
      { start: { hour: 0, minute: 0 }, end: { hour: 2, minute: 30 } },
      { start: { hour: 1, minute: 59 }, end: { hour: 3, minute: 1 } },
    ];
    for (const day of ['2026-03-29', '2026-10-25']) {
      const midnight = Date.parse(`${day}T00:00:00+01:00`);
      for (let ts = midnight - 2 * hourMs; ts < midnight + 26 * hourMs; ts += ts < midnight + 5 * hourMs ? 10 * 60_000 : 30 * 60_000) {
        for (const at of [ts, ts - 1, ts + 1]) {
          const instant = new Date(at);
          for (const window of edgy) {
            for (const [ours, theirs] of [
              [isInsideWindow, reference.isInsideWindow],
              [nextSendTime, reference.nextSendTime],
              [windowCloses, reference.windowCloses],
            ] as const) {
              const got = outcome(() => ours(instant, window, copenhagen));
              const want = outcome(() => theirs(instant, window, copenhagen));
              if (got !== want) expect.fail(`${ours.name} at ${instant.toISOString()} for ${JSON.stringify(window)}: ${got}, luxon ${want}`);
            }
          }
        }
      }
    }
  });
});
