import { expect } from 'chai';
import fc from 'fast-check';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { normalisePhoneNumber } from '../../src/domain/phone-number.js';

describe('normalisePhoneNumber', () => {
  const rows: { name: string; raw: string; expected: string | null }[] = [
    { name: 'E.164 as Twilio sends it', raw: '+4520000001', expected: '+4520000001' },
    { name: 'eight Danish digits', raw: '20000001', expected: '+4520000001' },
    { name: 'eight digits in pairs', raw: '20 00 00 01', expected: '+4520000001' },
    { name: 'the 00 international prefix', raw: '004520000001', expected: '+4520000001' },
    { name: 'the 00 prefix with spaces', raw: '0045 20 00 00 01', expected: '+4520000001' },
    { name: 'the country code without a plus', raw: '4520000001', expected: '+4520000001' },
    { name: 'spaces around the number', raw: '  +4520000001 ', expected: '+4520000001' },
    // Only the length is checked: +4512345678 is the kind of number used in tests and demos.
    { name: 'a test number written with spaces', raw: '+45 12 34 56 78', expected: '+4512345678' },
    { name: 'a Swedish mobile is kept as it is', raw: '+46701234567', expected: '+46701234567' },
    { name: 'a British mobile written with spaces', raw: '+44 7700 900123', expected: '+447700900123' },
    { name: 'a name is not a number', raw: 'alice', expected: null },
    { name: 'an alphanumeric sender is not a number', raw: 'Telia', expected: null },
    { name: 'an empty string', raw: '', expected: null },
    { name: 'only spaces', raw: '   ', expected: null },
    { name: 'a country code alone', raw: '+1', expected: null },
    { name: 'the library short code', raw: '1910', expected: null },
    { name: 'seven digits', raw: '2000000', expected: null },
    { name: 'a Danish number with a digit too many', raw: '+45200000012', expected: null },
    { name: 'digits with letters mixed in', raw: '2000000l', expected: null },
  ];

  for (const row of rows) {
    it(`${row.name}: ${JSON.stringify(row.raw)} → ${row.expected ?? 'null'}`, () => {
      expect(normalisePhoneNumber(row.raw)).to.equal(row.expected);
    });
  }

  it('takes a Danish E.164 number as it is, exactly as libphonenumber would', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{8}$/), (digits) => {
        const parsed = parsePhoneNumberFromString(`+45${digits}`, 'DK');
        expect(normalisePhoneNumber(`+45${digits}`)).to.equal(parsed?.isPossible() ? parsed.number : null);
      }),
    );
  });
});
