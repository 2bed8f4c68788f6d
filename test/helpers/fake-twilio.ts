import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';

/** A message the fake Twilio accepted. */
export interface AcceptedMessage {
  readonly sid: string;
  readonly createdAt: Date;
  readonly to: string;
  readonly from: string | undefined;
  readonly messagingServiceSid: string | undefined;
  readonly body: string;
  readonly statusCallback: string | undefined;
}

/** What the next request(s) should meet instead of success. */
export type Failure =
  | { readonly kind: 'http'; readonly status: number; readonly code?: number; readonly message?: string }
  | { readonly kind: 'reset' } // the connection drops after the request arrived: outcome unknown
  | { readonly kind: 'accept-then-reset' }; // the message is accepted, but the answer never arrives

/**
 * A Twilio-compatible Messages API on loopback: real HTTP, real basic auth, Twilio's JSON shapes
 * for success and errors. Tests point TWILIO_API_BASE_URL at it and tell it when to fail.
 */
export class FakeTwilio {
  readonly accountSid = `AC${randomBytes(16).toString('hex')}`;
  readonly authToken = randomBytes(16).toString('hex');
  readonly messages: AcceptedMessage[] = [];
  /** Every request that reached the Messages endpoint, failed or not. */
  requests = 0;
  /** Message listings asked for (the look-ups after an attempt that died mid-call). */
  listings = 0;
  private readonly failures: Failure[] = [];
  private readonly listFailures: number[] = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The next `times` sends meet `failure`, in order, before sends succeed again. */
  failNext(failure: Failure, times = 1): void {
    for (let i = 0; i < times; i += 1) this.failures.push(failure);
  }

  /** The next `times` message listings answer with HTTP `status` instead. */
  failNextList(status: number, times = 1): void {
    for (let i = 0; i < times; i += 1) this.listFailures.push(status);
  }

  messagesTo(to: string): AcceptedMessage[] {
    return this.messages.filter((message) => message.to === to);
  }

  /** Posts a signed delivery receipt for `sid` to the app, as Twilio would. */
  async deliver(sid: string, status: string, options: { publicStatusUrl: string; localStatusUrl: string; errorCode?: string }): Promise<number> {
    const params: Record<string, string> = { MessageSid: sid, MessageStatus: status, AccountSid: this.accountSid, ...(options.errorCode ? { ErrorCode: options.errorCode } : {}) };
    const signature = twilio.getExpectedTwilioSignature(this.authToken, options.publicStatusUrl, params);
    const response = await fetch(options.localStatusUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      body: new URLSearchParams(params),
    });
    return response.status;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const url = new URL(req.url ?? '/', this.url);
    const match = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Messages\.json$/.exec(url.pathname);
    if (!match || (req.method !== 'POST' && req.method !== 'GET')) return this.error(res, 404, 20404, `The requested resource ${req.url} was not found`);

    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    if (match[1] !== this.accountSid || req.headers.authorization !== expected) return this.error(res, 401, 20003, 'Authenticate');
    if (req.method === 'GET') {
      this.listings += 1;
      const status = this.listFailures.shift();
      return status === undefined ? this.list(res, url.searchParams) : this.error(res, status, undefined, `failure ${status}`);
    }

    this.requests += 1;
    const failure = this.failures.shift();
    if (failure?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (failure?.kind === 'http') return this.error(res, failure.status, failure.code, failure.message ?? `failure ${failure.status}`);

    const to = form.get('To') ?? '';
    if (!/^\+\d{6,15}$/.test(to)) return this.error(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    const message: AcceptedMessage = {
      sid: `SM${randomBytes(16).toString('hex')}`,
      createdAt: new Date(),
      to,
      from: form.get('From') ?? undefined,
      messagingServiceSid: form.get('MessagingServiceSid') ?? undefined,
      body: form.get('Body') ?? '',
      statusCallback: form.get('StatusCallback') ?? undefined,
    };
    this.messages.push(message);
    if (failure?.kind === 'accept-then-reset') {
      req.socket.destroy();
      return;
    }
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify(this.resource(message)));
  }

  /** Twilio's message list: filtered by To, newest first, one page. */
  private list(res: ServerResponse, query: URLSearchParams): void {
    const to = query.get('To');
    const pageSize = Number(query.get('PageSize') ?? 50);
    const messages = this.messages.filter((message) => to === null || message.to === to).reverse().slice(0, pageSize);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        messages: messages.map((message) => this.resource(message)),
        page: 0,
        page_size: pageSize,
        first_page_uri: `/2010-04-01/Accounts/${this.accountSid}/Messages.json?PageSize=${pageSize}&Page=0`,
        next_page_uri: null,
        previous_page_uri: null,
        uri: `/2010-04-01/Accounts/${this.accountSid}/Messages.json?PageSize=${pageSize}&Page=0`,
      }),
    );
  }

  private resource(message: AcceptedMessage) {
    return {
      sid: message.sid,
      account_sid: this.accountSid,
      to: message.to,
      from: message.from ?? null,
      messaging_service_sid: message.messagingServiceSid ?? null,
      body: message.body,
      status: 'queued',
      num_segments: '1',
      direction: 'outbound-api',
      api_version: '2010-04-01',
      date_created: message.createdAt.toUTCString(),
      uri: `/2010-04-01/Accounts/${this.accountSid}/Messages/${message.sid}.json`,
    };
  }

  private error(res: ServerResponse, status: number, code: number | undefined, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: code ?? status, message, more_info: `https://www.twilio.com/docs/errors/${code ?? status}`, status }));
  }
}
