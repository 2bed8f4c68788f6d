import { expect } from 'chai';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError } from '../../src/errors.js';
import { parseForm, readForm } from '../../src/http/form-body.js';

describe('parseForm (the webhooks’ form reader)', () => {
  it('decodes a Twilio form: escapes, + as a space, æøå, and an escaped + as a plus', () => {
    const form = parseForm('From=%2B4520000001&Body=HBK+FORNY+ALLE&Title=B%C3%B8ger+p%C3%A5+l%C3%A6rred', 200);
    expect({ ...form }).to.deep.equal({ From: '+4520000001', Body: 'HBK FORNY ALLE', Title: 'Bøger på lærred' });
  });

  it('keeps a repeated field as a list, in the order sent, as Twilio signs it', () => {
    expect(parseForm('Body=a&To=1910&Body=b&Body=c', 200).Body).to.deep.equal(['a', 'b', 'c']);
  });

  it('keeps an escape that does not decode as sent, and reads a field without = as empty', () => {
    expect({ ...parseForm('Body=100%25+sure&Bad=%E0%A4%A&Flag', 200) }).to.deep.equal({ Body: '100% sure', Bad: '%E0%A4%A', Flag: '' });
  });

  it('treats __proto__ as a field name, never as the prototype', () => {
    const form = parseForm('__proto__=x&constructor=y', 200);
    expect(form['__proto__']).to.equal('x');
    expect(Object.getPrototypeOf(form)).to.equal(null);
    expect(({} as Record<string, unknown>).x).to.equal(undefined);
  });

  it('refuses more fields than allowed with 413', () => {
    expect(() => parseForm('a=1&b=2&c=3', 2)).to.throw(AppError).with.property('httpStatus', 413);
    expect(Object.keys(parseForm('a=1&b=2', 2))).to.have.length(2);
  });
});

describe('readForm', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((req, res) => {
      readForm(req, { maxBytes: 1024, maxFields: 10 }).then(
        (form) => res.writeHead(200).end(JSON.stringify(form)),
        (error: AppError) => res.writeHead(error.httpStatus).end(error.code),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Posts `chunks` one after another (chunked, no Content-Length unless given); resolves to status and body. */
  const post = (headers: Record<string, string>, chunks: string[]): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });
  const form = 'application/x-www-form-urlencoded';

  it('reads a form sent in pieces, with or without charset=utf-8', async () => {
    expect(await post({ 'content-type': form }, ['Body=HBK', '+FORNY', '+ALLE'])).to.deep.equal({ status: 200, body: '{"Body":"HBK FORNY ALLE"}' });
    expect((await post({ 'content-type': `${form}; charset=UTF-8` }, ['Body=%C3%A6'])).body).to.equal('{"Body":"æ"}');
  });

  it('answers 415 to another media type, charset or content encoding', async () => {
    expect(await post({ 'content-type': 'application/json' }, ['{}'])).to.deep.equal({ status: 415, body: 'unsupported_media_type' });
    expect(await post({ 'content-type': `${form}; charset=latin1` }, ['Body=x'])).to.deep.equal({ status: 415, body: 'unsupported_charset' });
    expect(await post({ 'content-type': form, 'content-encoding': 'gzip' }, ['Body=x'])).to.deep.equal({ status: 415, body: 'unsupported_encoding' });
  });

  it('answers 413 to a body over the limit, declared (before reading it) or sent (once past the limit)', async () => {
    expect(await post({ 'content-type': form }, ['Body=', 'x'.repeat(600), 'x'.repeat(600)])).to.deep.equal({ status: 413, body: 'payload_too_large' });
    const big = `Body=${'x'.repeat(2000)}`;
    expect(await post({ 'content-type': form, 'content-length': String(big.length) }, [big])).to.deep.equal({ status: 413, body: 'payload_too_large' });
    // The connection still serves the next request.
    expect((await post({ 'content-type': form }, ['Body=ok'])).status).to.equal(200);
  });
});
