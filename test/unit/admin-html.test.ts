import { expect } from 'chai';
import { html, jsonScript } from '../../src/http/admin/html.js';
import type { GiveUpCause } from '../../src/domain/message-status.js';
import { giveUpCause, librarySystemCause } from '../../src/http/admin/give-up-cause.js';
import { explainSendError } from '../../src/http/admin/twilio-codes.js';

describe('html`` (the dashboard templates)', () => {
  const rows: { name: string; render: () => string; expected: string }[] = [
    { name: 'escapes text', render: () => html`<p>${'<b>"Tom" & \'Jerry\'</b>'}</p>`.text, expected: '<p>&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;</p>' },
    { name: 'escapes inside attributes', render: () => html`<a href="${'x" onclick="alert(1)'}">`.text, expected: '<a href="x&quot; onclick=&quot;alert(1)">' },
    { name: 'keeps nested templates as markup', render: () => html`<ul>${html`<li>${'<i>'}</li>`}</ul>`.text, expected: '<ul><li>&lt;i&gt;</li></ul>' },
    { name: 'joins arrays', render: () => html`${['a', html`<br>`, 1]}`.text, expected: 'a<br>1' },
    { name: 'renders nothing for false, null and undefined', render: () => html`[${false}${null}${undefined}]`.text, expected: '[]' },
    { name: 'renders 0', render: () => html`${0}`.text, expected: '0' },
  ];
  for (const row of rows) {
    it(row.name, () => expect(row.render()).to.equal(row.expected));
  }
});

describe('jsonScript', () => {
  it('embeds data no value can break out of, and that parses back to the same data', () => {
    const data = { text: '</script><script>alert(1)</script>', other: '<!-- & \u2028 \u2029' };
    const block = jsonScript('data', data).text;
    const body = /^<script type="application\/json" id="data">(.*)<\/script>$/s.exec(block)?.[1] ?? '';
    expect(body).not.to.match(/[<>&\u2028\u2029]/);
    expect(JSON.parse(body)).to.deep.equal(data);
  });
});

describe('explainSendError', () => {
  const rows: [string | null, RegExp][] = [
    ['21211', /^Ugyldigt telefonnummer/],
    ['21610', /STOP/],
    ['21614', /ikke et mobilnummer/],
    ['30003', /slukket eller uden dækning/],
    ['30008', /Ukendt fejl hos teleselskabet/],
    ['http-503', /serverfejl/],
    ['http-429', /langsommere/],
    ['ECONNRESET', /Netværksfejl/],
    ['99999', /Twilios fejlkatalog/],
    [null, /^$/],
  ];
  for (const [code, expected] of rows) {
    it(`explains ${code}`, () => expect(explainSendError(code)).to.match(expected));
  }
});

describe('librarySystemCause: the library system named from the error a renew-all job kept', () => {
  const rows: [string | null | undefined, ReturnType<typeof librarySystemCause>][] = [
    ['sip2://forny@127.0.0.1:6001: login refused (94 ok=0): check the SIP2 user, password and location', 'login_refused'],
    ['sip2://forny@127.0.0.1:6001: cannot connect (ECONNREFUSED)', 'not_answering'],
    ['sips2://forny@[::1]:6443: no connection within 2000 ms', 'not_answering'],
    ['sip2://forny@10.0.0.5:6001: no answer to 29 within 2000 ms', 'not_answering'],
    ['sip2://forny@10.0.0.5:6001: connection closed by forny', 'not_answering'],
    ["sip2://forny@10.0.0.5:6001: no connection asked for past the request's deadline", 'not_answering'],
    ["sip2://forny@10.0.0.5:6001: the request's deadline passed before it had a connection", 'not_answering'],
    ['sip2://forny@10.0.0.5:6001: no free connection within 1500 ms (4 in use)', 'not_answering'],
    ["sip2://forny@10.0.0.5:6001: the request's give-up time passed before the renewal of I-2; nothing more renewed", 'not_answering'],
    ['SIP2 pool closed', 'not_answering'],
    ['sip2://forny@10.0.0.5:6001: answer to 63 was 96, expected 64', 'failing'],
    ['sip2://forny@10.0.0.5:6001: 98 lacks Renew (BX)', 'failing'],
    ['inbound message 999999 does not exist', undefined],
    ['SQLITE_BUSY: database is locked', undefined],
    ['', undefined],
    [null, undefined],
    [undefined, undefined],
  ];
  for (const [text, cause] of rows) it(`${JSON.stringify(text)} → ${cause}`, () => expect(librarySystemCause(text)).to.equal(cause));
});

describe('giveUpCause: why a renew-all was given up, from what is kept', () => {
  const minute = 60_000;
  const at = (processedAt: string | null, retriedAt: string | null = null, giveUpCause: GiveUpCause | null = null) => ({ receivedAt: '2026-12-01T09:00:00.000Z', retriedAt, processedAt, giveUpCause });
  const rows: { name: string; message: ReturnType<typeof at>; lastError: string | undefined; renewed: number; cause: ReturnType<typeof giveUpCause> }[] = [
    { name: 'the system refused the login', message: at('2026-12-01T10:00:00.000Z'), lastError: 'sip2://f@h:1: login refused (94 ok=0)', renewed: 0, cause: 'login_refused' },
    { name: 'the system went away after renewing one', message: at('2026-12-01T10:00:00.000Z'), lastError: 'sip2://f@h:1: cannot connect (ECONNREFUSED)', renewed: 1, cause: 'not_answering' },
    { name: 'no error kept, one renewed: too slow', message: at('2026-12-01T10:00:00.000Z'), lastError: undefined, renewed: 1, cause: 'too_slow' },
    { name: 'no error kept, past the give-up time', message: at('2026-12-01T10:00:00.000Z'), lastError: undefined, renewed: 0, cause: 'too_late' },
    { name: 'exactly at the give-up time', message: at('2026-12-01T09:01:00.000Z'), lastError: undefined, renewed: 0, cause: 'too_late' },
    { name: 'tries ran out before the give-up time', message: at('2026-12-01T09:00:59.999Z'), lastError: 'SQLITE_BUSY', renewed: 0, cause: 'every_try_failed' },
    { name: 'the cause stored with the request wins over any inference', message: at('2026-12-01T10:00:00.000Z', null, 'login_refused'), lastError: 'SQLITE_BUSY', renewed: 3, cause: 'login_refused' },
    { name: 'counted from an operator retry', message: at('2026-12-01T10:00:30.000Z', '2026-12-01T10:00:00.000Z'), lastError: undefined, renewed: 0, cause: 'every_try_failed' },
  ];
  for (const row of rows) it(row.name, () => expect(giveUpCause(row.message, minute, row.lastError, row.renewed)).to.equal(row.cause));
});
