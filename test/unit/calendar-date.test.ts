import { expect } from 'chai';
import { addDays, compareDates, danishDate, dateIn, isCalendarDate, parseCalendarDate } from '../../src/domain/calendar-date.js';

describe('isCalendarDate', () => {
  const rows: { text: string; expected: boolean; why?: string }[] = [
    { text: '2026-12-03', expected: true },
    { text: '2026-02-28', expected: true },
    { text: '2026-02-29', expected: false, why: '2026 is not a leap year' },
    { text: '2028-02-29', expected: true, why: '2028 is a leap year' },
    { text: '2100-02-29', expected: false, why: 'a century is not a leap year' },
    { text: '2000-02-29', expected: true, why: 'unless divisible by 400' },
    { text: '2026-02-30', expected: false },
    { text: '2026-04-31', expected: false, why: 'April has 30 days' },
    { text: '2026-13-01', expected: false },
    { text: '2026-00-10', expected: false },
    { text: '2026-12-00', expected: false },
    { text: '2026-1-1', expected: false, why: 'two-digit month and day only' },
    { text: '03-12-2026', expected: false, why: 'the Danish written order is not accepted' },
    { text: '2026-12-03T00:00:00Z', expected: false, why: 'an instant is not a date' },
    { text: ' 2026-12-03', expected: false },
    { text: '', expected: false },
  ];

  for (const row of rows) {
    it(`${JSON.stringify(row.text)} → ${row.expected}${row.why ? ` (${row.why})` : ''}`, () => {
      expect(isCalendarDate(row.text)).to.equal(row.expected);
    });
  }
});

describe('parseCalendarDate', () => {
  it('gives back a real date as written', () => {
    expect(parseCalendarDate('2028-02-29')).to.equal('2028-02-29');
  });

  for (const text of ['2026-02-29', '2026-1-1', '2026-12-03T00:00:00Z', ' 2026-12-03', '']) {
    it(`refuses ${JSON.stringify(text)} with a RangeError that names it`, () => {
      expect(() => parseCalendarDate(text)).to.throw(RangeError, `not a calendar date: ${JSON.stringify(text)}`);
    });
  }
});

describe('addDays', () => {
  const rows: { name: string; date: string; days: number; expected: string }[] = [
    { name: 'no days', date: '2026-12-03', days: 0, expected: '2026-12-03' },
    { name: 'within a month', date: '2026-12-03', days: 7, expected: '2026-12-10' },
    { name: 'into the next month', date: '2026-01-31', days: 1, expected: '2026-02-01' },
    { name: 'into the next year', date: '2026-12-31', days: 1, expected: '2027-01-01' },
    { name: 'a 30-day period across the year end', date: '2026-12-03', days: 30, expected: '2027-01-02' },
    { name: 'a 30-day period from 28 December', date: '2026-12-28', days: 30, expected: '2027-01-27' },
    { name: 'onto a leap day', date: '2028-02-28', days: 1, expected: '2028-02-29' },
    { name: 'past February in a common year', date: '2027-02-28', days: 1, expected: '2027-03-01' },
    { name: 'back across a leap day', date: '2028-03-01', days: -1, expected: '2028-02-29' },
    { name: 'seven days back across February', date: '2026-03-05', days: -7, expected: '2026-02-26' },
    { name: 'back into the previous year', date: '2027-01-03', days: -7, expected: '2026-12-27' },
    // Days, not 24-hour steps: the 23- and 25-hour days of daylight saving change nothing.
    { name: 'over the start of summer time', date: '2026-03-28', days: 2, expected: '2026-03-30' },
    { name: 'over the end of summer time', date: '2026-10-24', days: 2, expected: '2026-10-26' },
  ];

  for (const row of rows) {
    it(`${row.name}: ${row.date} ${row.days >= 0 ? '+' : '−'} ${Math.abs(row.days)} → ${row.expected}`, () => {
      expect(addDays(parseCalendarDate(row.date), row.days)).to.equal(row.expected);
    });
  }

  it('cannot be given a date that does not exist: its parser refuses it instead of rolling it over', () => {
    expect(() => parseCalendarDate('2026-02-30')).to.throw(RangeError, /2026-02-30/);
  });
});

describe('compareDates', () => {
  const rows: { name: string; a: string; b: string; expected: 'before' | 'same' | 'after' }[] = [
    { name: 'the day before', a: '2026-12-03', b: '2026-12-04', expected: 'before' },
    { name: 'the same day', a: '2026-12-03', b: '2026-12-03', expected: 'same' },
    { name: 'New Year’s Day after New Year’s Eve', a: '2027-01-01', b: '2026-12-31', expected: 'after' },
    { name: '1 October after 30 September', a: '2026-10-01', b: '2026-09-30', expected: 'after' },
    { name: 'February before December', a: '2026-02-28', b: '2026-12-01', expected: 'before' },
  ];

  for (const row of rows) {
    it(`${row.name}: ${row.a} is ${row.expected} ${row.b}`, () => {
      const sign = Math.sign(compareDates(parseCalendarDate(row.a), parseCalendarDate(row.b)));
      expect(sign).to.equal({ before: -1, same: 0, after: 1 }[row.expected]);
    });
  }
});

describe('dateIn', () => {
  const rows: { name: string; instant: string; zone: string; expected: string }[] = [
    { name: '23:30Z in winter is already the next day in Copenhagen', instant: '2026-12-03T23:30:00Z', zone: 'Europe/Copenhagen', expected: '2026-12-04' },
    { name: '22:59Z in winter is still the same day', instant: '2026-12-03T22:59:59Z', zone: 'Europe/Copenhagen', expected: '2026-12-03' },
    { name: '22:30Z in summer is already the next day', instant: '2026-07-15T22:30:00Z', zone: 'Europe/Copenhagen', expected: '2026-07-16' },
    { name: '21:59Z in summer is still the same day', instant: '2026-07-15T21:59:59Z', zone: 'Europe/Copenhagen', expected: '2026-07-15' },
    { name: '23:00Z on New Year’s Eve is New Year’s Day', instant: '2026-12-31T23:00:00Z', zone: 'Europe/Copenhagen', expected: '2027-01-01' },
    { name: 'the same instant in UTC is still New Year’s Eve', instant: '2026-12-31T23:00:00Z', zone: 'UTC', expected: '2026-12-31' },
  ];

  for (const row of rows) {
    it(row.name, () => {
      expect(dateIn(new Date(row.instant), row.zone)).to.equal(row.expected);
    });
  }
});

describe('danishDate', () => {
  const rows: { date: string; expected: string }[] = [
    { date: '2026-01-01', expected: '1. januar' },
    { date: '2026-02-28', expected: '28. februar' },
    { date: '2026-03-15', expected: '15. marts' },
    { date: '2026-04-09', expected: '9. april' },
    { date: '2026-05-31', expected: '31. maj' },
    { date: '2026-06-05', expected: '5. juni' },
    { date: '2026-07-14', expected: '14. juli' },
    { date: '2026-08-20', expected: '20. august' },
    { date: '2026-09-30', expected: '30. september' },
    { date: '2026-10-01', expected: '1. oktober' },
    { date: '2026-11-11', expected: '11. november' },
    { date: '2026-12-03', expected: '3. december' },
  ];

  for (const row of rows) {
    it(`${row.date} → ${row.expected}`, () => {
      expect(danishDate(parseCalendarDate(row.date))).to.equal(row.expected);
    });
  }
});
