import { expect } from 'chai';
import { fitsOneSegment, gsm7Septets } from '../../src/domain/gsm7.js';
import {
  helpReply,
  illRecalledNotice,
  illRefusedNotice,
  reminderEmail,
  reminderSms,
  renewAllReply,
  SENDER_NAME,
  startConfirmation,
  stopConfirmation,
  unknownNumberReply,
  type ReminderEmailLoan,
} from '../../src/domain/reply-text.js';

const counts = Array.from({ length: 1000 }, (_, count) => count);

/** Every date of a common year and of a leap year, so every month's longest date is among them. */
const dates = ['2026', '2028'].flatMap((year) => {
  const days: string[] = [];
  for (let day = new Date(`${year}-01-01T00:00:00Z`); day.getUTCFullYear() === Number(year); day.setUTCDate(day.getUTCDate() + 1)) {
    days.push(day.toISOString().slice(0, 10));
  }
  return days;
});
// "30. september" is the longest Danish date; it must be among those tried.
const longestDate = '2026-09-30';

describe('SMS templates', () => {
  const rows: { name: string; texts: () => string[] }[] = [
    {
      name: 'renew-all replies, every count up to 999 renewed, refused, provisional or not',
      texts: () =>
        counts.flatMap((total) =>
          [0, Math.floor(total / 2), Math.max(total - 1, 0), total].flatMap((renewed) => [
            renewAllReply({ renewed, total, provisional: 0 }),
            renewAllReply({ renewed, total, provisional: renewed }),
          ]),
        ),
    },
    {
      name: 'reminders, every count up to 999 with the longest date, and every date with 999 loans',
      texts: () => [...counts.map((count) => reminderSms(count, longestDate)), ...dates.map((date) => reminderSms(999, date))],
    },
    { name: 'interlibrary refusal notices for every date', texts: () => dates.map((date) => illRefusedNotice(date)) },
    { name: 'interlibrary recall notices for every date', texts: () => dates.map((date) => illRecalledNotice(date)) },
    { name: 'the help text', texts: () => [helpReply()] },
    { name: 'the answer to a number that belongs to no patron', texts: () => [unknownNumberReply()] },
    { name: 'the STOP confirmation', texts: () => [stopConfirmation()] },
    { name: 'the START confirmation', texts: () => [startConfirmation()] },
  ];

  for (const row of rows) {
    it(`${row.name}: one GSM-7 segment, starting with the sender's name`, () => {
      const texts = row.texts();
      expect(texts).to.have.length.above(0);
      for (const text of texts) {
        const septets = gsm7Septets(text);
        expect(septets, `GSM-7 only: ${text}`).to.not.equal(null);
        expect(septets, `at most 160 septets: ${text}`).to.be.at.most(160);
        expect(text.startsWith(`${SENDER_NAME}: `), `sender first: ${text}`).to.equal(true);
      }
    });
  }
});

describe('renewAllReply', () => {
  it('words the example of the SPEC exactly', () => {
    expect(renewAllReply({ renewed: 2, total: 5, provisional: 0 })).to.equal(
      'Helsingør Bibliotekerne: 2 af 5 lån er fornyet. Se på helsbib.dk hvilke der ikke kunne fornyes.',
    );
  });

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
      const text = renewAllReply(row);
      expect(text).to.contain(`${row.renewed} af ${row.total} lån`);
      expect(text.includes('helsbib.dk'), 'points to helsbib.dk exactly when some were not renewed').to.equal(row.renewed < row.total);
      expect(/forbehold/i.test(text), 'mentions the reservation exactly when an ILL was renewed').to.equal(row.provisional > 0);
      expect(/ingen lån/i.test(text), 'says there are no loans exactly when there are none').to.equal(row.total === 0);
    });
  }
});

describe('reminderSms and the interlibrary notices', () => {
  const rows: { name: string; text: () => string; contains: string[] }[] = [
    { name: 'a reminder names the count, the date and the command', text: () => reminderSms(3, '2026-12-03'), contains: ['3 lån', '3. december', 'HBK FORNY ALLE'] },
    { name: 'a reminder for one loan', text: () => reminderSms(1, '2027-01-01'), contains: ['1 lån', '1. januar', 'HBK FORNY ALLE'] },
    { name: 'a refused interlibrary renewal names the restored due date', text: () => illRefusedNotice('2026-12-03'), contains: ['fjernlån', '3. december'] },
    { name: 'a recalled interlibrary loan names the new due date', text: () => illRecalledNotice('2026-11-28'), contains: ['fjernlån', '28. november'] },
  ];

  for (const row of rows) {
    it(row.name, () => {
      const text = row.text();
      for (const part of row.contains) expect(text).to.contain(part);
    });
  }
});

describe('reminderEmail', () => {
  const rows: {
    name: string;
    patron: string;
    dueDate: string;
    loans: ReminderEmailLoan[];
    subject: string[];
    text: string[];
    html: string[];
    notInHtml: string[];
  }[] = [
    {
      name: 'two loans: count and Danish date in the subject, every title with its date in both parts',
      patron: 'Karen Blixen',
      dueDate: '2026-12-03',
      loans: [
        { title: 'Babettes gæstebud', dueDate: '2026-12-03' },
        { title: 'Den afrikanske farm', dueDate: '2026-12-03' },
      ],
      subject: ['2 lån', '3. december'],
      text: ['Karen Blixen', 'Babettes gæstebud', 'Den afrikanske farm', '3. december', 'HBK FORNY ALLE', 'helsbib.dk'],
      html: ['Karen Blixen', 'Babettes gæstebud', 'Den afrikanske farm', '3. december', 'HBK FORNY ALLE', 'helsbib.dk'],
      notInHtml: [],
    },
    {
      name: 'a title carrying markup is escaped in the html part, shown as written in the text part',
      patron: 'Ole <b>Olsen</b>',
      dueDate: '2026-09-30',
      loans: [
        { title: '<script>alert(1)</script>', dueDate: '2026-09-30' },
        { title: 'Tom & Jerry "Klassikere"', dueDate: '2026-09-30' },
      ],
      subject: ['2 lån', '30. september'],
      text: ['<script>alert(1)</script>', 'Tom & Jerry "Klassikere"', '30. september'],
      html: ['&lt;script&gt;alert(1)&lt;/script&gt;', 'Tom &amp; Jerry &quot;Klassikere&quot;', 'Ole &lt;b&gt;Olsen&lt;/b&gt;', '30. september'],
      notInHtml: ['<script>', '<b>Olsen', 'Tom & Jerry'],
    },
  ];

  for (const row of rows) {
    it(row.name, () => {
      const email = reminderEmail(row.patron, row.dueDate, row.loans);
      for (const part of row.subject) expect(email.subject).to.contain(part);
      for (const part of row.text) expect(email.text).to.contain(part);
      for (const part of row.html) expect(email.html).to.contain(part);
      for (const part of row.notInHtml) expect(email.html).to.not.contain(part);
    });
  }
});

describe('gsm7Septets', () => {
  const rows: { name: string; text: string; expected: number | null }[] = [
    { name: 'an empty text', text: '', expected: 0 },
    { name: 'plain ASCII letters', text: 'abc', expected: 3 },
    { name: 'æ ø å Æ Ø Å are in the alphabet', text: 'æøåÆØÅ', expected: 6 },
    { name: 'the sender name', text: 'Helsingør Bibliotekerne', expected: 23 },
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
