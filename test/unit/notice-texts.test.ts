import { expect } from 'chai';
import { parseCalendarDate } from '../../src/domain/calendar-date.js';
import { fitsOneSegment, gsm7Septets, shortenToSeptets, toGsm7 } from '../../src/domain/gsm7.js';
import type { NoticeContent } from '../../src/domain/notice.js';
import { createTexts, DEFAULT_TEXT_SETTINGS, longestNotices, longestSmsTexts, MAX_BRANCH_LENGTH, MAX_LIBRARY_NAME_LENGTH, textSettingsProblem } from '../../src/domain/reply-text.js';

const longestName = 'Æ'.repeat(MAX_LIBRARY_NAME_LENGTH);
const libraries = [
  { name: 'default settings', texts: createTexts(DEFAULT_TEXT_SETTINGS) },
  { name: 'the longest LIBRARY_NAME', texts: createTexts({ ...DEFAULT_TEXT_SETTINGS, libraryName: longestName }) },
  { name: 'the longest name, a long site and keyword', texts: createTexts({ libraryName: longestName, site: 'bib.kommune.dk', keyword: 'HBK', smsFrom: '1910' }) },
];

const loan = (dueDate: string, title = 'Babettes gæstebud') => ({ itemId: 'i1', title, dueDate: parseCalendarDate(dueDate) });
const reservation = (title: string, pickupBranch: string) =>
  ({ kind: 'reservation_ready', loans: [], reservation: { title, pickupBranch, pickupBy: parseCalendarDate('2026-09-30') } }) as const satisfies NoticeContent;

describe('notice SMS (SPEC §11)', () => {
  const rows: { name: string; notice: NoticeContent; expected: string }[] = [
    { name: 'reminder: count and earliest due date, inviting the keyword', notice: { kind: 'reminder', loans: [loan('2026-12-05'), loan('2026-12-04')], reservation: null }, expected: 'Helsingør Kommunes Biblioteker: 2 lån skal afleveres senest 4. december. Svar HBK FORNY ALLE til 1910 for at forny.' },
    { name: 'overdue', notice: { kind: 'overdue', loans: [loan('2026-11-20')], reservation: null }, expected: 'Helsingør Kommunes Biblioteker: 1 lån har overskredet afleveringsfristen. Aflever det snarest, eller forny det på helsbib.dk.' },
    { name: 'recall, one new due date', notice: { kind: 'recall', loans: [loan('2026-12-10'), loan('2026-12-10')], reservation: null }, expected: 'Helsingør Kommunes Biblioteker: Biblioteket har kaldt 2 lån hjem. De skal afleveres senest 10. december. Se på helsbib.dk.' },
    { name: 'recall, several dates: the first', notice: { kind: 'recall', loans: [loan('2026-12-12'), loan('2026-12-10')], reservation: null }, expected: 'Helsingør Kommunes Biblioteker: Biblioteket har kaldt 2 lån hjem. Det første skal afleveres senest 10. december. Se på helsbib.dk.' },
    { name: 'reservation, short title whole', notice: reservation('Gift', 'Helsingør Bibliotek'), expected: 'Helsingør Kommunes Biblioteker: "Gift" er klar til afhentning på Helsingør Bibliotek. Hent senest 30. september.' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(createTexts(DEFAULT_TEXT_SETTINGS).noticeSms(row.notice)).to.equal(row.expected);
    });
  }

  for (const library of libraries) {
    for (const notice of longestNotices()) {
      it(`${library.name}, ${notice.kind} at its longest: one GSM-7 segment`, () => {
        const text = library.texts.noticeSms(notice);
        expect(fitsOneSegment(text), text).to.equal(true);
        expect(text.startsWith(`${library.texts.sender}: `)).to.equal(true);
      });
    }
    for (const length of [1, 50, 100, 120, 200, 1000]) {
      it(`${library.name}, a reservation with a ${length}-character title and a long branch: one segment, the branch whole`, () => {
        const branch = 'Hovedbiblioteket Kulturværftet, Allégade 2';
        const text = library.texts.noticeSms(reservation('Ø'.repeat(length), branch));
        expect(fitsOneSegment(text), text).to.equal(true);
        expect(text).to.contain(`på ${branch}.`);
        if (length > 60) expect(text).to.contain('..."');
      });
    }
  }

  it('a title with characters outside GSM-7 is written with look-alikes, never as UCS-2', () => {
    const text = createTexts(DEFAULT_TEXT_SETTINGS).noticeSms(reservation('“Ærø” – Ólafur’s saga… 日本', 'Espergærde'));
    expect(text).to.contain('"Ærø" - Olafur\'s saga... ??"');
    expect(gsm7Septets(text)).to.be.a('number');
  });

  it('the branch is shortened too when even a short title would not fit beside it', () => {
    const text = createTexts({ ...DEFAULT_TEXT_SETTINGS, libraryName: longestName }).noticeSms(reservation('Gift', 'Ø'.repeat(MAX_BRANCH_LENGTH)));
    expect(fitsOneSegment(text), text).to.equal(true);
    expect(text).to.contain('"Gift"');
  });

  it('configuration checks the notice templates too (longestSmsTexts holds each kind at its longest)', () => {
    const longest = longestSmsTexts(createTexts(DEFAULT_TEXT_SETTINGS));
    for (const notice of longestNotices()) expect(longest).to.include(createTexts(DEFAULT_TEXT_SETTINGS).noticeSms(notice));
    expect(textSettingsProblem({ ...DEFAULT_TEXT_SETTINGS, libraryName: longestName })).to.equal(null);
  });
});

describe('notice e-mails', () => {
  const texts = createTexts(DEFAULT_TEXT_SETTINGS);
  it('an overdue e-mail lists every loan with its date', () => {
    const mail = texts.noticeEmail('Karen', { kind: 'overdue', loans: [loan('2026-11-20', 'Gift'), loan('2026-11-21', 'Kongens fald')], reservation: null }, { hasMobile: true });
    expect(mail.subject).to.equal('Overskredet afleveringsfrist: 2 lån');
    expect(mail.text).to.contain('- Gift (skulle være afleveret 20. november)');
    expect(mail.text).to.contain('- Kongens fald (skulle være afleveret 21. november)');
    expect(mail.text).to.contain('HBK FORNY ALLE til 1910');
    expect(mail.html).to.contain('<li>Kongens fald');
  });
  it('an e-mail to a patron with no mobile does not invite an SMS', () => {
    const mail = texts.noticeEmail('Karen', { kind: 'overdue', loans: [loan('2026-11-20')], reservation: null }, { hasMobile: false });
    expect(mail.text).not.to.contain('FORNY ALLE');
  });
  it('a recall lists each new due date', () => {
    const mail = texts.noticeEmail('Karen', { kind: 'recall', loans: [loan('2026-12-10', 'A'), loan('2026-12-12', 'B')], reservation: null }, { hasMobile: true });
    expect(mail.text).to.contain('- A (afleveres senest 10. december)');
    expect(mail.text).to.contain('- B (afleveres senest 12. december)');
  });
  it('a reservation names the whole title, the branch and the last day; HTML escaped', () => {
    const mail = texts.noticeEmail('Karen', reservation('<Gift> & mere', 'Espergærde'), { hasMobile: true });
    expect(mail.subject).to.equal('Din reservering er klar: <Gift> & mere');
    expect(mail.text).to.contain('- <Gift> & mere (på Espergærde)');
    expect(mail.text).to.contain('Hent den senest 30. september');
    expect(mail.html).to.contain('&lt;Gift&gt; &amp; mere');
  });
});

describe('toGsm7 and shortenToSeptets', () => {
  const rows: [string, string][] = [
    ['Babettes gæstebud', 'Babettes gæstebud'],
    ['“quoted” ‘single’', '"quoted" \'single\''],
    ['a – b — c', 'a - b - c'],
    ['wait…', 'wait...'],
    ['Ólafur Ragnar Grímsson', 'Olafur Ragnar Grimsson'],
    ['日本', '??'],
    ['  spaced\tout  ', 'spaced out'],
  ];
  for (const [input, expected] of rows) {
    it(`toGsm7(${JSON.stringify(input)}) → ${JSON.stringify(expected)}`, () => expect(toGsm7(input)).to.equal(expected));
  }
  it('keeps text that fits and cuts what does not, ending in ...', () => {
    expect(shortenToSeptets('abc', 3)).to.equal('abc');
    expect(shortenToSeptets('abcdef', 5)).to.equal('ab...');
    expect(shortenToSeptets('ab defg', 6)).to.equal('ab...');
    expect(shortenToSeptets('€€€€', 6)).to.equal('€...');
    expect(shortenToSeptets('abcdef', 3)).to.equal(null);
  });
});
