import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';
import { expect } from 'chai';
import { createApp } from '../../src/http/create-app.js';
import { EVERY_RULE_TODAY, KAREN, OTHER_PATRON, everyRuleLibrary } from '../fixtures/every-rule.js';
import type { MessageView } from '../helpers/api-views.js';
import { eventually, Harness, newMessageSid } from '../helpers/harness.js';

/**
 * docs/openapi.yaml is the project's own description of its HTTP routes (issue 21, SPEC §7). This
 * test holds it to the running app: the document is valid OpenAPI 3.1 (checked against the
 * specification's own schema by @seriousme/openapi-schema-validator), and real answers of the
 * real app (status, media type, body, required headers) are validated with Ajv's JSON Schema
 * 2020-12 dialect, OpenAPI 3.1's, against the response the document gives for that status. A
 * route registered under /api or as a probe without being documented fails it too.
 */

const DOC_FILE = fileURLToPath(new URL('../../docs/openapi.yaml', import.meta.url));
/** The document's id inside Ajv: its schemas are compiled by JSON pointer into it. */
const DOC_ID = 'https://forny.test/openapi.yaml';
const NOTICES_TOKEN = 'notices-token-for-openapi-test-0123456789';
const METRICS_TOKEN = 'metrics-token-for-openapi-test-0123456789';
const NOW = `${EVERY_RULE_TODAY}T10:00:00+01:00`;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `/api/inbound/{messageSid}` as a JSON pointer token: `~1api~1inbound~1{messageSid}`. */
const pointerToken = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');
const unescapeToken = (token: string) => token.replaceAll('~1', '/').replaceAll('~0', '~');

/** The document, read once, with the validators compiled from it on demand. */
class OpenApiDocument {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  /** Every (operation, status) a real answer was validated against. */
  readonly validated = new Set<string>();

  constructor(readonly spec: JsonObject) {
    // strict: a keyword Ajv does not know (a typo, an OpenAPI 3.0 habit like `nullable`) fails
    // the compile. The root's OpenAPI fields are not JSON Schema: known, never descended into.
    this.ajv = new Ajv2020({ strict: true, strictTypes: false, allowUnionTypes: true, allErrors: true });
    ajvFormats.default(this.ajv);
    this.ajv.addVocabulary(['openapi', 'info', 'servers', 'tags', 'paths', 'components', 'webhooks', 'security', 'externalDocs', 'jsonSchemaDialect']);
    this.ajv.addSchema(spec, DOC_ID);
  }

  /** The value at a JSON pointer (`/paths/~1healthz/get`), or a failure naming the pointer. */
  at(pointer: string): unknown {
    let value: unknown = this.spec;
    for (const token of pointer.split('/').slice(1).map(unescapeToken)) {
      if (!isObject(value) || !(token in value)) throw new Error(`docs/openapi.yaml has nothing at ${pointer}`);
      value = value[token];
    }
    return value;
  }

  /** Follows a Reference Object (`$ref: '#/components/…'`) to what it names, with that pointer. */
  follow(pointer: string): { pointer: string; value: JsonObject } {
    let current = pointer;
    for (let hops = 0; hops < 10; hops++) {
      const value = this.at(current);
      if (!isObject(value)) throw new Error(`docs/openapi.yaml: ${current} is not an object`);
      const ref = value.$ref;
      if (typeof ref !== 'string') return { pointer: current, value };
      if (!ref.startsWith('#/')) throw new Error(`docs/openapi.yaml: ${current} refers outside the document (${ref})`);
      current = ref.slice(1);
    }
    throw new Error(`docs/openapi.yaml: ${pointer} refers in a circle`);
  }

  /** The schema at `pointer`, compiled once (its $refs resolved inside the document). */
  validator(pointer: string): ValidateFunction {
    let validate = this.compiled.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${DOC_ID}#${pointer}` });
      this.compiled.set(pointer, validate);
    }
    return validate;
  }

  /** Fails with Ajv's errors unless `value` is valid by the schema at `pointer`. */
  expectValid(pointer: string, value: unknown, what: string): void {
    const validate = this.validator(pointer);
    if (!validate(value)) {
      expect.fail(`${what} does not match docs/openapi.yaml#${pointer}: ${this.ajv.errorsText(validate.errors, { dataVar: 'answer' })}\n${JSON.stringify(value).slice(0, 600)}`);
    }
  }

  /** True when `value` is valid by the schema at `pointer`. */
  accepts(pointer: string, value: unknown): boolean {
    return this.validator(pointer)(value) === true;
  }

  /** Every operation as `post /api/notices`, with its pointer. */
  operations(): { method: string; path: string; pointer: string }[] {
    const paths = this.at('/paths');
    if (!isObject(paths)) throw new Error('docs/openapi.yaml has no paths');
    return Object.entries(paths).flatMap(([path, item]) =>
      METHODS.filter((method) => isObject(item) && method in item).map((method) => ({ method, path, pointer: `/paths/${pointerToken(path)}/${method}` })),
    );
  }

  /** The pointers of every schema in the document's operations and components. */
  schemaPointers(): string[] {
    const found: string[] = [];
    const walk = (value: unknown, pointer: string) => {
      if (Array.isArray(value)) value.forEach((item, index) => walk(item, `${pointer}/${index}`));
      if (!isObject(value)) return;
      for (const [key, child] of Object.entries(value)) {
        if (key === 'schema' && isObject(child)) found.push(`${pointer}/schema`);
        else if (key !== 'examples' && key !== 'example') walk(child, `${pointer}/${pointerToken(key)}`);
      }
    };
    walk(this.at('/paths'), '/paths');
    walk(this.at('/components'), '/components');
    const schemas = this.at('/components/schemas');
    if (isObject(schemas)) for (const name of Object.keys(schemas)) found.push(`/components/schemas/${pointerToken(name)}`);
    return found;
  }

  /**
   * Holds a real answer to the document: its status is one the operation documents; its media type
   * one that status documents, its body valid by that schema (or empty when none is documented);
   * every header documented as required present and valid. Returns the body (parsed JSON or text).
   */
  async expectAnswer(method: string, path: string, response: Response, status: number): Promise<unknown> {
    const operation = `${method} ${path}`;
    const text = await response.text();
    expect(response.status, `${operation}: ${text.slice(0, 300)}`).to.equal(status);
    const answers = this.follow(`/paths/${pointerToken(path)}/${method}`).pointer;
    const documented = this.follow(`${answers}/responses/${status}`);
    const content = documented.value.content;
    if (isObject(content)) {
      const media = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      expect(Object.keys(content), `${operation} ${status}: media type ${media}`).to.include(media);
      const body: unknown = media === 'application/json' ? JSON.parse(text) : text;
      this.expectValid(`${documented.pointer}/content/${pointerToken(media)}/schema`, body, `${operation} ${status}`);
      this.checkHeaders(documented, response, `${operation} ${status}`);
      this.validated.add(`${operation} ${status}`);
      return body;
    }
    expect(text, `${operation} ${status}: no body is documented`).to.equal('');
    this.checkHeaders(documented, response, `${operation} ${status}`);
    this.validated.add(`${operation} ${status}`);
    return undefined;
  }

  private checkHeaders(documented: { pointer: string; value: JsonObject }, response: Response, what: string): void {
    const headers = documented.value.headers;
    if (!isObject(headers)) return;
    for (const name of Object.keys(headers)) {
      const header = this.follow(`${documented.pointer}/headers/${pointerToken(name)}`);
      const value = response.headers.get(name);
      if (header.value.required === true) expect(value, `${what}: header ${name}`).to.be.a('string');
      if (value !== null && isObject(header.value.schema)) this.expectValid(`${header.pointer}/schema`, value, `${what}: header ${name}`);
    }
  }
}

/** A port nothing listens on: the library system that does not answer. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** The routes Express has registered, walked through mounted routers: `get /api/inbound/{messageSid}`. */
function registeredRoutes(stack: readonly unknown[], prefix = ''): string[] {
  const routes: string[] = [];
  for (const layer of stack) {
    if (!isObject(layer)) continue;
    const route = layer.route;
    if (isObject(route)) {
      const path = `${prefix}${String(route.path)}`.replace(/:(\w+)/g, '{$1}');
      const methods = isObject(route.methods) ? route.methods : {};
      for (const method of Object.keys(methods).filter((name) => methods[name] === true)) routes.push(`${method === '_all' ? 'all' : method} ${path}`);
      continue;
    }
    const handle = layer.handle;
    const inner = typeof handle === 'function' || isObject(handle) ? (handle as { stack?: unknown }).stack : undefined;
    if (Array.isArray(inner)) {
      // Express 5's router keeps a mounted router's path as written (router 2.3's Layer.rawPath).
      const mountedAt = layer.rawPath;
      if (typeof mountedAt !== 'string') throw new Error(`cannot read where a router is mounted (rawPath is ${typeof mountedAt}); has Express's router changed?`);
      routes.push(...registeredRoutes(inner, `${prefix}${mountedAt === '/' ? '' : mountedAt}`));
    }
  }
  return routes;
}

describe('docs/openapi.yaml holds the real answers of the app', function () {
  let doc: OpenApiDocument;
  /** The app as an installation with notices and a metrics token; Karen has renewed and a patron asked for help. */
  let h: Harness;
  /** The app with neither token, and a SIP2 library system that does not answer. */
  let bare: Harness;
  let renewAll: { messageSid: string; response: Response };
  let help: { messageSid: string; response: Response };

  const login = (harness: Harness) => ({ authorization: `Basic ${Buffer.from(`${harness.config.admin.user}:${harness.config.admin.password}`).toString('base64')}` });
  const get = (harness: Harness, path: string, headers: Record<string, string> = login(harness)) => fetch(`${harness.baseUrl}${path}`, { headers });
  const postJson = (harness: Harness, path: string, body: unknown, headers: Record<string, string>, contentType = 'application/json') =>
    fetch(`${harness.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  before(async function () {
    this.timeout(60_000);
    const validator = new Validator();
    const result = await validator.validate(DOC_FILE);
    expect(result.errors, 'docs/openapi.yaml against the OpenAPI schema').to.equal(undefined);
    expect(result.valid).to.equal(true);
    doc = new OpenApiDocument(validator.specification);

    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: NOW, env: { NOTICES_TOKEN, METRICS_TOKEN } });
    renewAll = await h.text(KAREN, 'HBK FORNY ALLE');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1, 10_000, "Karen's reply");
    h.clock.advance(60_000);
    help = await h.text(OTHER_PATRON, 'HJÆLP');
    await eventually(() => h.twilio.messagesTo(OTHER_PATRON).length === 1, 10_000, 'the help text');
    await eventually(async () => (await h.deps.db('outbound_messages').where({ status: 'sent' })).length === 2, 10_000, 'both replies sent');

    bare = await Harness.start({ now: NOW, libraryUrl: `sip2://forny:secret@127.0.0.1:${await closedPort()}?institution=HBK&timeout_ms=500` });
  });
  after(async () => {
    await h?.stop();
    await bare?.stop();
  });

  describe('the document', () => {
    it('is OpenAPI 3.1 and every schema in it compiles in the 2020-12 dialect with Ajv in strict mode', () => {
      expect(String(doc.spec.openapi)).to.match(/^3\.1\.\d+$/);
      const pointers = doc.schemaPointers();
      expect(pointers.length).to.be.greaterThan(40);
      for (const pointer of pointers) {
        try {
          doc.validator(pointer);
        } catch (error) {
          expect.fail(`docs/openapi.yaml#${pointer}: ${(error as Error).message}`);
        }
      }
    });

    it('documents every route the app registers outside /admin, and the app registers every route it documents', () => {
      const app = createApp(h.deps);
      const stack = (app as unknown as { router?: { stack?: unknown } }).router?.stack;
      expect(stack, "the app's router").to.be.an('array');
      const registered = registeredRoutes(stack as unknown[]).filter((route) => !route.split(' ')[1]?.startsWith('/admin'));
      expect(registered, 'routes found in the app').to.include.members(['get /api/messages', 'post /api/notices', 'get /healthz']);
      const documented = doc.operations().map((operation) => `${operation.method} ${operation.path}`);
      const undocumented = registered.filter((route) => !documented.includes(route));
      expect(undocumented, 'routes the app registers that docs/openapi.yaml does not describe').to.deep.equal([]);
      // The two webhooks are answered ahead of Express (twilioWebhooks); every other documented route is Express's.
      const webhooks = ['post /sms/inbound', 'post /sms/status'];
      expect(documented.filter((route) => !registered.includes(route))).to.have.members(webhooks);
    });
  });

  describe('Twilio webhooks', () => {
    const form = (fields: Record<string, string>) => ({ AccountSid: h.twilio.accountSid, To: '1910', NumMedia: '0', ...fields });

    it('POST /sms/inbound: 200 with the empty TwiML for a message stored, and again for its repeat', async () => {
      await doc.expectAnswer('post', '/sms/inbound', renewAll.response, 200);
      const repeat = await h.signedPost('/sms/inbound', form({ MessageSid: renewAll.messageSid, From: KAREN, Body: 'HBK FORNY ALLE' }));
      await doc.expectAnswer('post', '/sms/inbound', repeat, 200);
      expect(await h.deps.db('inbound_messages').where({ message_sid: renewAll.messageSid })).to.have.length(1);
    });

    it('POST /sms/inbound: 400 without a signature or a field, 403 with a wrong signature, nothing stored', async () => {
      const before = await h.deps.db('inbound_messages').count({ n: '*' }).first();
      const unsigned = await doc.expectAnswer('post', '/sms/inbound', await h.signedPost('/sms/inbound', form({ MessageSid: newMessageSid(), From: KAREN, Body: 'x' }), { signature: null }), 400);
      expect(unsigned).to.include({ error: 'missing_signature' });
      const noBody = await doc.expectAnswer('post', '/sms/inbound', await h.signedPost('/sms/inbound', form({ MessageSid: newMessageSid(), From: KAREN })), 400);
      expect(noBody).to.include({ error: 'missing_field' });
      const forged = await doc.expectAnswer('post', '/sms/inbound', await h.signedPost('/sms/inbound', form({ MessageSid: newMessageSid(), From: KAREN, Body: 'x' }), { signature: 'bm90IGEgc2lnbmF0dXJl' }), 403);
      expect(forged).to.include({ error: 'bad_signature' });
      expect(await h.deps.db('inbound_messages').count({ n: '*' }).first()).to.deep.equal(before);
    });

    it('POST /sms/inbound: 413 past 64 KiB, 415 for JSON', async () => {
      const big = await fetch(`${h.baseUrl}/sms/inbound`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `Body=${'a'.repeat(65 * 1024)}` });
      await doc.expectAnswer('post', '/sms/inbound', big, 413);
      const json = await fetch(`${h.baseUrl}/sms/inbound`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"Body":"x"}' });
      await doc.expectAnswer('post', '/sms/inbound', json, 415);
    });

    it('POST /sms/inbound: 503 when the message cannot be stored', async () => {
      await bare.deps.db.raw('ALTER TABLE inbound_messages RENAME TO inbound_messages_away');
      try {
        const response = await bare.signedPost('/sms/inbound', { MessageSid: newMessageSid(), AccountSid: bare.twilio.accountSid, From: KAREN, To: '1910', Body: 'HBK FORNY ALLE' });
        expect(await doc.expectAnswer('post', '/sms/inbound', response, 503)).to.include({ error: 'not_stored' });
      } finally {
        await bare.deps.db.raw('ALTER TABLE inbound_messages_away RENAME TO inbound_messages');
      }
    });

    it('POST /sms/status: 413 past 64 KiB; 503 when the receipt cannot be stored', async () => {
      const big = await fetch(`${h.baseUrl}/sms/status`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `MessageStatus=${'a'.repeat(65 * 1024)}` });
      await doc.expectAnswer('post', '/sms/status', big, 413);
      await bare.deps.db.raw('ALTER TABLE message_status_events RENAME TO message_status_events_away');
      try {
        const response = await bare.signedPost('/sms/status', { MessageSid: `SM${'0'.repeat(32)}`, AccountSid: bare.twilio.accountSid, MessageStatus: 'delivered' });
        expect(await doc.expectAnswer('post', '/sms/status', response, 503)).to.include({ error: 'not_stored' });
      } finally {
        await bare.deps.db.raw('ALTER TABLE message_status_events_away RENAME TO message_status_events');
      }
    });

    it('POST /sms/status: 200 for a receipt, 400 without its status, 403 forged, 415 for another media type', async () => {
      const reply = await h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'sent' }).first();
      const sid = String(reply?.provider_sid);
      await doc.expectAnswer('post', '/sms/status', await h.signedPost('/sms/status', { MessageSid: sid, MessageStatus: 'delivered', AccountSid: h.twilio.accountSid }), 200);
      await eventually(async () => (await h.deps.db('outbound_messages').where({ provider_sid: sid }).first())?.status === 'delivered', 5000, 'the receipt applied');
      const missing = await doc.expectAnswer('post', '/sms/status', await h.signedPost('/sms/status', { MessageSid: sid, AccountSid: h.twilio.accountSid }), 400);
      expect(missing).to.include({ error: 'missing_field' });
      await doc.expectAnswer('post', '/sms/status', await h.signedPost('/sms/status', { MessageSid: sid, MessageStatus: 'failed' }, { signature: 'd3Jvbmc=' }), 403);
      await doc.expectAnswer('post', '/sms/status', await fetch(`${h.baseUrl}/sms/status`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }), 415);
    });
  });

  describe('POST /api/notices', () => {
    const patron = { cardNumber: '0202020202', name: 'Tania Blixen', mobile: '20000077', email: 'tania@example.dk', smsOptIn: true, emailOptIn: true };
    const loan = { itemId: '5000000001', title: 'Babettes gæstebud', dueDate: '2026-12-04' };
    const loans = [loan];
    const notices = {
      reminder: { id: 'oa-reminder', kind: 'reminder', patron, loans, reservation: null },
      overdue: { id: 'oa-overdue', kind: 'overdue', patron, loans: [{ ...loan, dueDate: '2026-11-28' }] },
      recall: { id: 'oa-recall', kind: 'recall', patron: { ...patron, email: null, emailOptIn: false }, loans: [{ ...loan, dueDate: '2026-12-10' }], reservation: null },
      reservation_ready: { id: 'oa-ready', kind: 'reservation_ready', patron: { ...patron, mobile: null }, reservation: { title: 'Gift', pickupBranch: 'Helsingør Bibliotek', pickupBy: '2026-12-08' } },
    };
    const REQUEST_SCHEMA = `/paths/${pointerToken('/api/notices')}/post/requestBody/content/application~1json/schema`;

    it('202 for a notice of each kind and for a batch of all four; each request as the document describes it', async () => {
      for (const notice of Object.values(notices)) {
        doc.expectValid(REQUEST_SCHEMA, notice, `the ${notice.kind} notice sent`);
        const answer = await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', notice, bearer(NOTICES_TOKEN)), 202);
        expect((answer as { notices: { id: string }[] }).notices.map((taken) => taken.id)).to.deep.equal([notice.id]);
      }
      const batch = Object.values(notices).map((notice) => ({ ...notice, id: `${notice.id}-batch` }));
      doc.expectValid(REQUEST_SCHEMA, batch, 'the batch sent');
      const answer = (await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', batch, bearer(NOTICES_TOKEN)), 202)) as { notices: { messages: { channel: string }[] }[] };
      // reminder and overdue: SMS and e-mail; recall: SMS only; reservation_ready: e-mail only.
      expect(answer.notices.map((taken) => taken.messages.map((message) => message.channel).sort().join('+'))).to.deep.equal(['email+sms', 'email+sms', 'sms', 'email']);
    });

    it('202 again for the same id with the same content; 409 for the same id with other content', async () => {
      const again = await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', notices.reminder, bearer(NOTICES_TOKEN)), 202);
      expect((again as { notices: unknown[] }).notices).to.have.length(1);
      const changed = { ...notices.reminder, loans: [{ ...loan, dueDate: '2026-12-05' }] };
      expect(await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', changed, bearer(NOTICES_TOKEN)), 409)).to.include({ error: 'notice_conflict' });
    });

    it('400 naming the bad notice; the document refuses the same shapes the app refuses', async () => {
      const refused = [
        [notices.reminder, { ...notices.reminder, id: 'oa-bad-1', kind: 'birthday' }],
        { ...notices.reservation_ready, id: 'oa-bad-2', loans },
        { ...notices.reminder, id: 'oa-bad-3', loans: [] },
        { ...notices.overdue, id: 'oa-bad-4', reservation: notices.reservation_ready.reservation },
        { ...notices.recall, id: 'oa-bad-5', colour: 'red' },
        { ...notices.reminder, id: 'x'.repeat(129) },
        [],
      ];
      for (const body of refused) {
        expect(doc.accepts(REQUEST_SCHEMA, body), `the document accepts ${JSON.stringify(body).slice(0, 120)}`).to.equal(false);
        const answer = await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', body, bearer(NOTICES_TOKEN)), 400);
        expect(answer).to.include({ error: 'invalid_notice' });
      }
      const batch = await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', [notices.reminder, { ...notices.reminder, kind: 'birthday' }], bearer(NOTICES_TOKEN)), 400);
      expect((batch as { message: string }).message).to.match(/^\[1\]\.kind: /);
      expect(await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', '{"id": ', bearer(NOTICES_TOKEN)), 400)).to.include({ error: 'malformed_body' });
    });

    it('401 without the token or with another, 413 past 1 MiB, 415 for another media type', async () => {
      await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', notices.reminder, {}), 401);
      await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', notices.reminder, bearer(METRICS_TOKEN)), 401);
      await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', notices.reminder, login(h)), 401);
      const huge = JSON.stringify({ ...notices.reminder, padding: 'x'.repeat(1024 * 1024) });
      await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', huge, bearer(NOTICES_TOKEN)), 413);
      await doc.expectAnswer('post', '/api/notices', await postJson(h, '/api/notices', JSON.stringify(notices.reminder), bearer(NOTICES_TOKEN), 'text/plain'), 415);
    });

    it('404 while NOTICES_TOKEN is unset, whatever the request carries', async () => {
      expect(await doc.expectAnswer('post', '/api/notices', await postJson(bare, '/api/notices', notices.reminder, bearer(NOTICES_TOKEN)), 404)).to.include({ error: 'not_found' });
    });
  });

  describe("operators' API", () => {
    it('GET /api/messages: 200 for the filters and the cursor; 400 for a bad parameter or URL; 401 without the login', async () => {
      const queries = ['', 'direction=in', 'direction=out&channel=sms', 'channel=email', 'status=processed', 'kind=reply&limit=1', `number=${encodeURIComponent('61 00 00 01')}`, 'offset=1&limit=2', 'before=in-1000000,out-1000000'];
      for (const query of queries) {
        const body = (await doc.expectAnswer('get', '/api/messages', await get(h, `/api/messages?${query}`), 200)) as MessageView[];
        if (query === '') expect(body.length, 'every message').to.be.greaterThan(3);
      }
      for (const query of ['status=lost', 'limit=5000', 'before=42', 'direction=in&direction=out']) {
        expect(await doc.expectAnswer('get', '/api/messages', await get(h, `/api/messages?${query}`), 400), query).to.include({ error: 'invalid_query' });
      }
      expect(await doc.expectAnswer('get', '/api/messages', await get(h, '/api/messages?to=%E0%A4%A'), 400)).to.include({ error: 'malformed_url' });
      await doc.expectAnswer('get', '/api/messages', await get(h, '/api/messages', {}), 401);
    });

    it('GET /api/backlog: 200 for every library and one; 400 for an unknown or repeated library; 401', async () => {
      const backlog = (await doc.expectAnswer('get', '/api/backlog', await get(h, '/api/backlog'), 200)) as { items: unknown[] };
      expect(backlog.items).to.be.an('array');
      await doc.expectAnswer('get', '/api/backlog', await get(h, '/api/backlog?library=default'), 200);
      // The document's own example, with a backlog due now and the gateway's own answer, holds to the schema too.
      doc.expectValid('/components/schemas/SmsBacklog', doc.at(`/paths/${pointerToken('/api/backlog')}/get/responses/200/content/application~1json/examples/morning/value`), 'the example');
      for (const query of ['library=nope', 'library=default&library=default']) {
        expect(await doc.expectAnswer('get', '/api/backlog', await get(h, `/api/backlog?${query}`), 400), query).to.include({ error: 'invalid_query' });
      }
      expect(await doc.expectAnswer('get', '/api/backlog', await get(h, '/api/backlog?library=%E0%A4%A'), 400)).to.include({ error: 'malformed_url' });
      await doc.expectAnswer('get', '/api/backlog', await get(h, '/api/backlog', {}), 401);
    });

    it('GET /api/inbound/{messageSid}: 200 for a renew-all with its loans and for help without; 404, 400, 401', async () => {
      const renewed = (await doc.expectAnswer('get', '/api/inbound/{messageSid}', await get(h, `/api/inbound/${renewAll.messageSid}`), 200)) as { result: { loans: unknown[] } | null };
      expect(renewed.result?.loans.length).to.be.greaterThan(5);
      const helped = (await doc.expectAnswer('get', '/api/inbound/{messageSid}', await get(h, `/api/inbound/${help.messageSid}`), 200)) as { command: string; result: unknown };
      expect(helped).to.include({ command: 'help', result: null });
      await doc.expectAnswer('get', '/api/inbound/{messageSid}', await get(h, '/api/inbound/SMnothing'), 404);
      await doc.expectAnswer('get', '/api/inbound/{messageSid}', await get(h, '/api/inbound/%E0%A4%A'), 400);
      await doc.expectAnswer('get', '/api/inbound/{messageSid}', await get(h, `/api/inbound/${help.messageSid}`, {}), 401);
    });

    it('GET /api/patrons/{id}/loans: 200, 404, 400 for a NUL in the path, 401', async () => {
      const loans = (await doc.expectAnswer('get', '/api/patrons/{id}/loans', await get(h, '/api/patrons/p-karen/loans'), 200)) as { loans: { lastRenewal: unknown }[] };
      expect(loans.loans.some((loan) => loan.lastRenewal === null)).to.equal(true);
      expect(loans.loans.some((loan) => loan.lastRenewal !== null)).to.equal(true);
      await doc.expectAnswer('get', '/api/patrons/{id}/loans', await get(h, '/api/patrons/nobody/loans'), 404);
      await doc.expectAnswer('get', '/api/patrons/{id}/loans', await get(h, '/api/patrons/%00/loans'), 400);
      await doc.expectAnswer('get', '/api/patrons/{id}/loans', await get(h, '/api/patrons/p-karen/loans', { authorization: 'Basic b3BlcmF0b3I6d3Jvbmc=' }), 401);
    });

    it('POST /api/loans/{id}/ill-refusal: 200, then 409; 404, 415, 400 for a body that is not JSON, 401, 413', async () => {
      const path = '/api/loans/{id}/ill-refusal';
      const decision = await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-ontime/ill-refusal', {}, login(h)), 200);
      expect(decision).to.include({ loanId: 'l-ill-ontime' });
      expect(await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-ontime/ill-refusal', {}, login(h)), 409)).to.include({ error: 'not_provisional' });
      await doc.expectAnswer('post', path, await postJson(h, '/api/loans/nope/ill-refusal', {}, login(h)), 404);
      await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-ontime/ill-refusal', 'dueDate=x', login(h), 'application/x-www-form-urlencoded'), 415);
      await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-ontime/ill-refusal', '{', login(h)), 400);
      await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-ontime/ill-refusal', {}, {}), 401);
      await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-ontime/ill-refusal', { note: 'x'.repeat(65 * 1024) }, login(h)), 413);
    });

    it('POST /api/loans/{id}/ill-recall: 200; 400 without or with a bad dueDate; 409 for a loan that is not interlibrary; 404, 401, 415, 413', async () => {
      const path = '/api/loans/{id}/ill-recall';
      const schema = `/paths/${pointerToken(path)}/post/requestBody/content/application~1json/schema`;
      doc.expectValid(schema, { dueDate: '2026-12-03' }, 'the recall sent');
      const decision = await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-max/ill-recall', { dueDate: '2026-12-03' }, login(h)), 200);
      expect(decision).to.include({ loanId: 'l-ill-max', dueDate: '2026-12-03' });
      expect(doc.accepts(schema, {})).to.equal(false);
      expect(await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-late/ill-recall', {}, login(h)), 400)).to.include({ error: 'missing_field' });
      expect(await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-late/ill-recall', { dueDate: '3 December' }, login(h)), 400)).to.include({ error: 'invalid_field' });
      expect(await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ontime/ill-recall', { dueDate: '2026-12-03' }, login(h)), 409)).to.include({ error: 'not_interlibrary' });
      await doc.expectAnswer('post', path, await postJson(h, '/api/loans/nope/ill-recall', { dueDate: '2026-12-03' }, login(h)), 404);
      await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-late/ill-recall', { dueDate: '2026-12-03' }, {}), 401);
      await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-late/ill-recall', 'dueDate=2026-12-03', login(h), 'application/x-www-form-urlencoded'), 415);
      await doc.expectAnswer('post', path, await postJson(h, '/api/loans/l-ill-late/ill-recall', { dueDate: '2026-12-03', note: 'x'.repeat(65 * 1024) }, login(h)), 413);
    });
  });

  describe('probes', () => {
    it('GET /healthz: 200', async () => {
      await doc.expectAnswer('get', '/healthz', await fetch(`${h.baseUrl}/healthz`), 200);
    });

    it('GET /readyz: 200 when every check answers, and 200 naming the library system that does not', async () => {
      await doc.expectAnswer('get', '/readyz', await fetch(`${h.baseUrl}/readyz`), 200);
      const down = (await doc.expectAnswer('get', '/readyz', await fetch(`${bare.baseUrl}/readyz`), 200)) as { checks: Record<string, string> };
      expect(down.checks).to.deep.equal({ database: 'ok', redis: 'ok', librarySystem: 'down: not answering' });
    });

    it('GET /metrics: 200 with the token, 401 without it; without a token configured, 200 on loopback and 403 through a proxy', async () => {
      const metrics = (await doc.expectAnswer('get', '/metrics', await fetch(`${h.baseUrl}/metrics`, { headers: bearer(METRICS_TOKEN) }), 200)) as string;
      expect(metrics).to.contain('forny_messages');
      await doc.expectAnswer('get', '/metrics', await fetch(`${h.baseUrl}/metrics`), 401);
      await doc.expectAnswer('get', '/metrics', await fetch(`${bare.baseUrl}/metrics`), 200);
      await doc.expectAnswer('get', '/metrics', await fetch(`${bare.baseUrl}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.7' } }), 403);
    });
  });

  // Last: mocha runs the suites above first, in order.
  describe('coverage', () => {
    /**
     * Answers this file does not provoke, each held by a suite of its own: a login flood
     * (test/security/lockout.test.ts), too many bodies at once (test/security/connection-limits.test.ts),
     * both the same middleware on every route; /readyz with Redis away (test/integration/redis-outage.test.ts).
     */
    const NOT_PROVOKED_HERE = new Set([
      'get /api/messages 429',
      'get /api/backlog 429',
      'get /api/inbound/{messageSid} 429',
      'get /api/patrons/{id}/loans 429',
      'post /api/loans/{id}/ill-refusal 429',
      'post /api/loans/{id}/ill-recall 429',
      'post /api/loans/{id}/ill-refusal 503',
      'post /api/loans/{id}/ill-recall 503',
      'post /api/notices 503',
      // Redis or the database away: test/integration/redis-outage.test.ts stops a Redis of its own.
      'get /readyz 503',
    ]);

    it('held every answer the document gives to a real answer of the app, but for those other suites provoke', () => {
      const documented = doc.operations().flatMap(({ method, path, pointer }) => Object.keys(doc.follow(`${pointer}/responses`).value).map((status) => `${method} ${path} ${status}`));
      expect(documented.filter((answer) => !doc.validated.has(answer) && !NOT_PROVOKED_HERE.has(answer)), 'documented answers no request here was held to').to.deep.equal([]);
      expect([...NOT_PROVOKED_HERE].filter((answer) => !documented.includes(answer) || doc.validated.has(answer)), 'exceptions no longer needed').to.deep.equal([]);
    });
  });
});
