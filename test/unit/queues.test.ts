import { expect } from 'chai';
import { smsRateLimiter } from '../../src/sms/sms-rate.js';

describe('smsRateLimiter', () => {
  const rows: { rate: number; max: number; duration: number }[] = [
    { rate: 30, max: 3, duration: 100 }, //  the default: three every 100 ms
    { rate: 1, max: 1, duration: 1000 },
    { rate: 5, max: 1, duration: 200 },
    { rate: 7, max: 7, duration: 1000 }, // no smaller window divides it evenly
    { rate: 35, max: 7, duration: 200 },
    { rate: 1000, max: 100, duration: 100 },
  ];
  for (const row of rows) {
    it(`${row.rate}/s → ${row.max} per ${row.duration} ms`, () => {
      const limiter = smsRateLimiter(row.rate);
      expect(limiter).to.deep.equal({ max: row.max, duration: row.duration });
      expect((limiter.max * 1000) / limiter.duration).to.equal(row.rate); // the long-run rate is exact
    });
  }
});
