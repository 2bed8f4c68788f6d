import { expect } from 'chai';
import {
  isInsideWindow,
  nextOpening,
  nextSendTime,
  parseTimeOfDay,
  parseWindow,
  windowCloses,
  type DailyWindow,
  type TimeOfDay,
} from '../../src/domain/send-window.js';

const zone = 'Europe/Copenhagen';
const library: DailyWindow = { start: { hour: 8, minute: 45 }, end: { hour: 20, minute: 0 } };
const officeHours: DailyWindow = { start: { hour: 9, minute: 0 }, end: { hour: 17, minute: 30 } };

/*
 * Summer time in 2026 starts on Sunday 29 March (02:00 → 03:00) and ends on Sunday 25 October
 * (03:00 → 02:00): the last Sundays of those months.
 */

describe('nextSendTime', () => {
  const rows: { name: string; window?: DailyWindow; at: string; expected: string }[] = [
    { name: 'an evening message waits for the next morning', at: '2026-11-30T21:30:00+01:00', expected: '2026-12-01T08:45:00+01:00' },
    { name: 'a millisecond before opening waits for the opening', at: '2026-12-01T08:44:59.999+01:00', expected: '2026-12-01T08:45:00+01:00' },
    { name: 'the opening instant itself leaves at once', at: '2026-12-01T08:45:00+01:00', expected: '2026-12-01T08:45:00+01:00' },
    { name: 'midday leaves at once', at: '2026-12-01T12:00:00+01:00', expected: '2026-12-01T12:00:00+01:00' },
    { name: 'the last second before closing leaves at once', at: '2026-12-01T19:59:59+01:00', expected: '2026-12-01T19:59:59+01:00' },
    { name: 'the closing instant waits for the next morning (end exclusive)', at: '2026-12-01T20:00:00+01:00', expected: '2026-12-02T08:45:00+01:00' },
    { name: 'thirty seconds after closing waits for the next morning', at: '2026-12-01T20:00:30+01:00', expected: '2026-12-02T08:45:00+01:00' },
    { name: 'a minute before midnight waits for the next morning', at: '2026-12-01T23:59:00+01:00', expected: '2026-12-02T08:45:00+01:00' },
    { name: 'midnight waits for the same morning', at: '2026-12-02T00:00:00+01:00', expected: '2026-12-02T08:45:00+01:00' },
    { name: '03:00 waits for the same morning', at: '2026-12-02T03:00:00+01:00', expected: '2026-12-02T08:45:00+01:00' },
    { name: 'the last evening of the year waits for New Year’s morning', at: '2026-12-31T22:00:00+01:00', expected: '2027-01-01T08:45:00+01:00' },
    { name: 'a summer evening waits for 08:45 summer time', at: '2026-07-15T21:30:00+02:00', expected: '2026-07-16T08:45:00+02:00' },
    // 07:00Z is outside 08:45-20:00 in UTC, but 09:00 in Copenhagen: the library's clock counts.
    { name: 'a UTC instant is judged by the library clock (inside)', at: '2026-07-15T07:00:00Z', expected: '2026-07-15T07:00:00Z' },
    { name: 'a UTC instant is judged by the library clock (outside)', at: '2026-07-15T18:30:00Z', expected: '2026-07-16T08:45:00+02:00' },

    // Into summer time.
    { name: 'Saturday evening before summer time waits for Sunday 08:45 summer time', at: '2026-03-28T21:30:00+01:00', expected: '2026-03-29T08:45:00+02:00' },
    { name: 'the night of the change, before the clocks jump', at: '2026-03-29T01:30:00+01:00', expected: '2026-03-29T08:45:00+02:00' },
    // 02:30 does not exist that night; 02:30 winter time is 03:30 summer time.
    { name: 'the night of the change, "02:30" winter time', at: '2026-03-29T02:30:00+01:00', expected: '2026-03-29T08:45:00+02:00' },
    { name: 'the night of the change, after the clocks jump', at: '2026-03-29T03:30:00+02:00', expected: '2026-03-29T08:45:00+02:00' },
    { name: 'the first summer-time evening closes at 20:00 summer time', at: '2026-03-29T20:00:00+02:00', expected: '2026-03-30T08:45:00+02:00' },
    { name: 'the first summer-time evening is open until then', at: '2026-03-29T19:59:00+02:00', expected: '2026-03-29T19:59:00+02:00' },

    // Back to winter time.
    { name: 'Saturday evening before winter time waits for Sunday 08:45 winter time', at: '2026-10-24T21:30:00+02:00', expected: '2026-10-25T08:45:00+01:00' },
    { name: 'the first 02:30 of the night of the change', at: '2026-10-25T02:30:00+02:00', expected: '2026-10-25T08:45:00+01:00' },
    { name: 'the second 02:30 of the night of the change', at: '2026-10-25T02:30:00+01:00', expected: '2026-10-25T08:45:00+01:00' },
    { name: 'the first winter-time evening closes at 20:00 winter time', at: '2026-10-25T20:00:00+01:00', expected: '2026-10-26T08:45:00+01:00' },
    { name: 'the first winter-time evening is open until then', at: '2026-10-25T19:59:00+01:00', expected: '2026-10-25T19:59:00+01:00' },

    // Another library's window.
    { name: '09:00-17:30: before opening waits for 09:00', window: officeHours, at: '2026-12-01T08:50:00+01:00', expected: '2026-12-01T09:00:00+01:00' },
    { name: '09:00-17:30: 08:45 is not yet open', window: officeHours, at: '2026-12-01T08:45:00+01:00', expected: '2026-12-01T09:00:00+01:00' },
    { name: '09:00-17:30: 17:29:59 leaves at once', window: officeHours, at: '2026-12-01T17:29:59+01:00', expected: '2026-12-01T17:29:59+01:00' },
    { name: '09:00-17:30: 17:30 waits for the next morning', window: officeHours, at: '2026-12-01T17:30:00+01:00', expected: '2026-12-02T09:00:00+01:00' },
    { name: '09:00-17:30: 19:00 (open in the default window) waits', window: officeHours, at: '2026-12-01T19:00:00+01:00', expected: '2026-12-02T09:00:00+01:00' },
  ];

  for (const row of rows) {
    it(`${row.name}: ${row.at} → ${row.expected}`, () => {
      const sendAt = nextSendTime(new Date(row.at), row.window ?? library, zone);
      expect(sendAt.toISOString()).to.equal(new Date(row.expected).toISOString());
    });
  }
});

describe('isInsideWindow', () => {
  const rows: { name: string; at: string; expected: boolean }[] = [
    { name: '08:44:59.999 is outside', at: '2026-12-01T08:44:59.999+01:00', expected: false },
    { name: '08:45 is inside (start inclusive)', at: '2026-12-01T08:45:00+01:00', expected: true },
    { name: '19:59:59.999 is inside', at: '2026-12-01T19:59:59.999+01:00', expected: true },
    { name: '20:00 is outside (end exclusive)', at: '2026-12-01T20:00:00+01:00', expected: false },
    { name: '03:00 is outside', at: '2026-12-01T03:00:00+01:00', expected: false },
    { name: '08:45 summer time is inside', at: '2026-07-15T08:45:00+02:00', expected: true },
    // 08:00 winter offset is 09:00 summer time, the clock the library keeps in July.
    { name: 'in July, 08:00+01:00 is 09:00 local and inside', at: '2026-07-15T08:00:00+01:00', expected: true },
    { name: 'in July, 19:30Z is 21:30 local and outside', at: '2026-07-15T19:30:00Z', expected: false },
  ];

  for (const row of rows) {
    it(row.name, () => {
      expect(isInsideWindow(new Date(row.at), library, zone)).to.equal(row.expected);
    });
  }
});

describe('nextOpening', () => {
  const rows: { name: string; at: string; expected: string }[] = [
    { name: 'before opening: this morning', at: '2026-12-01T06:00:00+01:00', expected: '2026-12-01T08:45:00+01:00' },
    { name: 'at the opening: the next one, tomorrow', at: '2026-12-01T08:45:00+01:00', expected: '2026-12-02T08:45:00+01:00' },
    { name: 'inside the window: tomorrow', at: '2026-12-01T12:00:00+01:00', expected: '2026-12-02T08:45:00+01:00' },
    { name: 'after closing: tomorrow', at: '2026-12-01T21:00:00+01:00', expected: '2026-12-02T08:45:00+01:00' },
    { name: 'Saturday midday before summer time: Sunday 08:45 summer time', at: '2026-03-28T12:00:00+01:00', expected: '2026-03-29T08:45:00+02:00' },
    { name: 'Saturday midday before winter time: Sunday 08:45 winter time', at: '2026-10-24T12:00:00+02:00', expected: '2026-10-25T08:45:00+01:00' },
  ];

  for (const row of rows) {
    it(row.name, () => {
      expect(nextOpening(new Date(row.at), library, zone).toISOString()).to.equal(new Date(row.expected).toISOString());
    });
  }
});

describe('windowCloses', () => {
  const rows: { name: string; at: string; expected: string }[] = [
    { name: 'inside the window: this evening', at: '2026-12-01T12:00:00+01:00', expected: '2026-12-01T20:00:00+01:00' },
    { name: 'before opening: this evening', at: '2026-12-01T03:00:00+01:00', expected: '2026-12-01T20:00:00+01:00' },
    { name: 'after closing: tomorrow evening', at: '2026-12-01T21:30:00+01:00', expected: '2026-12-02T20:00:00+01:00' },
    { name: 'at closing: tomorrow evening', at: '2026-12-01T20:00:00+01:00', expected: '2026-12-02T20:00:00+01:00' },
    { name: 'the night before summer time: Sunday 20:00 summer time', at: '2026-03-28T22:00:00+01:00', expected: '2026-03-29T20:00:00+02:00' },
    { name: 'the night before winter time: Sunday 20:00 winter time', at: '2026-10-24T22:00:00+02:00', expected: '2026-10-25T20:00:00+01:00' },
  ];

  for (const row of rows) {
    it(row.name, () => {
      expect(windowCloses(new Date(row.at), library, zone).toISOString()).to.equal(new Date(row.expected).toISOString());
    });
  }
});

describe('parseWindow', () => {
  const accepted: { text: string; expected: DailyWindow }[] = [
    { text: '08:45-20:00', expected: library },
    { text: '09:00-17:30', expected: officeHours },
    { text: '8:45-20:00', expected: library },
    { text: '00:00-23:59', expected: { start: { hour: 0, minute: 0 }, end: { hour: 23, minute: 59 } } },
  ];
  for (const row of accepted) {
    it(`reads ${row.text}`, () => {
      expect(parseWindow(row.text)).to.deep.equal(row.expected);
    });
  }

  const rejected: { text: string; why: string }[] = [
    { text: '20:00-08:45', why: 'it would span midnight' },
    { text: '08:45-08:45', why: 'it would be empty' },
    { text: '25:00-26:00', why: 'there is no hour 25' },
    { text: '08:45', why: 'it has no end' },
    { text: '08:45-20:00-21:00', why: 'it has three times' },
    { text: 'abc', why: 'it is not a window' },
    { text: '', why: 'it is empty' },
  ];
  for (const row of rejected) {
    it(`rejects ${JSON.stringify(row.text)}: ${row.why}`, () => {
      expect(() => parseWindow(row.text)).to.throw(Error, /HH:MM|start before it ends/);
    });
  }
});

describe('parseTimeOfDay', () => {
  const accepted: { text: string; expected: TimeOfDay }[] = [
    { text: '07:00', expected: { hour: 7, minute: 0 } },
    { text: '7:00', expected: { hour: 7, minute: 0 } },
    { text: '00:00', expected: { hour: 0, minute: 0 } },
    { text: '23:59', expected: { hour: 23, minute: 59 } },
  ];
  for (const row of accepted) {
    it(`reads ${row.text}`, () => {
      expect(parseTimeOfDay(row.text)).to.deep.equal(row.expected);
    });
  }

  const rejected = ['7', '24:00', '07:60', '07:5', '7.00', 'seven', ''];
  for (const text of rejected) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      expect(() => parseTimeOfDay(text)).to.throw(Error, /HH:MM/);
    });
  }
});

describe('windows whose edges fall in the hour the clocks change', () => {
  // Unusual windows, but parseWindow accepts them; the answers are the ones forny has always given.
  const fromHalfPastTwo: DailyWindow = { start: { hour: 2, minute: 30 }, end: { hour: 20, minute: 0 } };
  const untilHalfPastTwo: DailyWindow = { start: { hour: 0, minute: 0 }, end: { hour: 2, minute: 30 } };
  const rows: { name: string; window: DailyWindow; at: string; inside: boolean; sendAt: string; closes: string }[] = [
    // 02:30 does not exist on 29 March 2026: the window opens when the clock shows 03:30.
    { name: 'an opening at 02:30 on the night into summer time moves to 03:30', window: fromHalfPastTwo, at: '2026-03-28T21:00:00+01:00', inside: false, sendAt: '2026-03-29T03:30:00+02:00', closes: '2026-03-29T20:00:00+02:00' },
    { name: 'a closing at 02:30 that night moves to 03:30 too', window: untilHalfPastTwo, at: '2026-03-29T01:59:59+01:00', inside: true, sendAt: '2026-03-29T01:59:59+01:00', closes: '2026-03-29T03:30:00+02:00' },
    { name: 'so 03:00 summer time is still inside that night', window: untilHalfPastTwo, at: '2026-03-29T03:00:00+02:00', inside: true, sendAt: '2026-03-29T03:00:00+02:00', closes: '2026-03-29T03:30:00+02:00' },
    // 02:00-03:00 happens twice on 25 October 2026: the side of the change the instant is on decides.
    { name: 'an opening at 02:30 seen the evening before is the first 02:30', window: fromHalfPastTwo, at: '2026-10-24T21:00:00+02:00', inside: false, sendAt: '2026-10-25T02:30:00+02:00', closes: '2026-10-25T20:00:00+01:00' },
    { name: 'the first 02:15 closes at the first 02:30', window: untilHalfPastTwo, at: '2026-10-25T02:15:00+02:00', inside: true, sendAt: '2026-10-25T02:15:00+02:00', closes: '2026-10-25T02:30:00+02:00' },
    { name: 'the second 02:15 closes at the second 02:30', window: untilHalfPastTwo, at: '2026-10-25T02:15:00+01:00', inside: true, sendAt: '2026-10-25T02:15:00+01:00', closes: '2026-10-25T02:30:00+01:00' },
    { name: 'the second 02:45 is after the close', window: untilHalfPastTwo, at: '2026-10-25T02:45:00+01:00', inside: false, sendAt: '2026-10-26T00:00:00+01:00', closes: '2026-10-26T02:30:00+01:00' },
    { name: 'the second 02:15 waits for the second 02:30 to open', window: fromHalfPastTwo, at: '2026-10-25T02:15:00+01:00', inside: false, sendAt: '2026-10-25T02:30:00+01:00', closes: '2026-10-25T20:00:00+01:00' },
  ];

  for (const row of rows) {
    it(`${row.name}: ${row.at}`, () => {
      const at = new Date(row.at);
      expect(isInsideWindow(at, row.window, zone), 'inside').to.equal(row.inside);
      expect(nextSendTime(at, row.window, zone).toISOString(), 'sends').to.equal(new Date(row.sendAt).toISOString());
      expect(windowCloses(at, row.window, zone).toISOString(), 'closes').to.equal(new Date(row.closes).toISOString());
    });
  }
});
