import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { smsRateLimiter } from '../../src/sms/sms-rate.js';
import { deleteQueueKeys, eventually, TEST_REDIS_URL } from '../helpers/harness.js';

const bullmqVersion = (createRequire(import.meta.url)('bullmq/package.json') as { version: string }).version;

/**
 * What forny relies on in BullMQ's worker limiter (jobs/start-workers.ts, send-sms), as the
 * installed version behaves: a worker with `limiter: {max, duration}` starts at most `max` jobs in
 * a window and no more until the window ends, across its concurrency; the window is visible and
 * can be ended through the Queue's public API. forny writes none of BullMQ's keys: the rate itself
 * is held at Twilio (src/sms/sms-rate.ts); this limiter only keeps send-sms jobs from being fetched
 * faster than the rate. An upgrade that changes this fails here.
 */
describe(`BullMQ's worker limiter (bullmq ${bullmqVersion})`, function () {
  this.timeout(20_000);
  const prefix = `forny-limiter-${randomBytes(5).toString('hex')}`;
  const closing: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    for (const item of closing.splice(0).reverse()) await item.close();
    await deleteQueueKeys(TEST_REDIS_URL, prefix);
  });

  it('starts at most `max` jobs in a window, whatever its concurrency, and shows the window through the Queue', async () => {
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    closing.push({ close: async () => connection.disconnect() });
    const queue = new Queue('send-sms', { connection, prefix });
    closing.push(queue);
    // A window far longer than the test: what it holds back is seen without timing anything.
    const limiter = { max: 2, duration: 60_000 };
    const started: string[] = [];
    await queue.addBulk(Array.from({ length: 5 }, (_, index) => ({ name: 'sms', data: {}, opts: { jobId: `j${index}` } })));
    const worker = new Worker('send-sms', async (job) => void started.push(job.id ?? ''), { connection: connection.duplicate(), prefix, concurrency: 5, limiter });
    closing.push(worker);
    await eventually(async () => ((await queue.getJobCounts('completed')).completed ?? 0) >= 2, 10_000, 'the window’s two jobs');
    // The window is on (Queue#getRateLimitTtl) and the other three wait in it.
    await eventually(async () => (await queue.getRateLimitTtl()) > 0, 5_000, 'the window seen as on');
    expect(await queue.getJobCounts('completed', 'waiting', 'active')).to.deep.equal({ completed: 2, waiting: 3, active: 0 });
    expect(started).to.have.length(2);
  });

  it('the jobs a window held back start when it ends, by itself', async () => {
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    closing.push({ close: async () => connection.disconnect() });
    const queue = new Queue('send-sms', { connection, prefix });
    closing.push(queue);
    await queue.addBulk(Array.from({ length: 5 }, (_, index) => ({ name: 'sms', data: {}, opts: { jobId: `j${index}` } })));
    const worker = new Worker('send-sms', async () => undefined, { connection: connection.duplicate(), prefix, concurrency: 5, limiter: { max: 2, duration: 200 } });
    closing.push(worker);
    await eventually(async () => ((await queue.getJobCounts('completed')).completed ?? 0) === 5, 10_000, 'all five, window after window');
  });

  it('the limiter forny gives send-sms keeps the long-run rate exactly SMS_RATE_PER_SECOND', () => {
    for (const rate of [1, 7, 30, 50, 350, 1000]) {
      const { max, duration } = smsRateLimiter(rate);
      expect((max * 1000) / duration, `${rate}/s`).to.equal(rate);
    }
  });
});
