import { expect } from 'chai';
import fc from 'fast-check';
import { COMMANDS, normaliseBody, parseCommand, type Command } from '../../src/domain/sms-command.js';

describe('parseCommand', () => {
  const rows: { name: string; body: string; expected: Command }[] = [
    // Renew all, as patrons actually type it.
    { name: 'HBK FORNY ALLE', body: 'HBK FORNY ALLE', expected: 'renew-all' },
    { name: 'lower case', body: 'hbk forny alle', expected: 'renew-all' },
    { name: 'mixed case', body: 'Hbk Forny Alle', expected: 'renew-all' },
    { name: 'the spelling HKB on the library page', body: 'HKB FORNY ALLE', expected: 'renew-all' },
    { name: 'forny alle without HBK', body: 'forny alle', expected: 'renew-all' },
    { name: 'FORNY ALLE in capitals', body: 'FORNY ALLE', expected: 'renew-all' },
    { name: 'full stops, commas and an exclamation mark', body: 'HBK. FORNY, ALLE!', expected: 'renew-all' },
    { name: 'question mark, semicolon and colon', body: 'HBK; FORNY: ALLE?', expected: 'renew-all' },
    { name: 'typographic quotes', body: '“HBK FORNY ALLE”', expected: 'renew-all' },
    { name: 'straight double quotes', body: '"HBK FORNY ALLE"', expected: 'renew-all' },
    { name: 'single quotes', body: "'hbk forny alle'", expected: 'renew-all' },
    { name: 'Danish low-high quotes', body: '„HBK FORNY ALLE“', expected: 'renew-all' },
    { name: 'guillemets', body: '«HBK FORNY ALLE»', expected: 'renew-all' },
    { name: 'no-break spaces between the words', body: 'HBK\u00a0FORNY\u00a0ALLE', expected: 'renew-all' },
    { name: 'a tab and a newline between the words', body: 'HBK\tFORNY\nALLE', expected: 'renew-all' },
    { name: 'CRLF between the words', body: 'HBK\r\nFORNY\r\nALLE', expected: 'renew-all' },
    { name: 'runs of spaces', body: 'HBK   FORNY     ALLE', expected: 'renew-all' },
    { name: 'leading and trailing spaces', body: '   HBK FORNY ALLE  ', expected: 'renew-all' },
    { name: 'leading and trailing newlines', body: '\nHBK FORNY ALLE\n\n', expected: 'renew-all' },
    { name: 'an ideographic space', body: 'HBK\u3000FORNY ALLE', expected: 'renew-all' },
    { name: 'fullwidth letters (NFKC)', body: 'ＨＢＫ ＦＯＲＮＹ ＡＬＬＥ', expected: 'renew-all' },
    { name: 'fullwidth punctuation (NFKC)', body: 'HBK FORNY ALLE！', expected: 'renew-all' },
    { name: 'a zero-width space inside a word', body: 'HBK FOR\u200bNY ALLE', expected: 'renew-all' },
    { name: 'a zero-width space next to a space', body: 'HBK\u200b FORNY ALLE', expected: 'renew-all' },
    { name: 'right-to-left marks around the text', body: '\u200fHBK FORNY ALLE\u200f', expected: 'renew-all' },
    { name: 'an embedding and its pop directional formatting', body: '\u202bHBK FORNY ALLE\u202c', expected: 'renew-all' },
    { name: 'a byte order mark in front', body: '\ufeffHBK FORNY ALLE', expected: 'renew-all' },
    // Some gateways pad or separate with NUL (GSM-7 "@" is code 0): it reads as a space.
    { name: 'trailing NUL characters', body: 'HBK FORNY ALLE\u0000\u0000', expected: 'renew-all' },
    { name: 'NUL characters between the words', body: 'HBK\u0000FORNY\u0000ALLE', expected: 'renew-all' },

    // Opt out.
    { name: 'STOP', body: 'STOP', expected: 'stop' },
    { name: 'stop in lower case with a full stop', body: 'stop.', expected: 'stop' },
    { name: 'stop hbk', body: 'stop hbk', expected: 'stop' },
    { name: 'STOP HBK', body: 'STOP HBK', expected: 'stop' },
    { name: 'AFMELD', body: 'AFMELD', expected: 'stop' },
    { name: 'afmeld with an exclamation mark', body: 'afmeld!', expected: 'stop' },

    // Opt in.
    { name: 'START', body: 'START', expected: 'start' },
    { name: 'start', body: ' start ', expected: 'start' },
    { name: 'TILMELD', body: 'TILMELD', expected: 'start' },
    { name: 'Tilmeld', body: 'Tilmeld', expected: 'start' },

    // Help.
    { name: 'HJÆLP', body: 'HJÆLP', expected: 'help' },
    { name: 'hjælp', body: 'hjælp', expected: 'help' },
    { name: 'hjaelp written without æ', body: 'hjaelp', expected: 'help' },
    { name: 'Hjælp?', body: 'Hjælp?', expected: 'help' },
    { name: 'HELP', body: 'HELP', expected: 'help' },
    { name: 'info', body: 'info', expected: 'help' },
    { name: 'INFO?', body: 'INFO?', expected: 'help' },

    // Must not be mistaken for a command.
    { name: 'HBK FORNY without ALLE', body: 'HBK FORNY', expected: 'unknown' },
    { name: 'FORNY alone', body: 'FORNY', expected: 'unknown' },
    { name: 'FORNY ALLE LÅN', body: 'FORNY ALLE LÅN', expected: 'unknown' },
    { name: 'HBK FORNY ALLE with more words', body: 'HBK FORNY ALLE TAK', expected: 'unknown' },
    { name: 'hyphens are not dropped', body: 'HBK-FORNY-ALLE', expected: 'unknown' },
    { name: 'words run together', body: 'HBKFORNYALLE', expected: 'unknown' },
    { name: 'punctuation in place of spaces joins the words', body: 'HBK.FORNY.ALLE', expected: 'unknown' },
    { name: 'an empty body', body: '', expected: 'unknown' },
    { name: 'only white space', body: ' \t\n ', expected: 'unknown' },
    { name: 'an emoji', body: '👍', expected: 'unknown' },
    { name: 'the command followed by an emoji', body: 'HBK FORNY ALLE 👍', expected: 'unknown' },
    { name: 'STOP ALT', body: 'STOP ALT', expected: 'unknown' },
    { name: 'a 1600-character message repeating the command', body: 'HBK FORNY ALLE '.repeat(107).slice(0, 1600), expected: 'unknown' },
    { name: 'a NUL inside a word splits it', body: 'HBK FOR\u0000NY ALLE', expected: 'unknown' },
  ];

  for (const row of rows) {
    it(`${row.name} → ${row.expected}`, () => {
      expect(parseCommand(row.body)).to.equal(row.expected);
    });
  }

  it('never throws and always returns one of COMMANDS, whatever the body', () => {
    fc.assert(
      fc.property(bodies, (body) => {
        expect(COMMANDS).to.include(parseCommand(body));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('normaliseBody', () => {
  const rows: { name: string; body: string; expected: string }[] = [
    { name: 'folds case, drops punctuation and collapses no-break spaces', body: ' Hbk  FORNY\u00a0alle! ', expected: 'hbk forny alle' },
    { name: 'keeps æ, ø and å', body: 'HJÆLP Øst Ål', expected: 'hjælp øst ål' },
    { name: 'composes a decomposed å (NFKC)', body: 'A\u030a', expected: '\u00e5' },
    { name: 'keeps hyphens and other punctuation outside the list', body: 'HBK-FORNY (ALLE)', expected: 'hbk-forny (alle)' },
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
