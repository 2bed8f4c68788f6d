import { expect } from 'chai';
import { html, jsonScript } from '../../src/http/admin/html.js';
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
