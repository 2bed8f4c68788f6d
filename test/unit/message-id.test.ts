import { expect } from 'chai';
import { MAX_MESSAGE_ID, parseMessageId } from '../../src/http/message-id.js';

describe('parseMessageId', () => {
  const rows: [string, number | undefined][] = [
    ['1', 1],
    ['120', 120],
    ['007', 7],
    ['2147483647', MAX_MESSAGE_ID],
    ['2147483648', undefined],
    ['9999999999', undefined],
    ['99999999999', undefined],
    ['0', undefined],
    ['0000000000', undefined],
    ['', undefined],
    ['-1', undefined],
    ['+1', undefined],
    ['1.0', undefined],
    ['1e3', undefined],
    [' 1', undefined],
    ['12abc', undefined],
    ['0x10', undefined],
    ['١٢', undefined],
  ];
  for (const [text, id] of rows) {
    it(`${JSON.stringify(text)} → ${String(id)}`, () => {
      expect(parseMessageId(text)).to.equal(id);
    });
  }
});
