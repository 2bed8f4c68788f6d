import { expect } from 'chai';
import fc from 'fast-check';
import {
  Sip2DecodeError,
  decodeFrame,
  encodeFrame,
  fromSipDate,
  parseResponse,
  requestFrame,
  sip2Checksum,
  toSipDate,
  type Sip2Encoding,
  type Sip2Request,
} from '../../src/library/sip2/codec.js';

/*
 * Whole messages as they travel, checksums worked out independently (a few lines of Python beside
 * the 2.00 specification), so an error in sip2Checksum cannot hide in both sides of a test.
 */

const at = new Date('2026-11-29T14:30:00Z');
const bytes = (text: string, encoding: Sip2Encoding = 'utf8') => Buffer.from(text + '\r', encoding);
const read = (text: string, encoding: Sip2Encoding = 'utf8', checksums = true) => decodeFrame(bytes(text, encoding), { encoding, checksums });

describe('SIP2 codec', () => {
  describe('checksum', () => {
    it('is the two’s complement of the byte sum, low 16 bits, 4 upper-case hex digits', () => {
      expect(sip2Checksum(Buffer.from('97AZ'))).to.equal('FEF5');
      expect(sip2Checksum(Buffer.from('96AZ'))).to.equal('FEF6');
      expect(sip2Checksum(Buffer.alloc(0))).to.equal('0000');
    });
  });

  describe('requests as bytes', () => {
    const rows: Array<{ name: string; request: Sip2Request; sequence: number | null; wire: string }> = [
      { name: 'Login 93 with CN, CO, CP', request: { kind: 'login', user: 'forny', password: 'hemmelig', location: 'HB01' }, sequence: 0, wire: '9300CNforny|COhemmelig|CPHB01|AY0AZF444' },
      { name: 'SC Status 99', request: { kind: 'scStatus' }, sequence: 1, wire: '9900802.00AY1AZFCA0' },
      {
        name: 'Patron Information 63 asking for charged items 1-10',
        request: { kind: 'patronInformation', institution: 'HBK', patron: '1234567890', at, start: 1, end: 10 },
        sequence: 2,
        wire: '6300020261129   Z143000  Y       AOHBK|AA1234567890|BP00001|BQ00010|AY2AZEFC3',
      },
      {
        name: 'Item Information 17',
        request: { kind: 'itemInformation', institution: 'HBK', item: '5012345', at },
        sequence: 3,
        wire: '1720261129   Z143000AOHBK|AB5012345|AY3AZF673',
      },
      {
        name: 'Renew 29 with no due date asked',
        request: { kind: 'renew', institution: 'HBK', patron: '1234567890', item: '5012345', at },
        sequence: 4,
        wire: '29NN20261129   Z143000                  AOHBK|AA1234567890|AB5012345|AY4AZF088',
      },
      { name: 'Request ACS Resend 97: checksum, never a sequence number', request: { kind: 'requestAcsResend' }, sequence: null, wire: '97AZFEF5' },
    ];
    for (const row of rows) {
      it(row.name, () => {
        const encoded = encodeFrame(requestFrame(row.request), { encoding: 'utf8', errorDetection: { sequence: row.sequence } });
        expect(encoded.toString('utf8')).to.equal(row.wire + '\r');
      });
    }

    it('leaves AY/AZ off when error detection is off', () => {
      expect(encodeFrame(requestFrame({ kind: 'scStatus' }), { encoding: 'utf8' }).toString()).to.equal('9900802.00\r');
    });

    it('writes a login without CP when there is no location', () => {
      const frame = requestFrame({ kind: 'login', user: 'forny', password: 'x', location: null });
      expect(encodeFrame(frame, { encoding: 'utf8' }).toString()).to.equal('9300CNforny|COx|\r');
    });

    it('refuses a field value that would break the framing', () => {
      const frame = requestFrame({ kind: 'itemInformation', institution: 'HBK', item: 'a|b', at });
      expect(() => encodeFrame(frame, { encoding: 'utf8' })).to.throw(RangeError, /AB contains a field separator/);
    });

    it('writes æøå as one byte each in latin1 and two in utf8, the checksum over those bytes', () => {
      const frame = { code: '17', fixed: toSipDate(at), fields: [['AO', 'Helsingør']] as const };
      const latin1 = encodeFrame(frame, { encoding: 'latin1', errorDetection: { sequence: 5 } });
      const utf8 = encodeFrame(frame, { encoding: 'utf8', errorDetection: { sequence: 5 } });
      expect(utf8.length - latin1.length).to.equal(1);
      expect(latin1.includes(0xf8)).to.equal(true);
      expect(decodeFrame(latin1, { encoding: 'latin1', checksums: true }).fields).to.deep.equal([['AO', 'Helsingør']]);
      expect(decodeFrame(utf8, { encoding: 'utf8', checksums: true }).fields).to.deep.equal([['AO', 'Helsingør']]);
    });

    it('writes a character latin1 cannot carry as ?', () => {
      const encoded = encodeFrame({ code: '17', fixed: toSipDate(at), fields: [['AB', 'x€y']] }, { encoding: 'latin1' });
      expect(encoded.toString('latin1')).to.contain('ABx?y|');
    });
  });

  describe('an answer in the other encoding', () => {
    // An answer in the other encoding still decodes (its checksum is over bytes); the frame says which it looks like.
    const wrongEncoding: { name: string; sent: Sip2Encoding; text: string; configured: Sip2Encoding; looksLike: Sip2Encoding | null }[] = [
      { name: 'latin1 bytes read as utf8 (ø is F8, not valid UTF-8)', sent: 'latin1', text: '18040001' + '20261129    120000' + 'ABI-1|AJSøren på Ærø|', configured: 'utf8', looksLike: 'latin1' },
      { name: 'utf8 bytes read as latin1 (ø is C3 B8: Ã¸)', sent: 'utf8', text: '18040001' + '20261129    120000' + 'ABI-1|AJSøren på Ærø|', configured: 'latin1', looksLike: 'utf8' },
      { name: 'utf8 read as utf8', sent: 'utf8', text: '18040001' + '20261129    120000' + 'ABI-1|AJSøren på Ærø|', configured: 'utf8', looksLike: null },
      { name: 'latin1 read as latin1', sent: 'latin1', text: '18040001' + '20261129    120000' + 'ABI-1|AJSøren på Ærø|', configured: 'latin1', looksLike: null },
      { name: 'plain ASCII, either way', sent: 'utf8', text: '18040001' + '20261129    120000' + 'ABI-1|AJHamlet|', configured: 'latin1', looksLike: null },
      { name: 'a latin1 answer that happens to hold no letter beyond ASCII', sent: 'latin1', text: '941', configured: 'utf8', looksLike: null },
    ];
    for (const row of wrongEncoding) {
      it(`says which encoding an answer looks like when it is not the configured one: ${row.name}`, () => {
        const frame = decodeFrame(Buffer.from(`${row.text}\r`, row.sent), { encoding: row.configured, checksums: false });
        expect(frame.looksLike).to.equal(row.looksLike);
      });
    }
  });

  describe('answers from whole messages', () => {
    it('94: login ok and refused', () => {
      expect(parseResponse(read('941AY0AZFDFD'))).to.deep.equal({ kind: 'loginResponse', ok: true });
      expect(parseResponse(read('940AY0AZFDFE'))).to.deep.equal({ kind: 'loginResponse', ok: false });
    });

    it('98: supported messages from BX, æøå in utf8', () => {
      const status = parseResponse(read('98YYYYNN01000320261129    1200002.00AOHBK|AMHelsingør|BXYYYYYYYYYYYYYYYY|AY1AZE8C3'));
      expect(status.kind).to.equal('acsStatus');
      if (status.kind !== 'acsStatus') return;
      expect(status.online).to.equal(true);
      expect(status.protocolVersion).to.equal('2.00');
      expect([...status.supported!]).to.include.members(['patron information', 'item information', 'renew']);
    });

    it('98: a BX without patron information, and too short to reach renew', () => {
      const status = parseResponse(read('98YYYYNN01000320261129    1200002.00AOHBK|BXYYYYYYYNYNYYNN|AY1AZEF62'));
      if (status.kind !== 'acsStatus') throw new Error(status.kind);
      expect(status.supported!.has('patron information')).to.equal(false);
      expect(status.supported!.has('item information')).to.equal(true);
      expect(status.supported!.has('renew')).to.equal(false);
      expect(status.supported!.has('login')).to.equal(true);
    });

    it('64: fields in any order, unknown XZ ignored, AU in order, the charged count from the fixed part', () => {
      const frame = read('64              00020261129    120000000000010025000000000000AUI-1|BLY|AEAnne Ørsted|XZfoo|AOHBK|AUI-2|AA1234567890|AY2AZE1C8');
      expect(frame.sequence).to.equal(2);
      expect(parseResponse(frame)).to.deep.equal({
        kind: 'patronInformationResponse',
        chargedCount: 25,
        patron: '1234567890',
        name: 'Anne Ørsted',
        valid: true,
        chargedItems: ['I-1', 'I-2'],
        screenMessage: null,
      });
    });

    it('64: BL N is an unknown patron', () => {
      const info = parseResponse(read('64              00020261129    120000000000000000000000000000AOHBK|AA999|AE|BLN|AY2AZEE41'));
      if (info.kind !== 'patronInformationResponse') throw new Error(info.kind);
      expect(info.valid).to.equal(false);
      expect(info.name).to.equal(null);
      expect(info.chargedCount).to.equal(0);
    });

    for (const encoding of ['utf8', 'latin1'] as const) {
      it(`18: title with æøå and due date, in ${encoding}`, () => {
        const wire = encoding === 'utf8' ? '1804000120261129    120000AB5012345|AJBlåbær|AH20261213    235900|AY3AZEDCA' : '1804000120261129    120000AB5012345|AJBlåbær|AH20261213    235900|AY3AZEED0';
        expect(parseResponse(read(wire, encoding))).to.deep.equal({
          kind: 'itemInformationResponse',
          circulationStatus: '04',
          item: '5012345',
          title: 'Blåbær',
          dueDate: '2026-12-13',
          screenMessage: null,
        });
      });

      it(`18: a due date not in SIP form is kept as the system wrote it, in ${encoding}`, () => {
        const wire = encoding === 'utf8'
          ? '1804000120261129    120000AHsomething|AJRød grød med fløde på Æbleø|AB5012345|CF00000|AY3AZDFFA'
          : '1804000120261129    120000AHsomething|AJRød grød med fløde på Æbleø|AB5012345|CF00000|AY3AZE30C';
        const info = parseResponse(read(wire, encoding));
        if (info.kind !== 'itemInformationResponse') throw new Error(info.kind);
        expect(info.title).to.equal('Rød grød med fløde på Æbleø');
        expect(info.dueDate).to.equal('something');
      });
    }

    it('a utf8 message read with a latin1 checksum (or the reverse) fails its checksum', () => {
      const utf8Wire = '1804000120261129    120000AB5012345|AJBlåbær|AH20261213    235900|AY3AZEDCA';
      expect(() => read(utf8Wire, 'latin1')).to.throw(Sip2DecodeError, /checksum/);
    });

    it('30: renewed with the new due date', () => {
      expect(parseResponse(read('301YUN20261129    120000AOHBK|AA1234567890|AB5012345|AJBlåbær|AH20261213    235900|AY4AZE8DB'))).to.deep.equal({
        kind: 'renewResponse',
        ok: true,
        renewalOk: true,
        item: '5012345',
        title: 'Blåbær',
        dueDate: '2026-12-13',
        screenMessage: null,
      });
    });

    it('30: refused, the screen message kept (two AF joined)', () => {
      const answer = parseResponse(read('300NUN20261129    120000AOHBK|AA1234567890|AB5012346|AFReserveret af en|AFanden låner|AY4AZE543'));
      if (answer.kind !== 'renewResponse') throw new Error(answer.kind);
      expect(answer.ok).to.equal(false);
      expect(answer.renewalOk).to.equal(false);
      expect(answer.screenMessage).to.equal('Reserveret af en anden låner');
      expect(answer.dueDate).to.equal(null);
    });

    it('96: Request SC Resend, with or without a checksum', () => {
      expect(parseResponse(read('96AZFEF6'))).to.deep.equal({ kind: 'requestScResend' });
      expect(parseResponse(read('96'))).to.deep.equal({ kind: 'requestScResend' });
    });

    it('tolerates the LF some systems send after CR, and a last field without |', () => {
      const frame = decodeFrame(Buffer.from('\n941\r\n'), { encoding: 'utf8', checksums: false });
      expect(parseResponse(frame)).to.deep.equal({ kind: 'loginResponse', ok: true });
      expect(read('18040001' + '20261129    120000' + 'ABx|AJTitle', 'utf8', false).fields).to.deep.equal([['AB', 'x'], ['AJ', 'Title']]);
    });
  });

  describe('bad messages', () => {
    const rows: Array<{ name: string; wire: string; checksums: boolean; badChecksum: boolean; error: RegExp }> = [
      { name: 'a wrong checksum', wire: '941AY0AZFDFE', checksums: true, badChecksum: true, error: /checksum AZFDFE, computed FDFD/ },
      { name: 'a changed byte under a right-looking checksum', wire: '940AY0AZFDFD', checksums: true, badChecksum: true, error: /checksum/ },
      { name: 'no checksum although error detection is on', wire: '941AY0', checksums: true, badChecksum: true, error: /no checksum/ },
      { name: 'a fixed part cut short', wire: '30', checksums: false, badChecksum: false, error: /fixed part alone is 22/ },
      { name: 'not starting with a code', wire: 'hello', checksums: false, badChecksum: false, error: /not a SIP2 message/ },
    ];
    for (const row of rows) {
      it(`rejects ${row.name}`, () => {
        let caught: unknown;
        try {
          read(row.wire, 'utf8', row.checksums);
        } catch (error) {
          caught = error;
        }
        expect(caught).to.be.instanceOf(Sip2DecodeError);
        expect((caught as Sip2DecodeError).badChecksum).to.equal(row.badChecksum);
        expect((caught as Error).message).to.match(row.error);
      });
    }

    it('accepts a wrong checksum when error detection is off', () => {
      expect(parseResponse(read('941AY0AZFDFE', 'utf8', false))).to.deep.equal({ kind: 'loginResponse', ok: true });
    });

    it('rejects an answer code forny never asked for', () => {
      expect(() => parseResponse(read('24', 'utf8', false))).to.throw(Sip2DecodeError, /24 is not an answer/);
    });
  });

  describe('dates', () => {
    const rows: Array<[string | null, string | null]> = [
      ['20261213    235900', '2026-12-13'],
      ['20261213   Z235900', '2026-12-13'],
      ['20261213EST 235900', '2026-12-13'],
      ['20260230    000000', '20260230    000000'], // no such day: kept as text
      ['13-12-2026', '13-12-2026'],
      ['  ', null],
      ['', null],
      [null, null],
    ];
    for (const [input, expected] of rows) {
      it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => expect(fromSipDate(input)).to.equal(expected));
    }

    it('writes an instant as an 18-character UTC SIP date', () => {
      expect(toSipDate(new Date('2026-03-29T01:02:03.999Z'))).to.equal('20260329   Z010203');
    });
  });

  describe('property: encode then decode gives the frame back', () => {
    const latin1Char = fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code));
    const anyChar = fc.oneof(latin1Char, fc.constantFrom('€', 'ł', '😀', 'ß', 'Æ'));
    const text = (chars: fc.Arbitrary<string>) => fc.array(chars, { maxLength: 30 }).map((list) => list.join('').replace(/[|\r\n]/g, ''));
    const fieldId = fc.tuple(fc.integer({ min: 65, max: 90 }), fc.integer({ min: 65, max: 90 })).map(([a, b]) => String.fromCharCode(a, b));
    const frameOf = (chars: fc.Arbitrary<string>) =>
      fc.record({
        code: fc.constantFrom('18', '30', '64', '98'),
        fields: fc.array(fc.tuple(fieldId, text(chars)), { maxLength: 8 }),
        fixedSeed: text(latin1Char),
      });
    const fixedLength: Record<string, number> = { '18': 24, '30': 22, '64': 59, '98': 34 };

    for (const encoding of ['utf8', 'latin1'] as const) {
      for (const sequence of [null, 7]) {
        it(`${encoding}, ${sequence === null ? 'no error detection' : 'with AY/AZ'}`, () => {
          fc.assert(
            fc.property(frameOf(encoding === 'utf8' ? anyChar : latin1Char), ({ code, fields, fixedSeed }) => {
              const fixed = (fixedSeed + ' '.repeat(60)).slice(0, fixedLength[code]);
              // Empty values are legal; the decoder keeps them as empty strings.
              const frame = { code, fixed, fields };
              const wire = encodeFrame(frame, { encoding, ...(sequence === null ? {} : { errorDetection: { sequence } }) });
              const back = decodeFrame(wire, { encoding, checksums: sequence !== null });
              expect(back.code).to.equal(code);
              expect(back.fixed).to.equal(fixed);
              expect(back.fields).to.deep.equal(fields);
              expect(back.sequence).to.equal(sequence);
            }),
            { numRuns: 300 },
          );
        });
      }
    }
  });
});
