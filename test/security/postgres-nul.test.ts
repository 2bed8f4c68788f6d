import { expect } from 'chai';
import { EVERY_RULE_TODAY, EXPECTED_RENEWED, EXPECTED_TOTAL, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness } from '../helpers/harness.js';
import { createPostgresDatabase } from '../helpers/postgres.js';

const NOTICES_TOKEN = 'notices-token-0123456789abcdef0123456789';
const operator = { authorization: `Basic ${Buffer.from('operator:correct-horse-battery').toString('base64')}` };

/** A batch whose every text field carries NUL (and a bell), as a library system's export might. */
const noticesWithNul = [
  {
    id: 'fbs-nul-\u00001',
    kind: 'reminder',
    patron: { cardNumber: '0202\u0000902345', name: 'Tania\u0000 Blixen\u0007', mobile: '+4520000077', email: 'tania@example.dk', smsOptIn: true, emailOptIn: true },
    loans: [{ itemId: '6000\u00000001', title: 'Syv\u0000 fantastiske fortællinger', dueDate: '2026-12-04' }],
    reservation: null,
  },
  {
    id: 'fbs-nul-2',
    kind: 'reservation_ready',
    patron: { cardNumber: '0202902345', name: 'Tania Blixen', mobile: '+4520000077', email: 'tania@example.dk', smsOptIn: true, emailOptIn: true },
    loans: [],
    reservation: { title: 'Gift\u0000', pickupBranch: 'Helsingør\u0000 Bibliotek', pickupBy: '2026-12-08' },
  },
];

/** The id cases of both databases: an id past the id columns' 32 bits is no such thing (404) or a bad query (400), never a 500. */
function idCases(harness: () => Harness) {
  const post = async (path: string, token: string) =>
    fetch(`${harness().baseUrl}${path}`, {
      method: 'POST',
      headers: { ...operator, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: token }),
      redirect: 'manual',
    });
  /** A CSRF token from the failures page, which shows a form for the given-up renew-all the test makes. */
  const csrfToken = async () => {
    const h = harness();
    const { messageSid } = await h.text(KAREN, 'HBK FORNY ALLE');
    await h.deps.db('inbound_messages').where({ message_sid: messageSid }).update({ status: 'failed', ignored_reason: 'gave_up' });
    const page = await (await fetch(`${h.baseUrl}/admin/failures`, { headers: operator })).text();
    const token = /name="_csrf" value="([^"]+)"/.exec(page)?.[1];
    expect(token, 'a form and its token on the failures page').to.be.a('string');
    return token ?? '';
  };

  it('answers a cursor past 32 bits, or not a message id, 400 naming the parameter', async () => {
    for (const before of ['in-2147483648', 'out-2147483648', 'in-999999999999999', 'in-0', 'out-12abc', 'in-', 'in--1']) {
      const { status, body } = await harness().api<{ error: string; message: string }>(`/api/messages?before=${before}`);
      expect(status, before).to.equal(400);
      expect(body.error, before).to.equal('invalid_query');
      expect(body.message, before).to.match(/^query parameter before\b/);
      expect(body.message, before).not.to.contain('\n');
      expect((await fetch(`${harness().baseUrl}/admin/messages?before=${before}`, { headers: operator })).status, `dashboard ${before}`).to.equal(400);
    }
    for (const before of ['in-2147483647', 'out-2147483647', 'in-1,out-1']) expect((await harness().api(`/api/messages?before=${before}`)).status, before).to.equal(200);
  });

  it('answers a dashboard action on a message id past 32 bits 404, and one in range but unknown as unchanged', async () => {
    const token = await csrfToken();
    for (const path of ['/admin/failures/messages/2147483648/retry', '/admin/failures/messages/2147483648/cancel', '/admin/failures/renew-alls/2147483648/retry', '/admin/failures/messages/0/retry', '/admin/failures/messages/99999999999999999999/retry']) {
      expect((await post(path, token)).status, path).to.equal(404);
    }
    for (const path of ['/admin/failures/messages/2147483647/retry', '/admin/failures/messages/2147483647/cancel', '/admin/failures/renew-alls/2147483647/retry']) {
      const response = await post(path, token);
      expect(response.status, path).to.equal(303);
      expect(response.headers.get('location'), path).to.contain('done=unchanged');
    }
  });
}

/** The NUL cases of both databases: PostgreSQL refuses NUL in text; SQLite stores the same as PostgreSQL. */
function noticeCases(harness: () => Harness) {
  it('stores a notice batch with NUL and control characters in its text fields, without them', async () => {
    const h = harness();
    const response = await fetch(`${h.baseUrl}/api/notices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${NOTICES_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(noticesWithNul),
    });
    const answer = (await response.json()) as { notices: { id: string }[] };
    expect(response.status, JSON.stringify(answer)).to.equal(202);
    expect(answer.notices.map((notice) => notice.id)).to.deep.equal(['fbs-nul-1', 'fbs-nul-2']);

    const patron = await h.deps.db('patrons').where({ card_number: '0202902345' }).first();
    expect(patron?.name).to.equal('Tania Blixen');
    const notices = await h.deps.db('notices').whereIn('id', ['fbs-nul-1', 'fbs-nul-2']).orderBy('id');
    expect(notices.map((notice) => [notice.id, notice.card_number])).to.deep.equal([
      ['fbs-nul-1', '0202902345'],
      ['fbs-nul-2', '0202902345'],
    ]);
    expect(JSON.parse(notices[0]?.loans ?? '[]')).to.deep.equal([{ itemId: '60000001', title: 'Syv fantastiske fortællinger', dueDate: '2026-12-04' }]);
    const bodies = (await h.deps.db('outbound_messages').where({ to_address: '+4520000077' }).select('body')).map((row) => String(row.body));
    expect(bodies.some((body) => body.includes('"Gift" er klar til afhentning på Helsingør Bibliotek')), bodies.join(' | ')).to.equal(true);
    for (const body of bodies) expect(body.includes('\u0000') || body.includes('\u0007'), body).to.equal(false);

    // The same batch again is the same notices: nothing new, the same answer.
    const again = await fetch(`${h.baseUrl}/api/notices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${NOTICES_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(noticesWithNul),
    });
    expect(again.status).to.equal(202);
  });
}

/** PostgreSQL cannot store NUL in text: the message used to be answered 500 and lost. */
describe('security: NUL characters on PostgreSQL', function () {
  this.timeout(60_000);
  let h: Harness;
  let database: Awaited<ReturnType<typeof createPostgresDatabase>>;

  before(async () => {
    database = await createPostgresDatabase();
    h = await Harness.start({ workers: true, databaseUrl: database.url, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00`, env: { NOTICES_TOKEN } });
  });
  after(async () => {
    await h.stop();
    await database.drop();
  });

  it('stores a signed webhook whose body holds NUL and control characters, without them, and answers the patron', async () => {
    const { messageSid, response } = await h.text(KAREN, 'HBK\u0000 FORNY\u0007 ALLE\u0000\u001b');
    expect(response.status).to.equal(200);
    const stored = await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first();
    expect(stored?.body).to.equal('HBK FORNY ALLE');
    const reply = await eventually(() => h.twilio.messagesTo(KAREN)[0], 15_000, 'the reply');
    expect(reply.body).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
  });

  it('keeps line breaks and tabs in a stored body', async () => {
    const { messageSid } = await h.text(KAREN, 'hej\r\n\tmed\u0000 venlig hilsen');
    expect((await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first())?.body).to.equal('hej\r\n\tmed venlig hilsen');
  });

  it('answers a NUL in an API path 400, not 500', async () => {
    expect((await h.api('/api/inbound/SM%00')).status).to.equal(400);
  });

  noticeCases(() => h);
  idCases(() => h);
});

describe('security: NUL characters and 32-bit ids on SQLite, alike', function () {
  this.timeout(60_000);
  let h: Harness;
  before(async () => {
    h = await Harness.start({ fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00`, env: { NOTICES_TOKEN } });
  });
  after(async () => h.stop());

  noticeCases(() => h);
  idCases(() => h);
});
