import { expect } from 'chai';
import { handleRenewAll } from '../../src/renewals/renew-all.js';
import { EVERY_RULE_TODAY, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness, found } from '../helpers/harness.js';
import type { MessageView } from '../helpers/api-views.js';

describe('operators API and probes', function () {
  let h: Harness;
  before(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
    await h.text(KAREN, 'HBK FORNY ALLE');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1);
    await eventually(async () => (await h.deps.db('outbound_messages').where({ status: 'sent' }).first()) !== undefined);
    h.clock.advance(60_000);
    await h.text('+4561000002', 'HJÆLP');
    await eventually(async () => (await h.deps.db('outbound_messages').where({ status: 'sent' })).length === 2);
  });
  after(async () => h.stop());

  const withLogin = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  for (const path of ['/api/messages', '/api/inbound/SMx', '/api/patrons/p-karen/loans']) {
    it(`answers 401 on ${path} without a login or with a wrong one`, async () => {
      const none = await fetch(`${h.baseUrl}${path}`);
      expect(none.status).to.equal(401);
      expect(none.headers.get('www-authenticate')).to.match(/^Basic realm="forny"/);
      expect((await fetch(`${h.baseUrl}${path}`, { headers: withLogin('operator', 'wrong-password') })).status).to.equal(401);
      expect((await fetch(`${h.baseUrl}${path}`, { headers: withLogin('someone', 'correct-horse-battery') })).status).to.equal(401);
    });
  }

  it('lists messages of both directions, newest first, in the shape SPEC §7 gives', async () => {
    const { status, body } = await h.api<MessageView[]>('/api/messages');
    expect(status).to.equal(200);
    expect(body.map((message) => `${message.direction}:${message.kind}`)).to.deep.equal(['out:reply', 'in:command', 'out:reply', 'in:command']);
    for (const message of body) {
      expect(message).to.have.all.keys('id', 'direction', 'channel', 'to', 'from', 'body', 'kind', 'status', 'sendAfter', 'sentAt', 'providerSid', 'createdAt', 'library');
      expect(message.createdAt).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+01:00$/);
    }
    const [reply, command] = body.slice(2);
    expect(command).to.include({ direction: 'in', channel: 'sms', from: KAREN, to: '1910', body: 'HBK FORNY ALLE', status: 'processed', sendAfter: null, library: 'default' });
    expect(reply).to.include({ direction: 'out', channel: 'sms', to: KAREN, from: '1910', status: 'sent' });
    expect(reply?.providerSid).to.match(/^SM[0-9a-f]{32}$/);
  });

  const filters: { query: string; expect: (messages: MessageView[]) => void }[] = [
    { query: 'direction=in', expect: (messages) => expect(messages.map((m) => m.direction)).to.deep.equal(['in', 'in']) },
    { query: 'direction=out&to=%2B4561000001', expect: (messages) => expect(messages.map((m) => m.to)).to.deep.equal([KAREN]) },
    // Numbers as patrons type them (SPEC §3): without +45, with spaces.
    { query: 'direction=out&to=61000001', expect: (messages) => expect(messages.map((m) => m.to)).to.deep.equal([KAREN]) },
    { query: `direction=in&number=${encodeURIComponent('61 00 00 01')}`, expect: (messages) => expect(messages.map((m) => m.from)).to.deep.equal([KAREN]) },
    { query: 'status=processed', expect: (messages) => expect(messages.every((m) => m.status === 'processed')).to.equal(true) },
    { query: 'channel=email', expect: (messages) => expect(messages).to.deep.equal([]) },
    { query: 'kind=reply&limit=1', expect: (messages) => expect(messages.map((m) => `${m.kind}:${m.to}`)).to.deep.equal(['reply:+4561000002']) },
  ];
  for (const filter of filters) {
    it(`filters messages by ${filter.query}`, async () => {
      const { status, body } = await h.api<MessageView[]>(`/api/messages?${filter.query}`);
      expect(status).to.equal(200);
      filter.expect(body);
    });
  }

  for (const query of ['direction=sideways', 'status=lost', 'limit=-1', 'limit=5000', 'channel=fax', 'offset=1000000', 'before=out-x', 'before=42']) {
    it(`answers 400 naming the parameter for ${query}`, async () => {
      const { status, body } = await h.api<{ error: string; message: string }>(`/api/messages?${query}`);
      expect(status).to.equal(400);
      expect(body.message).to.contain(query.split('=')[0]);
    });
  }

  it('pages by the before cursor through every message once, newest first, as offset paging does', async () => {
    const all = (await h.api<MessageView[]>('/api/messages')).body.map((message) => message.id);
    const paged: string[] = [];
    let before = '';
    for (let page = 0; page < 10; page++) {
      const { status, body } = await h.api<MessageView[]>(`/api/messages?limit=1${before ? `&before=${before}` : ''}`);
      expect(status).to.equal(200);
      if (body.length === 0) break;
      paged.push(...body.map((message) => message.id));
      const oldest = (direction: string) => paged.filter((id) => id.startsWith(`${direction}-`)).at(-1);
      before = [oldest('in'), oldest('out')].filter((id) => id !== undefined).join(',');
    }
    expect(paged).to.deep.equal(all);
    expect(all).to.have.length(4);
  });

  it("shows a patron's loans with each one's last renewal", async () => {
    const { status, body } = await h.api<{ loans: { id: string; active: boolean; dueDate: string; renewals: number; lastRenewal: { at: string; outcome: string; reason: string | null } | null }[] }>(
      '/api/patrons/p-karen/loans',
    );
    expect(status).to.equal(200);
    const byId = Object.fromEntries(body.loans.map((loan) => [loan.id, loan]));
    expect(byId['l-ontime']).to.deep.include({ active: true, dueDate: '2027-01-03', renewals: 1 });
    expect(byId['l-ontime']?.lastRenewal).to.deep.equal({ at: '2026-12-01T10:00:00.000+01:00', outcome: 'renewed', reason: null });
    expect(byId['l-reserved']?.lastRenewal).to.deep.include({ outcome: 'refused', reason: 'on_reserve' });
    expect(byId['l-returned']).to.deep.include({ active: false, lastRenewal: null });
    expect(Object.keys(byId[`l-ontime`] ?? {}).sort()).to.deep.equal(
      ['active', 'dueDate', 'id', 'itemId', 'kind', 'lastRenewal', 'loanPeriodDays', 'renewals', 'titleId'].sort(),
    );
  });

  it('answers 404 with a one-line reason for an unknown patron or message', async () => {
    for (const path of ['/api/patrons/nobody/loans', '/api/inbound/SM00000000000000000000000000000000']) {
      const { status, body } = await h.api<{ error: string; message: string }>(path);
      expect(status, path).to.equal(404);
      expect(body.error).to.equal('not_found');
    }
  });

  it('runs a renew-all twice for one message without renewing twice or writing a second reply', async () => {
    const message = found(await h.deps.db('inbound_messages').where({ from_number: KAREN }).first());
    const again = await handleRenewAll(h.deps, message.id);
    expect(again.state).to.equal('already-processed');
    expect(await h.deps.db('outbound_messages').where({ to_address: KAREN })).to.have.length(1);
    expect((await h.deps.db('loans').where({ id: 'l-ontime' }).first())?.renewals).to.equal(1);
  });

  it('reports alive on /healthz and ready on /readyz with both checks', async () => {
    expect(await (await fetch(`${h.baseUrl}/healthz`)).json()).to.deep.equal({ status: 'ok' });
    const ready = await fetch(`${h.baseUrl}/readyz`);
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.equal({ status: 'ready', checks: { database: 'ok', redis: 'ok', librarySystem: 'ok' } });
  });
});
