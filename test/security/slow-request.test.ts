import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { HTTP_TIMEOUTS } from '../../src/http/serve.js';
import { Harness } from '../helpers/harness.js';

/** Short time-outs of the same shape as production's, so the test takes seconds, not 35. */
const SHORT = { requestTimeoutMs: 1500, headersTimeoutMs: 1000, keepAliveTimeoutMs: 1000, connectionsCheckingIntervalMs: 250 };

/**
 * Opens a connection, writes `head` at once, then one byte of `drip` every `everyMs` until the
 * server closes the connection; resolves with how long that took and what the server answered.
 */
function dripUntilClosed(baseUrl: string, head: string, drip: string, everyMs: number, limitMs: number): Promise<{ ms: number; answer: string }> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket: Socket = connect(Number(port), hostname);
    let answer = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const limit = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${limitMs} ms`));
    }, limitMs);
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined); // a reset is one way of being closed
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(limit);
      resolve({ ms: performance.now() - started, answer });
    });
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (!socket.writable) return;
        socket.write(drip[sent % drip.length] ?? 'x');
        sent += 1;
      }, everyMs);
    });
  });
}

describe('security: slow requests', function () {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ timeouts: SHORT });
  });
  after(async () => h.stop());

  it('closes a request whose body arrives a byte at a time (408), within the request time-out plus one check', async () => {
    const head = 'POST /sms/inbound HTTP/1.1\r\nHost: forny\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 60000\r\n\r\n'; // under the 64 KiB limit: a body that is refused only for its pace
    const { ms, answer } = await dripUntilClosed(h.baseUrl, head, 'Body=HBK', 100, 10_000);
    expect(ms).to.be.lessThan(SHORT.requestTimeoutMs + SHORT.connectionsCheckingIntervalMs + 1500);
    expect(answer).to.match(/^HTTP\/1\.1 408/);
    expect(Number((await h.deps.db('inbound_messages').count({ n: '*' }).first())?.n)).to.equal(0);
  });

  it('closes a request whose headers arrive a byte at a time', async () => {
    const { ms } = await dripUntilClosed(h.baseUrl, 'GET /healthz HTTP/1.1\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n', 100, 10_000);
    expect(ms).to.be.lessThan(SHORT.headersTimeoutMs + SHORT.connectionsCheckingIntervalMs + 1500);
  });

  it('keeps serving everyone else meanwhile, and closes idle keep-alive connections after their time-out', async () => {
    expect((await fetch(`${h.baseUrl}/healthz`)).status).to.equal(200);
    expect(h.server.keepAliveTimeout).to.equal(SHORT.keepAliveTimeoutMs);
  });

  it('runs production with SPEC §7 time-outs: 30 s for a request, checked often enough to close a byte-every-5-s request within 45 s', async () => {
    expect(HTTP_TIMEOUTS.requestTimeoutMs).to.equal(30_000);
    expect(HTTP_TIMEOUTS.headersTimeoutMs).to.be.at.most(30_000);
    expect(HTTP_TIMEOUTS.requestTimeoutMs + HTTP_TIMEOUTS.connectionsCheckingIntervalMs).to.be.at.most(45_000 - 5_000);
    expect(HTTP_TIMEOUTS.keepAliveTimeoutMs).to.be.within(1, 30_000);
    const production = await Harness.start();
    try {
      expect(production.server.requestTimeout).to.equal(30_000);
      expect(production.server.headersTimeout).to.equal(HTTP_TIMEOUTS.headersTimeoutMs);
      expect(production.server.keepAliveTimeout).to.equal(HTTP_TIMEOUTS.keepAliveTimeoutMs);
    } finally {
      await production.stop();
    }
  });
});
