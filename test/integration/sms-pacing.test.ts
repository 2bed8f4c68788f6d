import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { AT_ONCE_WITHIN_MS, createSmsRate, pacedSmsTransport, smsSlotKey } from '../../src/sms/sms-rate.js';
import type { SmsTransport } from '../../src/sms/transport.js';
import { deleteQueueKeys, TEST_REDIS_URL } from '../helpers/harness.js';

/** A transport that records which message reached it, and when (on this process's clock). */
function recording(): SmsTransport & { readonly sent: { body: string; at: number }[] } {
  const sent: { body: string; at: number }[] = [];
  return {
    name: 'twilio',
    sent,
    async send(sms) {
      sent.push({ body: sms.body, at: performance.now() });
      return { sid: `SM${randomBytes(16).toString('hex')}` };
    },
    async findRecent() {
      return null;
    },
  };
}

/** One call of the slot script as a process saw it: the waits it was told, and the slots they stand for. */
interface HandedOut {
  /** When the answer was back in the process (performance.now()): its sends sleep from here. */
  readonly answeredAt: number;
  readonly waits: number[];
  /** The same slots on Redis's clock (ms), from the key the script set, read in the same MULTI. */
  readonly slots: number[];
}

/**
 * The process's Redis connection, with each slot script call run in a MULTI followed by a GET of
 * the key: nothing runs between them, so the GET is exactly the end of the slots the script just
 * handed out (`slot + count × spacing`), whatever the load on the machine.
 */
function observed(redis: Redis, key: string, spacing: number, calls: HandedOut[]): Pick<Redis, 'eval' | 'evalsha'> {
  const run = async (command: 'eval' | 'evalsha', script: string, keyCount: number, ...rest: (string | number)[]): Promise<unknown> => {
    const replies = (await redis.multi()[command](script, keyCount, ...rest).get(key).exec()) ?? [];
    const [[scriptError, answer] = [null, null], [, end] = [null, null]] = replies;
    if (scriptError) throw scriptError; // NOSCRIPT: the caller loads the script with EVAL
    const waits = (answer as string[]).map(Number);
    calls.push({ answeredAt: performance.now(), waits, slots: waits.map((_, index) => Number(end) - (waits.length - index) * spacing) });
    return answer;
  };
  return {
    eval: (script: string, keyCount: number, ...rest: (string | number)[]) => run('eval', script, keyCount, ...rest),
    evalsha: (sha: string, keyCount: number, ...rest: (string | number)[]) => run('evalsha', sha, keyCount, ...rest),
  } as Pick<Redis, 'eval' | 'evalsha'>;
}

/** SMS_RATE_PER_SECOND at the call to Twilio, across processes (each with its own Redis connection). */
describe('SMS pacing (real Redis)', () => {
  const prefix = `forny-pacing-${randomBytes(5).toString('hex')}`;
  const connections: Redis[] = [];
  afterEach(async () => {
    for (const connection of connections.splice(0)) connection.disconnect();
    await deleteQueueKeys(TEST_REDIS_URL, prefix);
  });

  it('sends handed over at once by three processes get one slot each, 1000/rate ms apart in one sequence, and none leaves before its slot', async () => {
    const rate = 50;
    const spacing = 1000 / rate;
    const key = smsSlotKey(prefix);
    const inner = recording();
    const calls: HandedOut[][] = [[], [], []];
    const processes = calls.map((own) => {
      const redis = new Redis(TEST_REDIS_URL);
      connections.push(redis);
      return pacedSmsTransport(inner, createSmsRate({ redis: observed(redis, key, spacing, own), queuePrefix: prefix, ratePerSecond: rate }));
    });
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      const paced = processes[i % 3];
      if (paced) sends.push(paced.send({ to: '+4530000000', body: `sms ${i}`, statusCallback: 'https://forny.test/sms/status' }));
    }
    await Promise.all(sends);

    // Every send reached Twilio once; each process asked Redis once for its ten (one turn, one call).
    expect(inner.sent.map((send) => send.body).sort()).to.deep.equal(Array.from({ length: 30 }, (_, i) => `sms ${i}`).sort());
    expect(calls.map((own) => own.map((call) => call.waits.length))).to.deep.equal([[10], [10], [10]]);

    // A process's slots are 1000/rate ms apart: so are the waits it was told.
    for (const call of calls.flat()) {
      call.waits.forEach((wait, index) => index > 0 && expect(wait - (call.waits[index - 1] ?? 0)).to.be.closeTo(spacing, 0.001));
    }
    // One sequence across the processes: 30 slots on Redis's clock, each at least 1000/rate ms after
    // the one before (exactly that while the sends keep coming). The key is stored with Lua's
    // tostring (14 significant digits: 0.1 ms at today's epoch milliseconds), hence the 0.1.
    const slots = calls.flatMap((own) => own.flatMap((call) => call.slots)).sort((a, b) => a - b);
    for (let i = 1; i < slots.length; i++) expect((slots[i] ?? 0) - (slots[i - 1] ?? 0), `slot ${i} after slot ${i - 1}`).to.be.at.least(spacing - 0.1);

    // Each send waits for its slot: it reaches Twilio no earlier than its wait after the answer, less
    // 5 ms: a timer counts from the event loop's cached clock, which is whole milliseconds and as old
    // as the tick that set it (CI saw one arrive 1.04 ms early under load). A process's sends leave
    // in their slots' order.
    calls.forEach((own, process) => {
      const [call] = own;
      if (!call) throw new Error(`process ${process} asked for no slots`);
      const arrivals = call.waits.map((wait, index) => {
        const body = `sms ${index * 3 + process}`;
        const arrival = inner.sent.findIndex((send) => send.body === body);
        expect((inner.sent[arrival]?.at ?? 0) - call.answeredAt, `${body} waited for its slot`).to.be.at.least(wait - 5);
        return arrival;
      });
      expect(arrivals, `process ${process}'s sends in slot order`).to.deep.equal([...arrivals].sort((a, b) => a - b));
    });
  });

  it('never stops a send: while Redis does not answer, the send goes out unpaced', async () => {
    const inner = recording();
    const failures: string[] = [];
    const paced = pacedSmsTransport(
      inner,
      createSmsRate({
        redis: { eval: () => Promise.reject(new Error('Connection is closed.')), evalsha: () => Promise.reject(new Error('Connection is closed.')) },
        queuePrefix: prefix,
        ratePerSecond: 1,
        onUnavailable: (error) => failures.push(error.message),
      }),
    );
    await paced.send({ to: '+4530000000', body: 'x', statusCallback: 'https://forny.test/sms/status' });
    await paced.send({ to: '+4530000000', body: 'x', statusCallback: 'https://forny.test/sms/status' });
    expect(inner.sent).to.have.length(2);
    expect(failures).to.deep.equal(['Connection is closed.', 'Connection is closed.']);
  });

  it('a slot taken ahead (a reply sent at once) is one of the sequence: its send leaves in it and takes no second one', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    connections.push(redis);
    let calls = 0;
    const counted = {
      eval: (...args: Parameters<Redis['eval']>) => (calls++, redis.eval(...args)),
      evalsha: (...args: Parameters<Redis['evalsha']>) => (calls++, redis.evalsha(...args)),
    } as Pick<Redis, 'eval' | 'evalsha'>;
    // 4/s: a slot every 250 ms, so only the first is near enough for a reply sent at once.
    const rate = createSmsRate({ redis: counted, queuePrefix: prefix, ratePerSecond: 4 });
    const inner = recording();
    const slot = await rate.slotSoon();
    expect(slot, 'the first slot is free').to.not.equal(undefined);
    expect(await rate.slotSoon(), `the next is ${250} ms ahead, beyond ${AT_ONCE_WITHIN_MS} ms`).to.equal(undefined);
    const before = calls;
    await pacedSmsTransport(inner, rate).send({ to: '+4530000000', body: 'reply', statusCallback: 'https://forny.test/sms/status', ...(slot ? { slot } : {}) });
    expect({ sent: inner.sent.length, askedRedis: calls - before }).to.deep.equal({ sent: 1, askedRedis: 0 });
  });

  it('a refused ask takes nothing: the slots booked ahead stay as they were', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    connections.push(redis);
    const key = smsSlotKey(prefix);
    const [seconds, micros] = await redis.time();
    const booked = String(Number(seconds) * 1000 + Number(micros) / 1000 + 5_000);
    await redis.set(key, booked, 'PX', 60_000);
    const rate = createSmsRate({ redis, queuePrefix: prefix, ratePerSecond: 50 });
    expect(await Promise.all([rate.slotSoon(), rate.slotSoon()])).to.deep.equal([undefined, undefined]);
    expect(await redis.get(key)).to.equal(booked);
  });

  it('a reply is not sent at once while Redis does not answer (it queues); a paced send is never stopped', async () => {
    const down = { eval: () => Promise.reject(new Error('Connection is closed.')), evalsha: () => Promise.reject(new Error('Connection is closed.')) };
    const rate = createSmsRate({ redis: down, queuePrefix: prefix, ratePerSecond: 50 });
    expect(await rate.slotSoon()).to.equal(undefined);
    await rate.waitForSlot();
  });

  it('reminders and notices (bulk) take a slot only when one is free now, so a reply asked meanwhile is sent at once and leaves before the rest of them', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    connections.push(redis);
    // 10/s: a slot every 100 ms. Five bulk sends at once would book 0-400 ms ahead as ordinary sends.
    const rate = createSmsRate({ redis, queuePrefix: `${prefix}-bulk`, ratePerSecond: 10 });
    const inner = recording();
    const paced = pacedSmsTransport(inner, rate);
    const bulk = Array.from({ length: 5 }, (_, index) => paced.send({ to: '+4530000000', body: `notice ${index}`, statusCallback: 'https://forny.test/sms/status', bulk: true }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const slot = await rate.slotSoon();
    expect(slot, `a reply finds a slot within ${AT_ONCE_WITHIN_MS} ms: the notices booked none ahead`).to.not.equal(undefined);
    await Promise.all([...bulk, paced.send({ to: '+4530000001', body: 'reply', statusCallback: 'https://forny.test/sms/status', ...(slot ? { slot } : {}) })]);
    const order = inner.sent.map((sent) => sent.body);
    expect(order.indexOf('reply'), order.join(', ')).to.equal(1);
    expect(order.filter((body) => body !== 'reply').sort()).to.deep.equal(['notice 0', 'notice 1', 'notice 2', 'notice 3', 'notice 4']);
    // Each leaves in its own slot (a timer fires late under load, never 50 ms early).
    const times = inner.sent.map((sent) => sent.at);
    for (let i = 1; i < times.length; i++) expect((times[i] ?? 0) - (times[i - 1] ?? 0), `${order[i]} after ${order[i - 1]}`).to.be.at.least(50);
  });
});
