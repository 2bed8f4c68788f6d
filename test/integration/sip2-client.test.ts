import { expect } from 'chai';
import { ManualClock } from '../../src/clock.js';
import { Sip2Connection, type Sip2ConnectionOptions } from '../../src/library/sip2/connection.js';
import { Sip2ConnectionLost, Sip2Error, Sip2LoginRefused, Sip2Timeout, Sip2Unsupported } from '../../src/library/sip2/errors.js';
import { Sip2Pool } from '../../src/library/sip2/pool.js';
import { rejection } from '../helpers/harness.js';
import { Sip2Server, selfSignedCertificate, type Sip2ServerOptions } from '../helpers/sip2-server.js';

const PASSWORD = 'hemmelig-Kode9';
const at = new Date('2026-11-29T10:00:00Z');

function options(port: number, overrides: Partial<Sip2ConnectionOptions> = {}): Sip2ConnectionOptions {
  return {
    tls: false,
    host: '127.0.0.1',
    port,
    user: 'forny',
    password: PASSWORD,
    institution: 'HBK',
    location: 'HB01',
    encoding: 'utf8',
    timeoutMs: 2000,
    checksums: true,
    servername: null,
    caPem: null,
    ...overrides,
  };
}

/** How each promise settled; fails the test naming the stuck ones if any is still pending after 5 s (a hang, not a timing). */
async function settledOrStuck(promises: readonly Promise<unknown>[]): Promise<PromiseSettledResult<unknown>[]> {
  const done = promises.map(() => false);
  promises.forEach((promise, index) => void promise.then(() => (done[index] = true), () => (done[index] = true)));
  let timer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting: ${done.flatMap((d, i) => (d ? [] : [i])).join(', ')}`)), 5000);
  });
  try {
    return await Promise.race([Promise.allSettled(promises), stuck]);
  } finally {
    clearTimeout(timer);
  }
}

describe('SIP2 connection and pool against the simulator', () => {
  let server: Sip2Server;
  const opened: Array<{ close(): void }> = [];

  async function startServer(serverOptions: Sip2ServerOptions = {}): Promise<number> {
    server = new Sip2Server({ password: PASSWORD, ...serverOptions });
    server.addPatron({
      card: '1111222233',
      name: 'Søren Ærø',
      items: [{ id: 'I-1', title: 'Blåbærgrød på Ærø', dueDate: '2026-12-01', renewals: 0, maxRenewals: 2 }],
    });
    return server.start();
  }

  async function open(port: number, overrides: Partial<Sip2ConnectionOptions> = {}): Promise<Sip2Connection> {
    const connection = await Sip2Connection.open(options(port, overrides));
    opened.push(connection);
    return connection;
  }

  afterEach(async () => {
    for (const item of opened.splice(0)) item.close();
    await server.stop();
  });

  it('logs in with 93 (CN, CO, CP), checks 98 and then answers requests, AO on each, no violations', async () => {
    const port = await startServer();
    const connection = await open(port);
    const info = await connection.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at });
    expect(info).to.include({ title: 'Blåbærgrød på Ærø', dueDate: '2026-12-01', circulationStatus: '04' });
    expect(server.codes()).to.deep.equal(['93', '99', '17']);
    expect(server.received[0]!.text).to.equal(`9300CNforny|CO${PASSWORD}|CPHB01|`);
    expect(server.violations).to.deep.equal([]);
  });

  it('a refused login is Sip2LoginRefused, and no error text carries the password', async () => {
    const port = await startServer();
    server.refuseLogins = true;
    const error = await rejection(open(port));
    expect(error).to.be.instanceOf(Sip2LoginRefused);
    expect(error.message).to.match(/login refused/).and.to.contain(`127.0.0.1:${port}`);
    expect(error.message).not.to.contain(PASSWORD);
    expect(server.codes()).to.deep.equal(['93']);
  });

  it('a system whose 98 lacks renew and item information is refused, naming what is missing', async () => {
    const port = await startServer({ supported: 'YYYYYYYYYYNYYYNN' });
    const error = await rejection(open(port));
    expect(error).to.be.instanceOf(Sip2Unsupported);
    expect(error.message).to.contain('does not offer item information, renew (98 BX lacks them)');
  });

  it('an answer with a bad checksum is asked again with 97 and then read', async () => {
    const port = await startServer();
    const connection = await open(port);
    server.faults.push({ kind: 'badChecksum', on: '17' });
    const info = await connection.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at });
    expect(info.title).to.equal('Blåbærgrød på Ærø');
    expect(server.codes()).to.deep.equal(['93', '99', '17', '97']);
    expect(server.received[3]!.text).to.equal('97');
    expect(server.violations).to.deep.equal([]);
  });

  it('the system’s 96 makes forny send its last message again', async () => {
    const port = await startServer();
    const connection = await open(port);
    server.faults.push({ kind: 'resend', on: '17' });
    const info = await connection.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at });
    expect(info.dueDate).to.equal('2026-12-01');
    expect(server.codes()).to.deep.equal(['93', '99', '17', '17']);
    // The same message, under a new sequence number.
    expect(server.received[2]!.text.slice(0, 20)).to.equal(server.received[3]!.text.slice(0, 20));
  });

  it('a 96 in answer to our 97 repeats the 97, never the Renew it was about', async () => {
    const port = await startServer();
    const connection = await open(port);
    server.faults.push({ kind: 'badChecksum', on: '29' }, { kind: 'resend', on: '97' });
    const answer = await connection.request({ kind: 'renew', institution: 'HBK', patron: '1111222233', item: 'I-1', at });
    expect(answer).to.include({ ok: true, renewalOk: true, dueDate: '2026-12-15' });
    expect(server.codes()).to.deep.equal(['93', '99', '29', '97', '97']);
    expect(server.item('I-1')!.renewals).to.equal(1);
  });

  it('no answer within the time-out is Sip2Timeout, and the connection is given up', async () => {
    const port = await startServer();
    const connection = await open(port, { timeoutMs: 200 });
    server.faults.push({ kind: 'late', on: '17', ms: 3000 });
    const error = await rejection(connection.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at }));
    expect(error).to.be.instanceOf(Sip2Timeout);
    expect(error.message).to.match(/no answer to 17 within 200 ms/);
    expect(connection.alive).to.equal(false);
    expect(await rejection(connection.request({ kind: 'scStatus' }))).to.be.instanceOf(Sip2Error);
  });

  it('the pool replaces a connection the system dropped', async () => {
    const port = await startServer();
    const pool = new Sip2Pool({ ...options(port), poolSize: 1 }, new ManualClock(at));
    opened.push(pool);
    await pool.use((c) => c.request({ kind: 'scStatus' }));
    server.faults.push({ kind: 'drop', on: '17' });
    const error = await rejection(pool.use((c) => c.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at })));
    expect(error).to.be.instanceOf(Sip2ConnectionLost);
    const info = await pool.use((c) => c.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at }));
    expect(info.title).to.equal('Blåbærgrød på Ærø');
    const sessions = new Set(server.received.map((m) => m.connection));
    expect(sessions.size).to.equal(2);
    expect(server.received.filter((m) => m.code === '93')).to.have.length(2);
    expect(server.violations).to.deep.equal([]);
  });

  it('the pool backs off while the system is down, then connects when it is back', async () => {
    const port = await startServer();
    await server.stop();
    const clock = new ManualClock(at);
    const pool = new Sip2Pool({ ...options(port), poolSize: 2, backoff: { initialMs: 5000, maxMs: 60_000 } }, clock);
    opened.push(pool);
    const first = await rejection(pool.use((c) => c.request({ kind: 'scStatus' })));
    expect(first).to.be.instanceOf(Sip2ConnectionLost);
    expect(first.message).to.match(/cannot connect \(ECONNREFUSED\)/);
    await server.start();
    const second = await rejection(pool.use((c) => c.request({ kind: 'scStatus' })));
    expect(second.message).to.match(/next attempt in 5 s/);
    expect(server.received).to.have.length(0);
    clock.advance(5000);
    await pool.use((c) => c.request({ kind: 'scStatus' }));
    expect(server.codes()).to.deep.equal(['93', '99', '99']);
  });

  it('the pool holds at most its size of connections; a third user waits for one', async () => {
    const port = await startServer();
    const pool = new Sip2Pool({ ...options(port), poolSize: 2 }, new ManualClock(at));
    opened.push(pool);
    server.faults.push({ kind: 'late', on: '17', ms: 100 }, { kind: 'late', on: '17', ms: 100 });
    const ask = () => pool.use((c) => c.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at }));
    const answers = await Promise.all([ask(), ask(), ask()]);
    expect(answers.map((a) => a.title)).to.deep.equal(['Blåbærgrød på Ærø', 'Blåbærgrød på Ærø', 'Blåbærgrød på Ærø']);
    expect(new Set(server.received.map((m) => m.connection)).size).to.equal(2);
  });

  it('a connect that fails while users wait wakes every one of them: each fails at once, none is left waiting', async () => {
    const port = await startServer();
    const pool = new Sip2Pool({ ...options(port), poolSize: 1 }, new ManualClock(at));
    opened.push(pool);
    server.faults.push({ kind: 'late', on: '17', ms: 1000 });
    const holding = pool.use((c) => c.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at }));
    const waiting = Array.from({ length: 4 }, () => pool.use((c) => c.request({ kind: 'scStatus' })));
    while (!server.codes().includes('17')) await new Promise((resolve) => setImmediate(resolve));
    await server.stop(); // the system dies: the connection in use is lost, and the next connect is refused

    // The first waiter's connect is refused; the rest fall in its backoff. Every one must hear so.
    const settled = await settledOrStuck([holding, ...waiting]);
    expect(settled.map((result) => result.status)).to.deep.equal(['rejected', 'rejected', 'rejected', 'rejected', 'rejected']);
  });

  it('waiting for a connection ends at the caller’s deadline, or at the time-out, whichever comes first', async () => {
    const port = await startServer();
    const clock = new ManualClock(at);
    const pool = new Sip2Pool({ ...options(port, { timeoutMs: 800 }), poolSize: 1 }, clock);
    opened.push(pool);
    server.faults.push({ kind: 'late', on: '17', ms: 500 });
    const order: string[] = [];
    const track = <T>(name: string, promise: Promise<T>) => promise.then(() => void order.push(`${name} done`), (error: Error) => void order.push(`${name} ${error.name}`));
    const ask = (c: Sip2Connection) => c.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at });
    const worked: string[] = [];

    // The deadline 50 ms from now on the pool's clock: the waiter gives up then, before the connection is free.
    const holding = track('holding', pool.use(ask));
    const bounded = track('deadline', pool.use(async (c) => (worked.push('deadline'), ask(c)), { deadline: new Date(clock.now().getTime() + 50) }));
    await Promise.all([holding, bounded]);
    expect(order).to.deep.equal(['deadline Sip2Timeout', 'holding done']);

    // No deadline: the wait is bounded by the time-out (800 ms), shorter than two late answers.
    order.length = 0;
    server.faults.push({ kind: 'late', on: '17', ms: 500 }, { kind: 'late', on: '17', ms: 500 });
    const first = track('holding', pool.use(ask));
    const second = track('queued', pool.use(ask));
    const third = track('timed out', pool.use(async (c) => (worked.push('timed out'), ask(c))));
    await Promise.all([first, second, third]);
    expect(order).to.deep.equal(['holding done', 'timed out Sip2Timeout', 'queued done']);
    expect(worked).to.deep.equal([]);
  });

  it('a deadline already past fails at once, without asking the system', async () => {
    const port = await startServer();
    const clock = new ManualClock(at);
    const pool = new Sip2Pool({ ...options(port), poolSize: 1 }, clock);
    opened.push(pool);
    const error = await rejection(pool.use((c) => c.request({ kind: 'scStatus' }), { deadline: clock.now() }));
    expect(error).to.be.instanceOf(Sip2Timeout);
    expect(server.received).to.have.length(0);
  });

  it('the reconnect backoff is capped (5 s by default), so a short outage costs seconds', async () => {
    const port = await startServer();
    await server.stop();
    const clock = new ManualClock(at);
    const pool = new Sip2Pool({ ...options(port), poolSize: 1 }, clock);
    opened.push(pool);
    const waits: number[] = [];
    for (let attempt = 0; attempt < 6; attempt++) {
      await rejection(pool.use((c) => c.request({ kind: 'scStatus' }))); // a refused connect
      const next = await rejection(pool.use((c) => c.request({ kind: 'scStatus' }))); // inside the backoff
      const seconds = Number(/next attempt in (\d+) s/.exec(next.message)?.[1]);
      waits.push(seconds);
      clock.advance(seconds * 1000);
    }
    expect(waits).to.deep.equal([1, 2, 4, 5, 5, 5]);
  });

  it('close() ends everything at once, even mid-request, and never hangs', async () => {
    const port = await startServer();
    const pool = new Sip2Pool({ ...options(port, { timeoutMs: 30_000 }), poolSize: 1 }, new ManualClock(at));
    server.faults.push({ kind: 'late', on: '17', ms: 20_000 });
    const inFlight = pool.use((c) => c.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at }));
    const waiting = pool.use((c) => c.request({ kind: 'scStatus' }));
    while (!server.codes().includes('17')) await new Promise((resolve) => setImmediate(resolve));
    const started = Date.now();
    pool.close();
    const [a, b] = await Promise.all([rejection(inFlight), rejection(waiting)]);
    expect(Date.now() - started).to.be.below(1000);
    expect(a).to.be.instanceOf(Sip2ConnectionLost);
    expect(b).to.be.instanceOf(Sip2ConnectionLost);
    expect(await rejection(pool.use(async () => 1))).to.be.instanceOf(Sip2ConnectionLost);
  });

  it('close() also ends a connection still logging in', async () => {
    const port = await startServer();
    const pool = new Sip2Pool({ ...options(port, { timeoutMs: 30_000 }), poolSize: 1 }, new ManualClock(at));
    server.faults.push({ kind: 'late', on: '93', ms: 20_000 });
    const using = pool.use((c) => c.request({ kind: 'scStatus' }));
    while (!server.codes().includes('93')) await new Promise((resolve) => setImmediate(resolve));
    const started = Date.now();
    pool.close();
    expect(await rejection(using)).to.be.instanceOf(Sip2ConnectionLost);
    expect(Date.now() - started).to.be.below(1000);
  });

  for (const encoding of ['utf8', 'latin1'] as const) {
    it(`titles and names with æøå arrive intact in ${encoding}`, async () => {
      const port = await startServer({ encoding });
      const connection = await open(port, { encoding });
      const patron = await connection.request({ kind: 'patronInformation', institution: 'HBK', patron: '1111222233', at, start: 1, end: 5 });
      expect(patron.name).to.equal('Søren Ærø');
      expect(patron.chargedItems).to.deep.equal(['I-1']);
      const info = await connection.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at });
      expect(info.title).to.equal('Blåbærgrød på Ærø');
      expect(server.violations).to.deep.equal([]);
    });
  }

  it('works without error detection when checksums=false', async () => {
    const port = await startServer({ checksums: false });
    const connection = await open(port, { checksums: false });
    await connection.request({ kind: 'scStatus' });
    expect(server.received.every((m) => !m.text.includes('AZ'))).to.equal(true);
    expect(server.violations).to.deep.equal([]);
  });

  describe('over TLS', () => {
    let certificate: ReturnType<typeof selfSignedCertificate>;
    before(() => {
      certificate = selfSignedCertificate();
    });
    after(() => certificate.cleanup());

    it('connects with the CA from ca= and the server name', async () => {
      const port = await startServer({ tls: { key: certificate.key, cert: certificate.cert } });
      const connection = await open(port, { tls: true, caPem: certificate.cert, servername: 'localhost' });
      const info = await connection.request({ kind: 'itemInformation', institution: 'HBK', item: 'I-1', at });
      expect(info.title).to.equal('Blåbærgrød på Ærø');
    });

    it('refuses a certificate no trusted CA signed', async () => {
      const port = await startServer({ tls: { key: certificate.key, cert: certificate.cert } });
      const error = await rejection(open(port, { tls: true }));
      expect(error).to.be.instanceOf(Sip2ConnectionLost);
      expect(error.message).to.match(/cannot connect \(.*SELF_SIGNED.*\)/);
      expect(server.received).to.have.length(0);
    });
  });
});
