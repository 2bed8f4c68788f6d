import { expect } from 'chai';
import fc from 'fast-check';
import { COMMANDS, DEFAULT_KEYWORDS, normaliseBody, parseCommand, type Command } from '../../src/domain/sms-command.js';

describe('parseCommand', () => {
  const rows: { name: string; body: string; expected: Command }[] = [
    // Renew all, as patrons actually type it.
    { name: 'HBK FORNY ALLE', body: 'HBK FORNY ALLE', expected: 'renew-all' },
    { name: 'lower case', body: 'hbk forny alle', expected: 'renew-all' },
    { name: 'mixed case', body: 'Hbk Forny Alle', expected: 'renew-all' },
    { name: 'the spelling HKB on the library page', body: 'HKB FORNY ALLE', expected: 'renew-all' },
    { name: 'forny alle without a keyword', body: 'forny alle', expected: 'renew-all' },
    { name: 'FORNY ALLE in capitals', body: 'FORNY ALLE', expected: 'renew-all' },
    { name: 'hyphens between the words', body: 'HBK-FORNY-ALLE', expected: 'renew-all' },
    { name: 'en and em dashes between the words', body: 'HBK – FORNY—ALLE', expected: 'renew-all' },
    { name: 'a Unicode hyphen and a non-breaking hyphen', body: 'HBK\u2010FORNY\u2011ALLE', expected: 'renew-all' },
    { name: 'underscores between the words', body: 'hbk_forny_alle', expected: 'renew-all' },
    { name: 'slashes between the words', body: 'HBK/FORNY/ALLE', expected: 'renew-all' },
    { name: 'words run together', body: 'HBKFORNYALLE', expected: 'renew-all' },
    { name: 'keyword run into FORNY', body: 'hbkforny alle', expected: 'renew-all' },
    { name: 'FORNY run into ALLE', body: 'hbk fornyalle', expected: 'renew-all' },
    { name: 'punctuation in place of spaces', body: 'HBK.FORNY.ALLE', expected: 'renew-all' },
    { name: 'full stops, commas and an exclamation mark', body: 'HBK. FORNY, ALLE!', expected: 'renew-all' },
    { name: 'question mark, semicolon and colon', body: 'HBK; FORNY: ALLE?', expected: 'renew-all' },
    { name: 'typographic quotes', body: '“HBK FORNY ALLE”', expected: 'renew-all' },
    { name: 'straight double quotes', body: '"HBK FORNY ALLE"', expected: 'renew-all' },
    { name: 'Danish low-high quotes', body: '„HBK FORNY ALLE“', expected: 'renew-all' },
    { name: 'guillemets', body: '«HBK FORNY ALLE»', expected: 'renew-all' },
    { name: 'a smiling emoji after the command', body: 'HBK FORNY ALLE 🙂', expected: 'renew-all' },
    { name: 'an emoji with skin tone and variation selector, no space', body: 'HBK FORNY ALLE👍🏽', expected: 'renew-all' },
    { name: 'a heart with a variation selector in front', body: '❤️ hbk forny alle', expected: 'renew-all' },
    { name: 'a family emoji joined by zero-width joiners', body: 'HBK FORNY ALLE 👨‍👩‍👧', expected: 'renew-all' },
    { name: 'the iPhone signature on the next line', body: 'HBK FORNY ALLE\n\nSendt fra min iPhone', expected: 'renew-all' },
    { name: 'an Android signature after CRLF', body: 'Hbk forny alle\r\n--\r\nSendt fra min Samsung Galaxy', expected: 'renew-all' },
    { name: 'blank lines before the command', body: '\n \n\tHBK FORNY ALLE', expected: 'renew-all' },
    { name: 'a line of only emoji before the command counts as empty', body: '🙂\nHBK FORNY ALLE', expected: 'renew-all' },
    { name: 'a thank-you after the command', body: 'Forny alle tak', expected: 'renew-all' },
    { name: 'a greeting after the command', body: 'HBK FORNY ALLE. Mvh Karen', expected: 'renew-all' },
    { name: 'no-break spaces between the words', body: 'HBK\u00a0FORNY\u00a0ALLE', expected: 'renew-all' },
    { name: 'a tab between the words', body: 'HBK\tFORNY ALLE', expected: 'renew-all' },
    { name: 'runs of spaces', body: 'HBK   FORNY     ALLE', expected: 'renew-all' },
    { name: 'an ideographic space', body: 'HBK\u3000FORNY ALLE', expected: 'renew-all' },
    { name: 'fullwidth letters (NFKC)', body: 'ＨＢＫ ＦＯＲＮＹ ＡＬＬＥ', expected: 'renew-all' },
    { name: 'fullwidth punctuation (NFKC)', body: 'HBK FORNY ALLE！', expected: 'renew-all' },
    { name: 'a zero-width space inside a word', body: 'HBK FOR\u200bNY ALLE', expected: 'renew-all' },
    { name: 'right-to-left marks around the text', body: '\u200fHBK FORNY ALLE\u200f', expected: 'renew-all' },
    { name: 'an embedding and its pop directional formatting', body: '\u202bHBK FORNY ALLE\u202c', expected: 'renew-all' },
    { name: 'a byte order mark in front', body: '\ufeffHBK FORNY ALLE', expected: 'renew-all' },
    // Some gateways pad or separate with NUL (GSM-7 "@" is code 0): it reads as a space.
    { name: 'trailing NUL characters', body: 'HBK FORNY ALLE\u0000\u0000', expected: 'renew-all' },
    { name: 'NUL characters between the words', body: 'HBK\u0000FORNY\u0000ALLE', expected: 'renew-all' },
    { name: 'a 1,600-character message repeating the command', body: 'HBK FORNY ALLE '.repeat(107).slice(0, 1600), expected: 'renew-all' },

    // Opt out.
    { name: 'STOP', body: 'STOP', expected: 'stop' },
    { name: 'stop in lower case with a full stop', body: 'stop.', expected: 'stop' },
    { name: 'stop hbk', body: 'stop hbk', expected: 'stop' },
    { name: 'STOP HKB', body: 'STOP HKB', expected: 'stop' },
    { name: 'AFMELD', body: 'AFMELD', expected: 'stop' },
    { name: 'afmeld with an exclamation mark and a signature', body: 'afmeld!\nSendt fra min iPhone', expected: 'stop' },

    // Opt in.
    { name: 'START', body: 'START', expected: 'start' },
    { name: 'start', body: ' start ', expected: 'start' },
    { name: 'TILMELD', body: 'TILMELD', expected: 'start' },

    // Help.
    { name: 'HJÆLP', body: 'HJÆLP', expected: 'help' },
    { name: 'hjaelp written without æ', body: 'hjaelp', expected: 'help' },
    { name: 'Hjælp?', body: 'Hjælp?', expected: 'help' },
    { name: 'HELP', body: 'HELP', expected: 'help' },
    { name: 'INFO?', body: 'INFO?', expected: 'help' },

    // Must not be mistaken for a command.
    { name: 'HBK FORNY without ALLE', body: 'HBK FORNY', expected: 'unknown' },
    { name: 'FORNY alone', body: 'FORNY', expected: 'unknown' },
    { name: 'forny allerede: ALLE must end its word', body: 'forny allerede', expected: 'unknown' },
    { name: 'a typo: FORNT ALLE', body: 'HBK FORNT ALLE', expected: 'unknown' },
    { name: 'a typo: FORNY ALE', body: 'HBK FORNY ALE', expected: 'unknown' },
    { name: 'the keyword alone', body: 'HBK', expected: 'unknown' },
    { name: 'a keyword the library does not use', body: 'KBH FORNY ALLE', expected: 'unknown' },
    { name: 'the command split over lines: only the first line counts', body: 'HBK\nFORNY ALLE', expected: 'unknown' },
    { name: 'a question first, the command on the next line', body: 'Hej, kan I hjælpe?\nHBK FORNY ALLE', expected: 'unknown' },
    { name: 'Swedish "förnya alla"', body: 'förnya alla', expected: 'unknown' },
    { name: 'Norwegian "forny alt"', body: 'Forny alt', expected: 'unknown' },
    { name: 'English "renew all"', body: 'RENEW ALL', expected: 'unknown' },
    { name: 'German "alle verlängern"', body: 'Alle verlängern', expected: 'unknown' },
    { name: 'Arabic, right to left', body: '\u200fجدد الكل', expected: 'unknown' },
    { name: 'an empty body', body: '', expected: 'unknown' },
    { name: 'only white space and line breaks', body: ' \t\n\r\n ', expected: 'unknown' },
    { name: 'only NUL characters', body: '\u0000\u0000', expected: 'unknown' },
    { name: 'an emoji', body: '👍', expected: 'unknown' },
    { name: 'STOP ALT', body: 'STOP ALT', expected: 'unknown' },
    { name: 'an auto-reply', body: 'Jeg er på ferie til 3. januar.', expected: 'unknown' },
    { name: 'a NUL inside a word splits it', body: 'HBK FOR\u0000NY ALLE', expected: 'unknown' },
  ];

  for (const row of rows) {
    it(`${row.name} → ${row.expected}`, () => {
      expect(parseCommand(row.body, DEFAULT_KEYWORDS)).to.equal(row.expected);
    });
  }

  it('never throws and always returns one of COMMANDS, whatever the body', () => {
    fc.assert(
      fc.property(bodies, (body) => {
        expect(COMMANDS).to.include(parseCommand(body, DEFAULT_KEYWORDS));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('parseCommand with the library\'s own keywords', () => {
  const rows: { name: string; body: string; keywords: string[]; expected: Command }[] = [
    { name: 'a configured keyword renews', body: 'KBH FORNY ALLE', keywords: ['KBH'], expected: 'renew-all' },
    { name: 'a configured keyword given in lower case', body: 'KBH FORNY ALLE', keywords: ['kbh'], expected: 'renew-all' },
    { name: 'the default keyword is not one of them', body: 'HBK FORNY ALLE', keywords: ['KBH'], expected: 'unknown' },
    { name: 'forny alle works whatever the keywords', body: 'forny alle', keywords: ['KBH'], expected: 'renew-all' },
    { name: 'stop with a configured keyword', body: 'STOP KBH', keywords: ['KBH'], expected: 'stop' },
    { name: 'stop with a keyword the library does not use', body: 'STOP HBK', keywords: ['KBH'], expected: 'unknown' },
    { name: 'the second of two keywords, run together', body: 'bib2fornyalle', keywords: ['KBH', 'BIB2'], expected: 'renew-all' },
  ];
  for (const row of rows) {
    it(`${row.name} → ${row.expected}`, () => {
      expect(parseCommand(row.body, row.keywords)).to.equal(row.expected);
    });
  }
});

describe('normaliseBody', () => {
  const rows: { name: string; body: string; expected: string }[] = [
    { name: 'folds case, drops punctuation and collapses no-break spaces', body: ' Hbk  FORNY\u00a0alle! ', expected: 'hbk forny alle' },
    { name: 'keeps æ, ø and å', body: 'HJÆLP Øst Ål', expected: 'hjælp øst ål' },
    { name: 'composes a decomposed å (NFKC)', body: 'A\u030a', expected: '\u00e5' },
    { name: 'makes dashes, underscores and slashes spaces, keeps brackets', body: 'HBK–FORNY_(ALLE)/x', expected: 'hbk forny (alle) x' },
    { name: 'makes emoji and other symbols spaces', body: 'a🙂b+c€d', expected: 'a b c d' },
    { name: 'keeps only the first line that is not empty', body: '\n  \nførste linje\nanden linje', expected: 'første linje' },
    { name: 'drops invisible format characters', body: 'for\u200bny\u200d \u2060alle', expected: 'forny alle' },
    { name: 'an empty body stays empty', body: '', expected: '' },
  ];

  for (const row of rows) {
    it(row.name, () => {
      expect(normaliseBody(row.body)).to.equal(row.expected);
    });
  }

  it('is idempotent', () => {
    fc.assert(
      fc.property(bodies, (body) => {
        const once = normaliseBody(body);
        expect(normaliseBody(once)).to.equal(once);
      }),
      { numRuns: 2000 },
    );
  });
});

/**
 * Arbitrary Unicode, mixed with the pieces the normaliser treats specially (punctuation, quotes,
 * white space, format and control characters, combining marks, fullwidth and compatibility forms),
 * so that they often meet one another.
 */
const bodies = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.string({ unit: 'grapheme', maxLength: 4 }),
      fc.constantFrom(
        '.', ',', '!', '?', ';', ':', '"', "'", '“', '”', '„', '«', '»', '´', '¨',
        ' ', '\u00a0', '\t', '\n', '\r', '\u3000', '\u0000', '\u0007',
        '\u200b', '\u200d', '\u200f', '\u202e', '\ufeff', '\u00ad',
        '\u0301', '\u0308', '\u030a', '\u1100', '\u1161',
        'a', 'e', 'A', 'HBK', 'FORNY', 'ALLE', 'Ｈ', 'ﬁ', 'İ', 'ß', 'Σ',
      ),
    ),
    { maxLength: 12 },
  )
  .map((pieces) => pieces.join(''));
