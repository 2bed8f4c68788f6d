import { expect } from 'chai';
import { parseCalendarDate, type CalendarDate } from '../../src/domain/calendar-date.js';
import { fitsOneSegment, gsm7Septets } from '../../src/domain/gsm7.js';
import {
  createTexts,
  DEFAULT_TEXT_SETTINGS,
  longestSmsTexts,
  MAX_BRANCH_LENGTH,
  MAX_LIBRARY_NAME_LENGTH,
  textSettingsProblem,
  type ReminderEmailLoan,
  type TextSettings,
  type Texts,
} from '../../src/domain/reply-text.js';

const texts = createTexts(DEFAULT_TEXT_SETTINGS);
const counts = Array.from({ length: 1000 }, (_, count) => count);

/** Every date of a common year and of a leap year, so every month's longest date is among them. */
const dates = ['2026', '2028'].flatMap((year) => {
  const days: CalendarDate[] = [];
  for (let day = new Date(`${year}-01-01T00:00:00Z`); day.getUTCFullYear() === Number(year); day.setUTCDate(day.getUTCDate() + 1)) {
    days.push(parseCalendarDate(day.toISOString().slice(0, 10)));
  }
  return days;
});
// "30. september" is the longest Danish date; it must be among those tried.
const longestDate = parseCalendarDate('2026-09-30');

/** The longest LIBRARY_NAME configuration allows, in letters that are GSM-7 (æøå count one septet each). */
const longestName = 'Æ'.repeat(MAX_LIBRARY_NAME_LENGTH);

/** Every template, at every count up to 999 and every date of two years: what a library with these settings can send. */
function everySms(t: Texts): { name: string; texts: string[] }[] {
  return [
    {
      name: 'renew-all replies, every count up to 999 renewed, refused, provisional or not',
      texts: counts.flatMap((total) =>
        [0, Math.floor(total / 2), Math.max(total - 1, 0), total].flatMap((renewed) => [
          t.renewAllReply({ renewed, total, provisional: 0 }),
          t.renewAllReply({ renewed, total, provisional: renewed }),
        ]),
      ),
    },
    { name: 'the renew-all give-up', texts: [t.renewAllGaveUp()] },
    {
      name: 'the renew-all give-up after some loans were renewed, every count up to 999',
      texts: counts.flatMap((total) => [1, Math.floor(total / 2), Math.max(total - 1, 0), total].filter((renewed) => renewed > 0).map((renewed) => t.renewAllGaveUp({ renewed, total }))),
    },
    { name: 'reminders, every count up to 999 with the longest date, and every date with 999 loans', texts: [...counts.map((count) => t.reminderSms(count, longestDate)), ...dates.map((date) => t.reminderSms(999, date))] },
    { name: 'interlibrary refusal notices for every date, due ahead and overdue', texts: dates.flatMap((date) => [t.illRefusedNotice(date, parseCalendarDate('2026-01-01')), t.illRefusedNotice(date, parseCalendarDate('2029-01-01'))]) },
    { name: 'interlibrary recall notices for every date', texts: dates.map((date) => t.illRecalledNotice(date)) },
    { name: 'the help text', texts: [t.helpReply()] },
    { name: 'the answer to a number that belongs to no patron', texts: [t.unknownNumberReply()] },
    { name: 'the STOP confirmation', texts: [t.stopConfirmation()] },
    { name: 'the START confirmation', texts: [t.startConfirmation()] },
    {
      name: 'notices from the library system: overdue and recall for every count and date, reservations with titles and branches of every length',
      texts: [
        ...counts.flatMap((count) => {
          const loans = Array.from({ length: count + 1 }, (_, index) => ({ itemId: `i${index}`, title: 'T', dueDate: index % 2 === 0 ? longestDate : parseCalendarDate('2026-12-01') }));
          return [t.noticeSms({ kind: 'overdue', loans, reservation: null }), t.noticeSms({ kind: 'recall', loans, reservation: null })];
        }),
        ...dates.map((date) => t.noticeSms({ kind: 'recall', loans: [{ itemId: 'i', title: 'T', dueDate: date }, { itemId: 'j', title: 'T', dueDate: parseCalendarDate('2029-01-01') }], reservation: null })),
        ...[1, 20, 80, 200, 1000].flatMap((titleLength) =>
          [1, 30, MAX_BRANCH_LENGTH].map((branchLength) =>
            t.noticeSms({ kind: 'reservation_ready', loans: [], reservation: { title: 'ø'.repeat(titleLength), pickupBranch: 'Å'.repeat(branchLength), pickupBy: longestDate } }),
          ),
        ),
      ],
    },
  ];
}

describe('SMS templates', () => {
  const libraries: { name: string; settings: TextSettings }[] = [
    { name: 'the defaults', settings: DEFAULT_TEXT_SETTINGS },
    { name: 'the longest allowed LIBRARY_NAME', settings: { ...DEFAULT_TEXT_SETTINGS, libraryName: longestName } },
  ];
  for (const library of libraries) {
    for (const row of everySms(createTexts(library.settings))) {
      it(`${library.name}, ${row.name}: one GSM-7 segment, starting with the library's name`, () => {
        expect(row.texts).to.have.length.above(0);
        for (const text of row.texts) {
          const septets = gsm7Septets(text);
          expect(septets, `GSM-7 only: ${text}`).to.not.equal(null);
          expect(septets, `at most 160 septets: ${text}`).to.be.at.most(160);
          expect(text.startsWith(`${library.settings.libraryName}: `), `sender first: ${text}`).to.equal(true);
        }
      });
    }
  }

  it('longestSmsTexts holds the longest text of every template', () => {
    const longest = createTexts({ ...DEFAULT_TEXT_SETTINGS, libraryName: longestName });
    const mostSeptets = Math.max(...everySms(longest).flatMap((row) => row.texts.map((text) => gsm7Septets(text) ?? Infinity)));
    expect(Math.max(...longestSmsTexts(longest).map((text) => gsm7Septets(text) ?? Infinity))).to.equal(mostSeptets);
  });
});

describe('textSettingsProblem', () => {
  const rows: { name: string; settings: TextSettings; problem: RegExp | null }[] = [
    { name: 'the defaults fit', settings: DEFAULT_TEXT_SETTINGS, problem: null },
    { name: 'a 40-character name fits', settings: { ...DEFAULT_TEXT_SETTINGS, libraryName: longestName }, problem: null },
    { name: 'a name with a character outside GSM-7', settings: { ...DEFAULT_TEXT_SETTINGS, libraryName: 'Łódź Biblioteka' }, problem: /GSM-7 alphabet/ },
    { name: 'a name of 60 characters', settings: { ...DEFAULT_TEXT_SETTINGS, libraryName: 'x'.repeat(60) }, problem: /septets/ },
    { name: 'a 40-character name with a long site', settings: { ...DEFAULT_TEXT_SETTINGS, libraryName: longestName, site: 'bibliotek.example-kommune.dk/laan' }, problem: /septets/ },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const problem = textSettingsProblem(row.settings);
      if (row.problem === null) expect(problem).to.equal(null);
      else expect(problem).to.match(row.problem);
    });
  }
});

describe('the texts of one library', () => {
  const other = createTexts({ libraryName: 'Roskilde Bibliotekerne', site: 'roskildebib.dk', keyword: 'RB', smsFrom: '1919' });
  const rows: { name: string; text: () => string; contains: string[]; excludes?: string[] }[] = [
    { name: 'the SPEC example, word for word', text: () => texts.renewAllReply({ renewed: 2, total: 5, provisional: 0 }), contains: ['Helsingør Kommunes Biblioteker: 2 af 5 lån er fornyet. Se på helsbib.dk hvilke der ikke kunne fornyes.'] },
    { name: 'a reminder names the count, the date, the keyword and the number', text: () => texts.reminderSms(3, parseCalendarDate('2026-12-03')), contains: ['3 lån', '3. december', 'HBK FORNY ALLE til 1910'] },
    { name: 'help invites the keyword at the number and points to the site', text: () => texts.helpReply(), contains: ['HBK FORNY ALLE til 1910', 'START tilmelder dig igen', 'Se på helsbib.dk.'] },
    { name: 'STOP confirmation names START and the number', text: () => texts.stopConfirmation(), contains: ['Skriv START til 1910 for at tilmelde dig igen'] },
    { name: 'START confirmation: "for at afmelde dig"', text: () => texts.startConfirmation(), contains: ['Skriv STOP til 1910 for at afmelde dig.'] },
    { name: 'the give-up says nothing was renewed, to try again later or on the site', text: () => texts.renewAllGaveUp(), contains: ['ikke forny dine lån', 'Prøv igen senere', 'HBK FORNY ALLE til 1910', 'forny på helsbib.dk'] },
    { name: 'the give-up with none renewed says nothing was renewed', text: () => texts.renewAllGaveUp({ renewed: 0, total: 3 }), contains: [texts.renewAllGaveUp()] },
    {
      name: 'the give-up after a partial renewal counts it and says the rest could not be renewed now',
      text: () => texts.renewAllGaveUp({ renewed: 1, total: 3 }),
      contains: ['Helsingør Kommunes Biblioteker: 1 af 3 lån er fornyet. Resten kunne ikke fornys lige nu. Prøv igen senere, eller forny på helsbib.dk.'],
    },
    { name: 'the give-up after every loan was renewed says so', text: () => texts.renewAllGaveUp({ renewed: 3, total: 3 }), contains: ['3 af 3 lån er fornyet.'], excludes: ['Resten', 'ikke forny'] },
    { name: 'a refusal due ahead names the restored date', text: () => texts.illRefusedNotice(parseCalendarDate('2026-12-03'), parseCalendarDate('2026-12-01')), contains: ['afviste', 'senest 3. december', 'Se på helsbib.dk.'] },
    { name: 'a refusal due today still names the date', text: () => texts.illRefusedNotice(parseCalendarDate('2026-12-01'), parseCalendarDate('2026-12-01')), contains: ['senest 1. december'] },
    { name: 'a refusal whose restored date has passed asks for the loan at once', text: () => texts.illRefusedNotice(parseCalendarDate('2026-11-28'), parseCalendarDate('2026-12-01')), contains: ['overskredet', 'aflever det straks'], excludes: ['senest', '28. november'] },
    { name: 'a recall names the new due date', text: () => texts.illRecalledNotice(parseCalendarDate('2026-12-10')), contains: ['kaldt et fjernlån hjem', 'senest 10. december', 'Se på helsbib.dk.'] },
    { name: 'another library: its name, site, keyword and number', text: () => other.helpReply(), contains: ['Roskilde Bibliotekerne: ', 'RB FORNY ALLE til 1919', 'Se på roskildebib.dk.'], excludes: ['HBK', 'helsbib', '1910'] },
    { name: 'another library: the renew-all reply points to its site', text: () => other.renewAllReply({ renewed: 1, total: 2, provisional: 0 }), contains: ['Roskilde Bibliotekerne: 1 af 2 lån', 'Se på roskildebib.dk'] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const text = row.text();
      for (const part of row.contains) expect(text).to.contain(part);
      for (const part of row.excludes ?? []) expect(text).to.not.contain(part);
    });
  }

  it('no text says "Se helsbib.dk" or "Bibliotekerne" (one wording, the library\'s own name)', () => {
    for (const text of longestSmsTexts(texts)) {
      expect(text).to.not.match(/Se helsbib|Bibliotekerne/);
    }
  });
});

describe('renewAllReply', () => {
  const rows: { name: string; renewed: number; total: number; provisional: number }[] = [
    { name: 'some renewed, some refused', renewed: 2, total: 5, provisional: 0 },
    { name: 'all renewed', renewed: 5, total: 5, provisional: 0 },
    { name: 'none of three renewed', renewed: 0, total: 3, provisional: 0 },
    { name: 'no active loans', renewed: 0, total: 0, provisional: 0 },
    { name: 'a single interlibrary loan renewed with reservation', renewed: 1, total: 1, provisional: 1 },
    { name: 'an interlibrary loan renewed with reservation, others refused', renewed: 1, total: 3, provisional: 1 },
    { name: 'three-digit counts, all renewed', renewed: 999, total: 999, provisional: 0 },
    { name: 'three-digit counts, one refused, some provisional', renewed: 998, total: 999, provisional: 12 },
  ];

  for (const row of rows) {
    it(`${row.name}: ${row.renewed} af ${row.total}, ${row.provisional} provisional`, () => {
      const text = texts.renewAllReply(row);
      expect(text).to.contain(`${row.renewed} af ${row.total} lån`);
      expect(text.includes('helsbib.dk'), 'points to helsbib.dk exactly when some were not renewed').to.equal(row.renewed < row.total);
      expect(/forbehold/i.test(text), 'mentions the reservation exactly when an ILL was renewed').to.equal(row.provisional > 0);
      expect(/ingen lån/i.test(text), 'says there are no loans exactly when there are none').to.equal(row.total === 0);
    });
  }
});

describe('reminderEmail', () => {
  const rows: {
    name: string;
    patron: string;
    hasMobile: boolean;
    dueDate: CalendarDate;
    loans: ReminderEmailLoan[];
    subject: string[];
    text: string[];
    html: string[];
    notInText: string[];
    notInHtml: string[];
  }[] = [
    {
      name: 'two loans to a patron with a mobile: count and date in the subject, every title, the SMS invitation',
      patron: 'Karen Blixen',
      hasMobile: true,
      dueDate: parseCalendarDate('2026-12-03'),
      loans: [
        { title: 'Babettes gæstebud', dueDate: parseCalendarDate('2026-12-03') },
        { title: 'Den afrikanske farm', dueDate: parseCalendarDate('2026-12-03') },
      ],
      subject: ['2 lån', '3. december'],
      text: ['Karen Blixen', 'Babettes gæstebud', 'Den afrikanske farm', '3. december', 'HBK FORNY ALLE til 1910', 'helsbib.dk', 'Helsingør Kommunes Biblioteker'],
      html: ['Karen Blixen', 'Babettes gæstebud', 'Den afrikanske farm', '3. december', 'HBK FORNY ALLE', 'helsbib.dk', 'Helsingør Kommunes Biblioteker'],
      notInText: [],
      notInHtml: [],
    },
    {
      name: 'a patron with no mobile on file is not invited to send an SMS',
      patron: 'Herman Bang',
      hasMobile: false,
      dueDate: parseCalendarDate('2026-12-03'),
      loans: [{ title: 'Stuk', dueDate: parseCalendarDate('2026-12-03') }],
      subject: ['1 lån'],
      text: ['Du kan forny dem på helsbib.dk.'],
      html: ['helsbib.dk'],
      notInText: ['FORNY ALLE', '1910', 'sende'],
      notInHtml: ['FORNY ALLE', '1910', 'sende'],
    },
    {
      name: 'a title carrying markup is escaped in the html part, shown as written in the text part',
      patron: 'Ole <b>Olsen</b>',
      hasMobile: true,
      dueDate: parseCalendarDate('2026-09-30'),
      loans: [
        { title: '<script>alert(1)</script>', dueDate: parseCalendarDate('2026-09-30') },
        { title: 'Tom & Jerry "Klassikere"', dueDate: parseCalendarDate('2026-09-30') },
      ],
      subject: ['2 lån', '30. september'],
      text: ['<script>alert(1)</script>', 'Tom & Jerry "Klassikere"', '30. september'],
      html: ['&lt;script&gt;alert(1)&lt;/script&gt;', 'Tom &amp; Jerry &quot;Klassikere&quot;', 'Ole &lt;b&gt;Olsen&lt;/b&gt;', '30. september'],
      notInText: [],
      notInHtml: ['<script>', '<b>Olsen', 'Tom & Jerry'],
    },
  ];

  for (const row of rows) {
    it(row.name, () => {
      const email = texts.reminderEmail(row.patron, row.dueDate, row.loans, { hasMobile: row.hasMobile });
      for (const part of row.subject) expect(email.subject).to.contain(part);
      for (const part of row.text) expect(email.text).to.contain(part);
      for (const part of row.html) expect(email.html).to.contain(part);
      for (const part of row.notInText) expect(email.text).to.not.contain(part);
      for (const part of row.notInHtml) expect(email.html).to.not.contain(part);
    });
  }
});

describe('gsm7Septets', () => {
  const rows: { name: string; text: string; expected: number | null }[] = [
    { name: 'an empty text', text: '', expected: 0 },
    { name: 'plain ASCII letters', text: 'abc', expected: 3 },
    { name: 'æ ø å Æ Ø Å are in the alphabet', text: 'æøåÆØÅ', expected: 6 },
    { name: 'the library\'s name', text: 'Helsingør Kommunes Biblioteker', expected: 30 },
    { name: 'a newline is one septet', text: 'a\nb', expected: 3 },
    { name: '€ costs two', text: '€', expected: 2 },
    { name: 'square brackets cost two each', text: '[]', expected: 4 },
    { name: 'braces cost two each', text: '{}', expected: 4 },
    { name: 'tilde, caret, backslash and bar cost two each', text: '~^\\|', expected: 8 },
    { name: 'a price in euro', text: 'Gebyr 10€', expected: 10 },
    { name: 'an emoji is not GSM-7', text: 'Tak 👍', expected: null },
    { name: 'Polish ł is not GSM-7', text: 'Łódź', expected: null },
    { name: 'ł alone is not GSM-7', text: 'ł', expected: null },
    { name: 'Cyrillic is not GSM-7', text: 'Привет', expected: null },
    { name: 'à is GSM-7 but á is not', text: 'á', expected: null },
    { name: 'a backtick is not GSM-7', text: '`', expected: null },
    { name: 'a typographic quote is not GSM-7', text: '“', expected: null },
  ];

  for (const row of rows) {
    it(`${row.name}: ${JSON.stringify(row.text)} → ${row.expected}`, () => {
      expect(gsm7Septets(row.text)).to.equal(row.expected);
    });
  }
});

describe('fitsOneSegment', () => {
  const rows: { name: string; text: string; expected: boolean }[] = [
    { name: '160 plain characters fit', text: 'a'.repeat(160), expected: true },
    { name: '161 plain characters do not', text: 'a'.repeat(161), expected: false },
    { name: '160 æ fit', text: 'æ'.repeat(160), expected: true },
    { name: '80 € fit (160 septets)', text: '€'.repeat(80), expected: true },
    { name: '81 € do not (162 septets)', text: '€'.repeat(81), expected: false },
    { name: '159 characters and a € do not (161 septets)', text: `${'a'.repeat(159)}€`, expected: false },
    { name: 'a short text with an emoji does not (it would go as UCS-2)', text: 'Tak 👍', expected: false },
  ];

  for (const row of rows) {
    it(row.name, () => {
      expect(fitsOneSegment(row.text)).to.equal(row.expected);
    });
  }
});
