import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { loadConfig } from '../../src/config.js';
import { eventually, Harness } from '../helpers/harness.js';
import { parseExposition, sampleValue } from '../helpers/prometheus-text.js';

/** Opens a connection and resolves once it is connected. */
const open = (baseUrl: string): Promise<Socket> => {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => resolve(socket));
    socket.once('error', reject);
  });
};

/** Writes `request` on a new connection; what came back before the server closed it. */
const answerOf = (baseUrl: string, request: string): Promise<string> => {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let answer = '';
    socket.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    socket.on('error', () => undefined); // a reset is one way of being closed
    socket.on('close', () => resolve(answer));
  });
};

const metric = async (baseUrl: string, name: string, labels: Record<string, string> = {}) => sampleValue(parseExposition(await (await fetch(`${baseUrl}/metrics`)).text()), name, labels);

/**
 * Idle connections and half-sent bodies cost memory and time (15k idle sockets stalled /healthz for
 * 8 s; 4,000 half-sent 60 KiB bodies took 260 MB). Both are capped per process, and the caps are
 * configuration; here they are small, so bounded loops on loopback reach them.
 */
describe('security: caps on connections and bodies in progress', function () {
  it('has defaults, each configurable and checked at start', () => {
    const defaults = loadConfig({});
    expect(defaults.http.maxConnections).to.equal(2000);
    expect(defaults.http.maxBodiesInFlight).to.equal(256);
    const set = loadConfig({ HTTP_MAX_CONNECTIONS: '50', HTTP_MAX_BODIES_IN_FLIGHT: '8' });
    expect([set.http.maxConnections, set.http.maxBodiesInFlight]).to.deep.equal([50, 8]);
    expect(() => loadConfig({ HTTP_MAX_CONNECTIONS: '0' })).to.throw(/HTTP_MAX_CONNECTIONS \("0"\)/);
    expect(() => loadConfig({ HTTP_MAX_BODIES_IN_FLIGHT: 'many' })).to.throw(/HTTP_MAX_BODIES_IN_FLIGHT \("many"\): expected a whole number/);
  });

  describe('connections', () => {
    let h: Harness;
    const sockets: Socket[] = [];
    before(async () => {
      h = await Harness.start({ env: { HTTP_MAX_CONNECTIONS: '10' } });
    });
    after(async () => {
      for (const socket of sockets) socket.destroy();
      await h.stop();
    });
    const connections = () => new Promise<number>((resolve, reject) => h.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

    it('closes a connection over the cap at once, and serves again when one is free', async () => {
      expect(h.server.maxConnections).to.equal(10);
      while ((await connections()) < 10) sockets.push(await open(h.baseUrl));
      expect(await answerOf(h.baseUrl, 'GET /healthz HTTP/1.1\r\nHost: forny\r\nConnection: close\r\n\r\n')).to.equal('');

      for (const socket of sockets.splice(0)) socket.destroy();
      await eventually(async () => (await connections()) === 0, 5000, 'the idle connections closed');
      expect((await fetch(`${h.baseUrl}/healthz`)).status).to.equal(200);
      expect(await metric(h.baseUrl, 'forny_http_connections_dropped_total')).to.equal(1);
    });
  });

  describe('bodies in progress', () => {
    let h: Harness;
    const sockets: Socket[] = [];
    before(async () => {
      h = await Harness.start({ env: { HTTP_MAX_BODIES_IN_FLIGHT: '4' } });
    });
    after(async () => {
      for (const socket of sockets) socket.destroy();
      await h.stop();
    });

    it('answers 503 with Retry-After to a body over the cap, without reading it, and keeps serving the rest', async () => {
      let arrived = 0;
      h.server.on('request', (req: { method?: string; url?: string }) => {
        if (req.method === 'POST' && req.url === '/sms/inbound') arrived += 1;
      });
      // Four webhooks send half of a 60 KiB body and stop.
      for (let index = 0; index < 4; index += 1) {
        const socket = await open(h.baseUrl);
        socket.on('error', () => undefined);
        socket.write(`POST /sms/inbound HTTP/1.1\r\nHost: forny\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: x\r\nContent-Length: ${60 * 1024}\r\n\r\nBody=${'x'.repeat(30 * 1024)}`);
        sockets.push(socket);
      }
      await eventually(async () => arrived === 4, 5000, 'the four half-sent webhooks');

      const fifth = await h.text('+4561000001', 'HBK FORNY ALLE');
      expect(fifth.response.status).to.equal(503);
      expect(fifth.response.headers.get('retry-after')).to.match(/^\d+$/);
      expect(((await fifth.response.json()) as { error: string }).error).to.equal('busy');
      expect((await fetch(`${h.baseUrl}/healthz`)).status).to.equal(200); // no body, no cap

      for (const socket of sockets.splice(0)) socket.destroy();
      await eventually(async () => (await metric(h.baseUrl, 'forny_http_bodies_in_flight')) === 0, 5000, 'the half-sent bodies given up');
      expect((await h.text('+4561000001', 'HBK FORNY ALLE')).response.status).to.equal(200);
      expect(await metric(h.baseUrl, 'forny_http_bodies_refused_total')).to.equal(1);
    });
  });
});
