import { expect } from 'chai';
import type { FixtureInput } from '../../db/fixture.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { configuredSecrets } from '../../src/deps.js';
import { fitsOneSegment } from '../../src/domain/gsm7.js';
import type { MessageView } from '../helpers/api-views.js';
import { eventually, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';

const TOKEN = 'notices-token-0123456789abcdef0123456789';
const EVENING = '2026-12-01T21:30:00+01:00';

/** A card the library system knows, with two loans in forny's own tables (embedded mode), no mobile on file. */
const library: FixtureInput = {
  patrons: [{ id: 'p1', cardNumber: '0101901234', name: 'Karen Blixen', mobile: null, smsOptIn: false, email: null, emailOptIn: false }],
  titles: [
    { id: 't1', title: 'Babettes gæstebud' },
    { id: 't2', title: 'Gengældelsens veje' },
  ],
  items: [
    { id: 'i1', titleId: 't1', barcode: '5000000001' },
    { id: 'i2', titleId: 't2', barcode: '5000000002' },
  ],
  loans: [
    { id: 'l1', patronId: 'p1', itemId: 'i1', kind: 'standard', loanPeriodDays: 30, borrowedOn: '2026-11-04', dueDate: '2026-12-04', renewals: 0 },
    { id: 'l2', patronId: 'p1', itemId: 'i2', kind: 'standard', loanPeriodDays: 30, borrowedOn: '2026-11-04', dueDate: '2026-12-04', renewals: 0 },
  ],
};

function reminder(id: string, overrides: Record<string, unknown> = {}) {
  return {
    id,
    kind: 'reminder',
    patron: { cardNumber: '0101901234', name: 'Karen Blixen', mobile: '+4520000001', email: 'karen@example.dk', smsOptIn: true, emailOptIn: true },
    loans: [
      { itemId: '5000000001', title: 'Babettes gæstebud', dueDate: '2026-12-04' },
      { itemId: '5000000002', title: 'Gengældelsens veje', dueDate: '2026-12-04' },
    ],
    reservation: null,
    ...overrides,
  };
}

interface NoticesAnswer {
  notices: { id: string; messages: { id: string; channel: string; status: string; sendAfter: string }[] }[];
}

describe('POST /api/notices (SPEC §11)', function () {
  let h: Harness;

  const post = async (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => {
    const response = await fetch(`${h.baseUrl}/api/notices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as NoticesAnswer & { message?: string } };
  };
  const rows = async (table: 'notices' | 'outbound_messages' | 'patrons') => Number((await h.deps.db(table).count({ n: '*' }).first())?.n ?? 0);
  const messages = async () => (await h.api<MessageView[]>('/api/messages?direction=out')).body;
  const morning = () => h.windowOpens('2026-12-02T08:45:00+01:00');

  describe('with NOTICES_TOKEN set', () => {
    beforeEach(async () => {
      h = await Harness.start({ workers: true, fixture: library, now: EVENING, env: { NOTICES_TOKEN: TOKEN } });
    });
    afterEach(async () => h.stop());

    it('a reminder at 21:30 writes one SMS for the next 08:45 and one e-mail sent at once; the same id again adds nothing', async () => {
      const first = await post(reminder('fbs-1'));
      expect(first.status).to.equal(202);
      const [notice] = first.body.notices;
      expect(notice?.id).to.equal('fbs-1');
      const sms = notice?.messages.find((message) => message.channel === 'sms');
      const email = notice?.messages.find((message) => message.channel === 'email');
      expect(sms).to.include({ status: 'scheduled', sendAfter: '2026-12-02T08:45:00.000+01:00' });
      expect(sms?.id).to.match(/^out-\d+$/);
      expect(email?.id).to.match(/^out-\d+$/);

      const listed = await eventually(async () => {
        const all = await messages();
        return all.find((message) => message.id === email?.id && message.status === 'sent') && all;
      }, 10_000, 'the e-mail sent');
      const smsRow = listed.find((message) => message.id === sms?.id);
      expect(smsRow).to.include({ kind: 'reminder', to: '+4520000001', status: 'scheduled' });
      expect(smsRow?.body).to.equal('Helsingør Kommunes Biblioteker: 2 lån skal afleveres senest 4. december. Svar HBK FORNY ALLE til 1910 for at forny.');

      const again = await post(reminder('fbs-1'));
      expect(again.status).to.equal(202);
      expect(again.body.notices[0]?.messages.map((message) => message.id)).to.deep.equal(notice?.messages.map((message) => message.id));
      expect(await rows('outbound_messages')).to.equal(2);
      expect(await rows('notices')).to.equal(1);

      await morning();
      await eventually(() => h.twilio.messages.length === 1, 10_000, 'the SMS at 08:45');
      await queuesSettled([h.deps.queues.sendSms, h.deps.queues.sendEmail]);
      expect(h.twilio.messages).to.have.length(1);
    });

    it('counts notices by kind and status on the overview and in forny_notices_total', async () => {
      await post([reminder('fbs-m1'), reminder('fbs-m2', { kind: 'overdue', patron: { ...reminder('x').patron, email: null } })]);
      const basic = `Basic ${Buffer.from(`${h.config.admin.user}:${h.config.admin.password}`).toString('base64')}`;
      const page = await (await fetch(`${h.baseUrl}/admin`, { headers: { authorization: basic } })).text();
      expect(page).to.contain('Meddelelser fra bibliotekssystemet');
      expect(page).to.match(/<th scope="row">overskredet frist<\/th><td data-label="Kanal">SMS<\/td>/);
      await h.refreshMetrics();
      const metrics = await (await fetch(`${h.baseUrl}/metrics`)).text();
      expect(metrics).to.contain('forny_notices_total{library="default",kind="reminder",channel="sms",status="scheduled"} 1');
      expect(metrics).to.contain('forny_notices_total{library="default",kind="overdue",channel="sms",status="scheduled"} 1');
      expect(metrics).to.contain('forny_notices_total{library="default",kind="overdue",channel="email",status="none"} 1');
    });

    it('two requests with the same new notice at once write it once and answer alike', async () => {
      const [a, b] = await Promise.all([post([reminder('fbs-r1'), reminder('fbs-r2')]), post([reminder('fbs-r2'), reminder('fbs-r1')])]);
      expect([a.status, b.status]).to.deep.equal([202, 202]);
      const ids = (answer: typeof a, id: string) => answer.body.notices.find((notice) => notice.id === id)?.messages.map((message) => message.id);
      expect(ids(a, 'fbs-r1')).to.deep.equal(ids(b, 'fbs-r1'));
      expect(await rows('outbound_messages')).to.equal(4);
    });

    it('the same id with other content is 409 naming it, and nothing changes', async () => {
      expect((await post(reminder('fbs-2'))).status).to.equal(202);
      const other = await post(reminder('fbs-2', { kind: 'overdue' }));
      expect(other.status).to.equal(409);
      expect(other.body.message).to.contain('fbs-2');
      expect(await rows('outbound_messages')).to.equal(2);
    });

    it('a reservation with a 200-character title is one GSM-7 segment naming the branch, the title shortened with ...', async () => {
      const title = `Den “lange” titel – ${'om alt og intet '.repeat(20)}`.slice(0, 200);
      const answer = await post({
        id: 'fbs-res-1',
        kind: 'reservation_ready',
        patron: { cardNumber: '0202021111', name: 'Tove Ditlevsen', mobile: '20000002', email: null, smsOptIn: true, emailOptIn: false },
        loans: [],
        reservation: { title, pickupBranch: 'Helsingør Bibliotek, Kulturværftet', pickupBy: '2026-12-08' },
      });
      expect(answer.status).to.equal(202);
      expect(answer.body.notices[0]?.messages).to.have.length(1);
      const [sms] = (await messages()).filter((message) => message.channel === 'sms');
      expect(sms).to.include({ kind: 'notice', to: '+4520000002' });
      expect(fitsOneSegment(sms?.body ?? '')).to.equal(true);
      expect(sms?.body).to.contain('på Helsingør Bibliotek, Kulturværftet');
      expect(sms?.body).to.contain('Hent senest 8. december');
      expect(sms?.body).to.match(/^Helsingør Kommunes Biblioteker: "Den "lange" titel - om alt .*\.\.\." er klar/);
    });

    it('a number that texted STOP gets no SMS, whatever smsOptIn says; the e-mail still goes; START lets SMS through again', async () => {
      await post(reminder('fbs-3'));
      await h.text('+4520000001', 'STOP');
      await eventually(async () => (await messages()).find((message) => message.body.includes('afmeldt')), 10_000, 'the STOP confirmation');
      const afterStop = await post(reminder('fbs-4'));
      expect(afterStop.body.notices[0]?.messages.map((message) => message.channel)).to.deep.equal(['email']);
      // The reminder written before STOP is not sent either.
      const earlier = (await messages()).find((message) => message.channel === 'sms' && message.kind === 'reminder');
      expect(earlier?.status).to.equal('superseded');

      await h.text('+4520000001', 'START');
      await eventually(async () => (await messages()).find((message) => message.body.includes('tilmeldt')), 10_000, 'the START confirmation');
      const afterStart = await post(reminder('fbs-5'));
      expect(afterStart.body.notices[0]?.messages.map((message) => message.channel).sort()).to.deep.equal(['email', 'sms']);
    });

    it('a bad notice in a batch of three is 400 naming it by index, and none of the three is stored', async () => {
      const bad = reminder('fbs-b', { patron: { ...reminder('x').patron, mobile: 'not a number' } });
      const answer = await post([reminder('fbs-a'), bad, reminder('fbs-c')]);
      expect(answer.status).to.equal(400);
      expect(answer.body.message).to.equal('[1].patron.mobile: not a phone number');
      expect(await rows('notices')).to.equal(0);
      expect(await rows('outbound_messages')).to.equal(0);
      expect(await rows('patrons')).to.equal(1);
    });

    it('names other problems by their place', async () => {
      const cases: [unknown, string][] = [
        [[reminder('a'), reminder('b', { loans: [] })], '[1].loans: a reminder notice names at least one loan'],
        [reminder('a', { kind: 'letter' }), 'kind: expected one of reminder, overdue, recall, reservation_ready'],
        [[reminder('a', { loans: [{ itemId: 'x', title: 'T', dueDate: '2026-02-30' }] })], '[0].loans[0].dueDate: expected a date YYYY-MM-DD'],
        [[reminder('a', { id: undefined })], '[0].id: missing'],
        [[], 'no notices: the array is empty'],
      ];
      for (const [body, message] of cases) {
        const answer = await post(body);
        expect(answer.status, message).to.equal(400);
        expect(answer.body.message).to.equal(message);
      }
    });

    it('no token, a wrong token or the operators\' login is 401; more than 1 MiB is 413', async () => {
      expect((await post(reminder('fbs-6'), {})).status).to.equal(401);
      expect((await post(reminder('fbs-6'), { authorization: `Bearer ${TOKEN}x` })).status).to.equal(401);
      const basic = `Basic ${Buffer.from(`${h.config.admin.user}:${h.config.admin.password}`).toString('base64')}`;
      expect((await post(reminder('fbs-6'), { authorization: basic })).status).to.equal(401);
      const big = JSON.stringify([reminder('fbs-big', { patron: { ...reminder('x').patron, name: 'x'.repeat(1024 * 1024) } })]);
      expect((await post(big)).status).to.equal(413);
      expect(await rows('notices')).to.equal(0);
    });

    it('after a reminder notice, HBK FORNY ALLE from that mobile renews that card\'s loans', async () => {
      h.clock.set('2026-12-01T10:00:00+01:00');
      expect((await post(reminder('fbs-7'))).status).to.equal(202);
      const { messageSid } = await h.text('+4520000001', 'HBK FORNY ALLE');
      const inbound = await eventually(async () => {
        const view = (await h.api<{ status: string; patronId: string; result: { renewed: number; total: number } | null }>(`/api/inbound/${messageSid}`)).body;
        return view.result !== null && view;
      }, 10_000, 'the renew-all');
      expect(inbound.patronId).to.equal('p1');
      expect(inbound.result).to.include({ renewed: 2, total: 2 });
    });

    it('a reminder naming a loan forny\'s tables do not hold e-mails it at once, as still due', async () => {
      const notice = reminder('fbs-unknown', { loans: [{ itemId: '5999999999', title: 'Syv fantastiske fortællinger', dueDate: '2026-12-04' }] });
      expect((await post(notice)).status).to.equal(202);
      await queuesSettled([h.deps.queues.sendEmail]);
      const email = (await messages()).find((message) => message.channel === 'email');
      expect(email, JSON.stringify(email)).to.include({ kind: 'reminder', status: 'sent' });
      expect(email?.body).to.contain('Syv fantastiske fortællinger');
    });

    it('a reminder whose loans were renewed before 08:45 is superseded, not sent', async () => {
      await post(reminder('fbs-8'));
      await h.text('+4520000001', 'HBK FORNY ALLE'); // renewed at once at night; the reply waits for the window
      await eventually(async () => (await h.deps.db('loans').where({ id: 'l1' }).first())?.due_date !== '2026-12-04', 10_000, 'the renewal');
      await morning();
      await eventually(() => h.twilio.messages.length === 1, 10_000, 'the renew-all reply');
      await queuesSettled([h.deps.queues.sendSms]);
      const reminderSms = (await messages()).find((message) => message.channel === 'sms' && message.kind === 'reminder');
      expect(reminderSms?.status).to.equal('superseded');
      expect(h.twilio.messages.map((message) => message.body)).to.deep.equal(['Helsingør Kommunes Biblioteker: 2 af 2 lån er fornyet.']);
    });
  });

  describe('NOTICES_TOKEN in the configuration', () => {
    it('is at least 32 characters, refused in one line that names it and hides it', () => {
      expect(() => loadConfig({ NOTICES_TOKEN: 'too-short-token' })).to.throw(ConfigError, 'Invalid configuration: NOTICES_TOKEN (value hidden): expected at least 32 characters');
    });
    it('is among the secrets the logger takes out of every line', () => {
      expect(configuredSecrets(loadConfig({ NOTICES_TOKEN: TOKEN }))).to.include(TOKEN);
    });
  });

  describe('with NOTICES_TOKEN unset', () => {
    beforeEach(async () => {
      h = await Harness.start({ fixture: library, now: EVENING });
    });
    afterEach(async () => h.stop());

    it('is 404 whatever the request carries', async () => {
      expect((await post(reminder('fbs-9'))).status).to.equal(404);
      expect((await post(reminder('fbs-9'), {})).status).to.equal(404);
      const basic = `Basic ${Buffer.from(`${h.config.admin.user}:${h.config.admin.password}`).toString('base64')}`;
      expect((await post(reminder('fbs-9'), { authorization: basic })).status).to.equal(404);
      expect(await rows('notices')).to.equal(0);
    });
  });
});
