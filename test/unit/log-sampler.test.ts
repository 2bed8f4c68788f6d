import { expect } from 'chai';
import { ManualClock } from '../../src/clock.js';
import { logSampler } from '../../src/http/log-sampler.js';

describe('logSampler', () => {
  it('lets the first event of a kind through, counts the rest of the interval, and reports them with the next line', () => {
    const clock = new ManualClock('2026-12-01T10:00:00Z');
    const sampler = logSampler(clock, 60_000);
    const taken = [];
    taken.push(sampler.take('forged'));
    for (let index = 0; index < 3; index += 1) taken.push(sampler.take('forged'));
    taken.push(sampler.take('other')); // each kind has its own interval
    clock.advance(59_999);
    taken.push(sampler.take('forged'));
    clock.advance(1);
    taken.push(sampler.take('forged'));
    taken.push(sampler.take('forged'));
    expect(taken).to.deep.equal([
      { log: true, suppressed: 0 },
      { log: false },
      { log: false },
      { log: false },
      { log: true, suppressed: 0 },
      { log: false },
      { log: true, suppressed: 4 },
      { log: false },
    ]);
  });
});
