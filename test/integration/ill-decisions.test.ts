import { expect } from 'chai';
import { EVERY_RULE_TODAY, KAREN, everyRuleLibrary } from '../fixtures/every-rule.js';
import type { InboundView } from '../helpers/api-views.js';
import { eventually, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';

/** The owning library refuses an interlibrary renewal, or recalls the loan (SPEC §2). */
describe('interlibrary decisions from the owning library', function () {
  let h: Harness;
  beforeEach(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
    await h.text(KAREN, 'HBK FORNY ALLE');
    await eventually(() => h.twilio.messagesTo(KAREN).length === 1);
  });
  afterEach(async () => h.stop());

  const post = (path: string, body: unknown, contentType = 'application/json') =>
    fetch(`${h.baseUrl}${path}`, {
      method: 'POST',
      headers: {
        'content-type': contentType,
        authorization: `Basic ${Buffer.from(`${h.config.admin.user}:${h.config.admin.password}`).toString('base64')}`,
      },
      body: JSON.stringify(body),
    });
  const loan = async (id: string) => h.deps.db('loans').where({ id }).first();

  it('a refused renewal restores the old due date, records ill_refused, and tells the patron once', async () => {
    expect(await loan('l-ill-ontime')).to.include({ due_date: '2026-12-29', renewals: 2, provisional: 1 });
    const response = await post('/api/loans/l-ill-ontime/ill-refusal', {});
    expect(response.status).to.equal(200);
    const decision = (await response.json()) as { loanId: string; dueDate: string; noticeId: string };
    expect(decision).to.include({ loanId: 'l-ill-ontime', dueDate: '2026-12-01' });
    expect(await loan('l-ill-ontime')).to.include({ due_date: '2026-12-01', renewals: 1, provisional: 0 });

    const notice = await eventually(() => h.twilio.messagesTo(KAREN)[1]);
    expect(notice.body).to.equal('Helsingør Kommunes Biblioteker: Ejerbiblioteket afviste fornyelsen af et fjernlån. Det skal afleveres senest 1. december. Se på helsbib.dk.');
    const { body } = await h.api<{ loans: { id: string; lastRenewal: { outcome: string; reason: string } | null }[] }>('/api/patrons/p-karen/loans');
    expect(body.loans.find((row) => row.id === 'l-ill-ontime')?.lastRenewal).to.include({ outcome: 'refused', reason: 'ill_refused' });
    expect(await h.deps.db('audit_log').where({ action: 'loan.ill-refused', target: 'l-ill-ontime' })).to.have.length(1);

    const again = await post('/api/loans/l-ill-ontime/ill-refusal', {});
    expect(again.status).to.equal(409);
    expect(((await again.json()) as { error: string }).error).to.equal('not_provisional');
    await queuesSettled(h.deps.queues.all);
    expect(h.twilio.messagesTo(KAREN)).to.have.length(2);
  });

  it('a recall shortens the due date and tells the patron; at night the notice waits for the window', async () => {
    h.clock.set(`${EVERY_RULE_TODAY}T21:00:00+01:00`);
    const response = await post('/api/loans/l-ill-max/ill-recall', { dueDate: '2026-12-03' });
    expect(response.status).to.equal(200);
    expect((await loan('l-ill-max'))?.due_date).to.equal('2026-12-03');
    const notice = await h.deps.db('outbound_messages').where({ purpose: 'ill-recalled' }).first();
    expect(notice).to.include({ status: 'scheduled', send_after: '2026-12-02T07:45:00.000Z', kind: 'notice', to_address: KAREN });
    expect(notice?.body).to.contain('kaldt et fjernlån hjem');
    expect(notice?.body).to.contain('3. december');
  });

  /** Karen texts HBK FORNY ALLE again; her reply arrives and the loan's result is returned. */
  const renewAgain = async (loanId: string) => {
    const replies = h.twilio.messagesTo(KAREN).length;
    const { messageSid } = await h.text(KAREN, 'HBK FORNY ALLE');
    await eventually(() => h.twilio.messagesTo(KAREN).length > replies, 10_000, 'the second reply');
    const { body } = await h.api<InboundView>(`/api/inbound/${messageSid}`);
    return body.result?.loans.find((row) => row.loanId === loanId);
  };

  it('a refused interlibrary loan is refused ill_refused by the next renew-all, the same day', async () => {
    expect((await post('/api/loans/l-ill-ontime/ill-refusal', {})).status).to.equal(200);
    await eventually(() => h.twilio.messagesTo(KAREN).length === 2);
    expect(await renewAgain('l-ill-ontime')).to.include({ outcome: 'refused', reason: 'ill_refused', newDueDate: null });
    expect(await loan('l-ill-ontime')).to.include({ due_date: '2026-12-01', renewals: 1, ill_refused_on: EVERY_RULE_TODAY });
  });

  it('a recalled interlibrary loan is refused recalled by the next renew-all, not renewed past the recall', async () => {
    // An interlibrary loan the rules would renew today: on time, within seven days, no renewals yet.
    await h.deps.db('loans').where({ id: 'l-ill-max' }).update({ renewals: 0 });
    expect((await post('/api/loans/l-ill-max/ill-recall', { dueDate: '2026-12-03' })).status).to.equal(200);
    await eventually(() => h.twilio.messagesTo(KAREN).length === 2);
    expect(await renewAgain('l-ill-max')).to.include({ outcome: 'refused', reason: 'recalled', newDueDate: null });
    expect(await loan('l-ill-max')).to.include({ due_date: '2026-12-03', renewals: 0, recalled_on: EVERY_RULE_TODAY });
  });

  it('a refusal whose restored due date has passed asks for the loan back at once, never "senest" a past date', async () => {
    h.clock.set('2026-12-03T10:00:00+01:00');
    expect((await post('/api/loans/l-ill-ontime/ill-refusal', {})).status).to.equal(200);
    const notice = await eventually(() => h.twilio.messagesTo(KAREN)[1]);
    expect(notice.body).to.equal('Helsingør Kommunes Biblioteker: Ejerbiblioteket afviste fornyelsen af et fjernlån. Fristen er overskredet, så aflever det straks. Se på helsbib.dk.');
  });

  const refusals: { name: string; path: string; body: unknown; contentType?: string; status: number; error: string }[] = [
    { name: 'a loan that is not interlibrary', path: '/api/loans/l-ontime/ill-refusal', body: {}, status: 409, error: 'not_interlibrary' },
    { name: 'an interlibrary loan with no renewal pending', path: '/api/loans/l-ill-late/ill-refusal', body: {}, status: 409, error: 'not_provisional' },
    { name: 'an unknown loan', path: '/api/loans/l-nothing/ill-refusal', body: {}, status: 404, error: 'not_found' },
    { name: 'a form post instead of JSON', path: '/api/loans/l-ill-ontime/ill-refusal', body: {}, contentType: 'application/x-www-form-urlencoded', status: 415, error: 'unsupported_media_type' },
    { name: 'a recall without a date', path: '/api/loans/l-ill-max/ill-recall', body: {}, status: 400, error: 'missing_field' },
    { name: 'a recall to a date that is no date', path: '/api/loans/l-ill-max/ill-recall', body: { dueDate: '2026-12-32' }, status: 400, error: 'invalid_field' },
    { name: 'a recall into the past', path: '/api/loans/l-ill-max/ill-recall', body: { dueDate: '2026-11-30' }, status: 400, error: 'invalid_field' },
    { name: 'a recall that lengthens the loan', path: '/api/loans/l-ill-max/ill-recall', body: { dueDate: '2027-01-30' }, status: 400, error: 'invalid_field' },
  ];
  for (const refusal of refusals) {
    it(`refuses ${refusal.name} (${refusal.status}) and changes nothing`, async () => {
      const before = await h.deps.db('loans').orderBy('id').select('id', 'due_date', 'renewals');
      const response = await post(refusal.path, refusal.body, refusal.contentType);
      expect(response.status).to.equal(refusal.status);
      expect(((await response.json()) as { error: string }).error).to.equal(refusal.error);
      expect(await h.deps.db('loans').orderBy('id').select('id', 'due_date', 'renewals')).to.deep.equal(before);
    });
  }
});
