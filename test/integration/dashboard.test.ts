import { expect } from 'chai';
import type { DbBool } from '../../db/tables.js';
import { QUEUE_TEXT } from '../../src/http/admin/labels.js';
import { QUEUE } from '../../src/queue/queues.js';
import { EVERY_RULE_TODAY, KAREN, OTHER_PATRON, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, Harness } from '../helpers/harness.js';

const LOGIN = { user: 'operator', password: 'correct-horse-battery' };
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const operator = basic(LOGIN.user, LOGIN.password);

/** SPEC §2's reason codes in the words the library's own page uses. */
const DANISH_REASON: Readonly<Record<string, string>> = {
  not_renewable: 'materialet kan ikke fornys (udlånsbegrænsning)',
  too_late: 'fjernlån skal fornys rettidigt',
  too_soon: 'kan først fornys 7 dage før afleveringsfristen',
  too_many: 'fornyet det højeste antal gange',
  on_reserve: 'reserveret af en anden låner',
};

/** The table rows of a page that contain `text`. */
const rowsWith = (page: string, text: string) => [...page.matchAll(/<tr[\s>][\s\S]*?<\/tr>/g)].map((match) => match[0]).filter((row) => row.includes(text));
/** A row's cells as text. */
const cells = (row: string) => [...row.matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map((match) => (match[1] ?? '').replace(/<[^>]+>/g, '').trim());
/** The CSRF token of the form posting to `action`. */
const tokenOf = (page: string, action: string) => new RegExp(`action="${action}"[^>]*><input type="hidden" name="_csrf" value="([^"]+)"`).exec(page)?.[1];

describe("operators' dashboard (/admin)", function () {
  let h: Harness;
  let reply: string;

  const get = (path: string, headers: Record<string, string> = operator) => fetch(`${h.baseUrl}${path}`, { headers, redirect: 'manual' });
  const page = async (path: string) => {
    const response = await get(path);
    expect(response.status, path).to.equal(200);
    return response.text();
  };
  const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${h.baseUrl}${path}`, {
      method: 'POST',
      headers: { ...operator, 'content-type': 'application/x-www-form-urlencoded', origin: h.baseUrl, ...headers },
      body: new URLSearchParams(form),
      redirect: 'manual',
    });
  const auditRows = () => h.deps.db('audit_log').orderBy('id').select('actor', 'action', 'target');

  /** Makes Twilio refuse the next SMS for good (21211) and returns the id of the failed reply. */
  const failNextReply = async (from: string, body: string) => {
    // The failure goes to the next send: nothing else may be on its way.
    await eventually(async () => (await h.deps.db('outbound_messages').whereIn('status', ['scheduled', 'queued']).first()) === undefined);
    h.twilio.failNext({ kind: 'http', status: 400, code: 21211, message: 'The To number is not a valid phone number.' });
    await h.text(from, body);
    const failed = await eventually(() => h.deps.db('outbound_messages').where({ to_address: from, status: 'failed' }).orderBy('id', 'desc').first(), 10_000, 'the reply to fail');
    return Number(failed.id);
  };

  before(async () => {
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
    await h.text(KAREN, 'HBK FORNY ALLE');
    reply = (await eventually(() => h.twilio.messagesTo(KAREN)[0], 10_000, 'the reply to reach Twilio')).body;
    await eventually(async () => (await h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'sent' }).first()) !== undefined);
  });
  after(async () => h.stop());

  for (const path of ['/admin', '/admin/messages', '/admin/failures', '/admin/queues', '/admin/queues/api/queues', '/api/messages']) {
    it(`answers 401 on ${path} without a login or with a wrong one, and 200 with the operator's`, async () => {
      const none = await get(path, {});
      expect(none.status).to.equal(401);
      expect(none.headers.get('www-authenticate')).to.match(/^Basic realm="forny"/);
      expect((await get(path, basic(LOGIN.user, 'wrong-password'))).status).to.equal(401);
      expect((await get(path, basic('someone', LOGIN.password))).status).to.equal(401);
      expect((await get(path)).status).to.equal(200);
    });
  }

  it('shows every queue with its job counts, the send window and today on the overview', async () => {
    const overview = await page('/admin');
    const queueRow = (queue: string) => rowsWith(overview, `href="/admin/queues/queue/${queue}"`);
    for (const queue of Object.values(QUEUE)) expect(queueRow(queue), queue).to.have.length(1);
    // waiting, active, delayed, failed, completed: one renew-all handled; its reply, due at once,
    // was sent by that job itself, so send-sms has had nothing to do.
    expect(cells(queueRow('renew-all')[0] ?? '').slice(1)).to.deep.equal(['0', '0', '0', '0', '1']);
    expect(cells(queueRow('send-sms')[0] ?? '').slice(1)).to.deep.equal(['0', '0', '0', '0', '0']);
    expect(overview).to.contain('Vinduet er <strong>åbent nu</strong>');
    expect(overview).to.contain('Bibliotekssystem: indbygget');
    expect(cells(rowsWith(overview, '<th scope="row">SMS</th>')[0] ?? '')).to.deep.equal(['SMS', '1', '0', '0']);
    const results = await h.deps.db('renewal_results').select('outcome');
    const renewed = results.filter((row) => row.outcome === 'renewed').length;
    // Requests and loans are counted apart, each under its own name.
    expect(cells(rowsWith(overview, 'Anmodninger fra lånere')[0] ?? '')).to.deep.equal(['Anmodninger fra lånere', '1']);
    expect(cells(rowsWith(overview, 'Lån vurderet i alt')[0] ?? '')).to.deep.equal(['Lån vurderet i alt', String(results.length)]);
    expect(cells(rowsWith(overview, 'Heraf fornyet')[0] ?? '')[1]).to.match(new RegExp(`^${renewed} \\(\\d+\\s%\\)$`));
    expect(overview).to.match(/<canvas id="hourly-chart"/);
    const chart = JSON.parse(/<script type="application\/json" id="hourly-data">(.*?)<\/script>/.exec(overview)?.[1] ?? 'null') as { labels: string[]; received: number[]; sent: number[] };
    expect(chart.labels).to.have.length(24);
    expect(chart.labels.at(-1)).to.equal('10'); // the library's hour, now
    expect(chart.received.at(-1)).to.equal(1);
    expect(chart.sent.at(-1)).to.equal(1);
  });

  it('names the queues in Danish on the overview, the technical name small beside it for those who read the logs', async () => {
    const overview = await page('/admin');
    for (const queue of Object.values(QUEUE)) {
      const [row] = rowsWith(overview, `href="/admin/queues/queue/${queue}"`);
      const link = /<a href="\/admin\/queues\/queue\/[^"]+"[^>]*>([^<]*)<\/a>/.exec(row ?? '');
      expect(link?.[1], queue).to.equal(QUEUE_TEXT[queue]);
      expect(row, queue).to.contain(`<code class="queue-name" translate="no">${queue}</code>`);
    }
    // Outside those small names, no queue's technical name is on the page's text.
    const text = overview.replace(/<code class="queue-name"[^>]*>[^<]*<\/code>/g, '').replace(/<[^>]+>/g, ' ');
    for (const queue of Object.values(QUEUE)) expect(text, queue).not.to.contain(queue);
  });

  it('finds a patron from the Beskeder search, with the number written as the patron would', async () => {
    const found = await page(`/admin/messages?number=${encodeURIComponent('61 00 00 01')}`);
    expect(found).to.contain(`href="/admin/conversations/${encodeURIComponent(KAREN)}"`);
    expect(rowsWith(found, 'HBK FORNY ALLE')).to.have.length(1);
    expect(rowsWith(found, 'svar på FORNY ALLE')).to.have.length(1);
    expect(found).to.contain('+45 61 00 00 01</a> <span class="muted">Karen Blixen</span>');
    expect(found).not.to.contain(encodeURIComponent(OTHER_PATRON));
  });

  it("shows a patron's conversation in order: the request, each loan with its reason in Danish, the reply", async () => {
    const conversation = await page(`/admin/conversations/${encodeURIComponent(KAREN)}`);
    expect(conversation).to.contain('Karen Blixen');
    const request = conversation.indexOf('<p class="body">HBK FORNY ALLE</p>');
    const firstLoan = conversation.indexOf('<table class="renewals');
    const answer = conversation.indexOf(reply);
    expect(request).to.be.greaterThan(-1);
    expect(firstLoan).to.be.greaterThan(request);
    expect(answer).to.be.greaterThan(firstLoan);

    const results = await h.deps.db('renewal_results as r').join('loans as l', 'l.id', 'r.loan_id').join('items as i', 'i.id', 'l.item_id').join('titles as t', 't.id', 'i.title_id').select<{ title: string; outcome: string; reason: string | null; provisional: DbBool }[]>('t.title', 'r.outcome', 'r.reason', 'r.provisional');
    expect(results.some((row) => row.reason === 'on_reserve')).to.equal(true);
    for (const result of results) {
      const [row, ...others] = rowsWith(conversation, `<td>${result.title}`);
      expect(others, result.title).to.have.length(0);
      const outcome = cells(row ?? '')[3];
      if (result.outcome === 'refused') {
        expect(outcome, result.title).to.equal('ikke fornyet');
        expect(cells(row ?? '')[4], result.title).to.equal(DANISH_REASON[result.reason ?? '']);
      } else {
        expect(outcome, result.title).to.equal(result.provisional ? 'fornyet med forbehold' : 'fornyet');
      }
    }
  });

  it('lists renew-alls and opens one loan by loan, with the reply it got', async () => {
    const sid = (await h.deps.db('inbound_messages').where({ from_number: KAREN }).first())?.message_sid as string;
    const list = await page('/admin/renewals');
    expect(list).to.contain(`href="/admin/renewals/${sid}"`);
    const one = await page(`/admin/renewals/${sid}`);
    expect(rowsWith(one, DANISH_REASON.on_reserve ?? '')).to.have.length(1);
    expect(one).to.contain(reply);
    const missing = await get('/admin/renewals/SM00000000000000000000000000000000');
    expect(missing.status).to.equal(404);
    expect(await missing.text()).to.contain('Ingen FORNY ALLE med MessageSid');
  });

  it('filters the message flow by direction, kind and status, and pages through it', async () => {
    const inbound = await page('/admin/messages?direction=in');
    expect(rowsWith(inbound, '<tr class="out">')).to.have.length(0);
    expect(rowsWith(inbound, '<tr class="in">')).to.have.length(1);
    expect(rowsWith(await page('/admin/messages?kind=reply&status=sent'), '<tr class="out">')).to.have.length(1);
    expect(await page('/admin/messages?status=failed')).to.contain('Ingen beskeder passer på søgningen.');

    const first = await page('/admin/messages?limit=1');
    expect(first).to.contain('href="/admin/messages?limit=1&amp;offset=1">Næste');
    expect(first).not.to.contain('Forrige');
    const second = await page('/admin/messages?limit=1&offset=1');
    expect(second).to.contain('href="/admin/messages?limit=1">← Forrige');
    expect(second).not.to.contain('Næste');
  });

  it('escapes what patrons write: a message body never becomes markup', async () => {
    await h.text(OTHER_PATRON, '<script>alert(1)</script>');
    await eventually(async () => (await h.deps.db('inbound_messages').where({ from_number: OTHER_PATRON }).first())?.status === 'processed');
    const messages = await page('/admin/messages');
    expect(messages).to.contain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(messages).not.to.contain('<script>alert');
  });

  describe('failures and what operators do about them', () => {
    it('shows a message Twilio refused with its code explained, and sends it again on "Prøv igen"', async () => {
      const id = await failNextReply(OTHER_PATRON, 'HJÆLP');
      const failures = await page('/admin/failures');
      const [row] = rowsWith(failures, `id="out-${id}"`);
      expect(row).to.contain('21211');
      expect(row).to.contain('Ugyldigt telefonnummer');
      expect(row).to.contain('The To number is not a valid phone number.');
      expect(rowsWith(failures, 'send-sms')).to.have.length(1); // its job failed too
      const token = tokenOf(failures, `/admin/failures/messages/${id}/retry`);
      expect(token).to.be.a('string');
      const sentBefore = h.twilio.messagesTo(OTHER_PATRON).length;

      const response = await post(`/admin/failures/messages/${id}/retry`, { _csrf: token ?? '' });
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.equal(`/admin/failures?done=message-retried&target=out-${id}`);
      await eventually(async () => (await h.deps.db('outbound_messages').where({ id }).first())?.status === 'sent', 10_000, 'the retried message to be sent');
      expect(h.twilio.messagesTo(OTHER_PATRON)).to.have.length(sentBefore + 1);
      expect(await auditRows()).to.deep.equal([{ actor: 'operator', action: 'message.retry', target: `out-${id}` }]);

      const after = await page(response.headers.get('location') ?? '');
      expect(after).to.contain(`Besked out-${id} er sat i kø og sendes igen.`);
      expect(rowsWith(after, `id="out-${id}"`)).to.have.length(0);
      expect(rowsWith(after, 'sendte en besked igen')).to.have.length(1);

      // A second click (or a second operator) finds nothing to do and records nothing.
      const again = await post(`/admin/failures/messages/${id}/retry`, { _csrf: token ?? '' });
      expect(again.headers.get('location')).to.equal(`/admin/failures?done=unchanged&target=out-${id}`);
      expect(await auditRows()).to.have.length(1);
    });

    it('refuses an action without the token, with a wrong one, or from another site: 403 and nothing changes', async () => {
      const id = await failNextReply(KAREN, 'HJÆLP');
      const token = tokenOf(await page('/admin/failures'), `/admin/failures/messages/${id}/retry`) ?? '';
      const audited = (await auditRows()).length;
      const attempts = [
        post(`/admin/failures/messages/${id}/retry`, {}),
        post(`/admin/failures/messages/${id}/retry`, { _csrf: 'forged' }),
        post(`/admin/failures/messages/${id}/retry`, { _csrf: `${token}x` }),
        post(`/admin/failures/messages/${id}/cancel`, { _csrf: token }, { origin: 'https://evil.example' }),
        post(`/admin/failures/messages/${id}/cancel`, { _csrf: token }, { origin: 'null' }),
      ];
      for (const response of await Promise.all(attempts)) {
        expect(response.status).to.equal(403);
        expect(await response.text()).to.contain('Handlingen blev afvist');
      }
      expect((await h.deps.db('outbound_messages').where({ id }).first())?.status).to.equal('failed');
      expect(await auditRows()).to.have.length(audited);

      const cancelled = await post(`/admin/failures/messages/${id}/cancel`, { _csrf: token });
      expect(cancelled.headers.get('location')).to.equal(`/admin/failures?done=message-cancelled&target=out-${id}`);
      expect(await h.deps.db('outbound_messages').where({ id }).first())?.to.include({ status: 'superseded', error_code: '21211' });
      expect((await auditRows()).at(-1)).to.deep.equal({ actor: 'operator', action: 'message.cancel', target: `out-${id}` });
    });

    it('lists a failed message and its failed send job until an operator acts on it, then neither', async () => {
      const id = await failNextReply(KAREN, 'HJÆLP');
      await eventually(async () => (await h.deps.queues.sendSms.getJob(`out-${id}`))?.isFailed(), 10_000, 'the send job to fail');
      const before = await page('/admin/failures');
      expect(before).to.contain(`<tr id="out-${id}">`);
      expect(rowsWith(before, `/send-sms/out-${id}"`), 'the failed send job').to.have.length(1);
      // The job's name is the message's purpose, in Danish like everything else on the page.
      expect(cells(rowsWith(before, `/send-sms/out-${id}"`)[0] ?? '')[1]).to.equal(`out-${id} hjælpetekst`);
      expect(before).to.contain('<summary>vis detaljer</summary>');

      const token = tokenOf(before, `/admin/failures/messages/${id}/cancel`) ?? '';
      expect((await post(`/admin/failures/messages/${id}/cancel`, { _csrf: token })).status).to.equal(303);
      const after = await page('/admin/failures');
      expect(after).not.to.contain(`<tr id="out-${id}">`);
      expect(rowsWith(after, `/send-sms/out-${id}"`), 'the failed send job').to.have.length(0);
      expect(await h.deps.queues.sendSms.getJob(`out-${id}`)).to.not.equal(undefined); // still in BullMQ, only no longer listed
    });

    it('runs a failed job again on "Prøv igen" and records it', async () => {
      await h.deps.queues.renewAll.add('renew-all', { inboundId: 999_999 }, { jobId: 'in-999999', attempts: 1 });
      const job = await eventually(async () => {
        const found = await h.deps.queues.renewAll.getJob('in-999999');
        return found && (await found.getState()) === 'failed' ? found : undefined;
      });
      const failures = await page('/admin/failures');
      expect(rowsWith(failures, 'inbound message 999999 does not exist')).to.have.length(1);
      const action = '/admin/failures/jobs/renew-all/in-999999/retry';
      const response = await post(action, { _csrf: tokenOf(failures, action) ?? '' });
      expect(response.headers.get('location')).to.equal('/admin/failures?done=job-retried&target=renew-all%2Fin-999999');
      await eventually(async () => ((await h.deps.queues.renewAll.getJob(job.id ?? ''))?.attemptsMade ?? 0) >= 2, 10_000, 'the job to run again');
      expect((await auditRows()).at(-1)).to.deep.equal({ actor: 'operator', action: 'job.retry', target: 'renew-all/in-999999' });
    });
  });

  describe('Bull Board (/admin/queues)', () => {
    it('lists every queue through its API', async () => {
      const response = await get('/admin/queues/api/queues');
      const names = ((await response.json()) as { queues: { name: string }[] }).queues.map((queue) => queue.name);
      expect(names).to.include.members(['renew-all', 'sms-command', 'send-sms', 'send-email', 'reminders']);
    });

    it('takes changes from its own page only, and records them', async () => {
      const change = (origin: string) => fetch(`${h.baseUrl}/admin/queues/api/queues/reminders/pause`, { method: 'PUT', headers: { ...operator, origin } });
      expect((await change('https://evil.example')).status).to.equal(403);
      expect(await h.deps.queues.reminders.isPaused()).to.equal(false);
      expect((await change(h.baseUrl)).status).to.equal(200);
      expect(await h.deps.queues.reminders.isPaused()).to.equal(true);
      await h.deps.queues.reminders.resume();
      await eventually(async () => (await auditRows()).find((row) => row.action === 'bull-board.change'));
      expect((await auditRows()).at(-1)).to.deep.equal({ actor: 'operator', action: 'bull-board.change', target: 'PUT /api/queues/reminders/pause' });
    });
  });

  describe('headers', () => {
    it('never lets a browser or proxy keep an admin page', async () => {
      for (const path of ['/admin', '/admin/messages', '/admin/failures', `/admin/conversations/${encodeURIComponent(KAREN)}`, '/admin/queues']) {
        expect((await get(path)).headers.get('cache-control'), path).to.equal('no-store');
      }
    });

    it("sends helmet's headers everywhere, and a CSP that allows no inline script", async () => {
      for (const path of ['/admin', '/admin/queues', '/healthz', '/api/messages']) {
        const headers = (await get(path)).headers;
        expect(headers.get('x-content-type-options'), path).to.equal('nosniff');
        expect(headers.get('x-frame-options'), path).to.equal('SAMEORIGIN');
        expect(headers.get('referrer-policy'), path).to.equal('same-origin');
        const csp = headers.get('content-security-policy') ?? '';
        expect(csp, path).to.contain("default-src 'self'");
        expect(csp, path).to.contain("script-src 'self';");
        expect(csp, path).to.contain("frame-ancestors 'none'");
      }
      // Every script of the dashboard is a file; the only inline block is JSON, which never runs.
      const overview = await page('/admin');
      const inline = [...overview.matchAll(/<script(?![^>]*\bsrc=)([^>]*)>/g)].map((match) => match[1]);
      expect(inline).to.deep.equal([' type="application/json" id="hourly-data"']);
    });

    it('serves the chart library and the page scripts without a login', async () => {
      for (const asset of ['/admin/assets/chart.umd.js', '/admin/assets/overview-chart.js', '/admin/assets/admin.css']) {
        const response = await get(asset, {});
        expect(response.status, asset).to.equal(200);
      }
    });
  });
});

describe("operators' login", () => {
  let h: Harness;
  before(async () => {
    h = await Harness.start();
  });
  after(async () => h.stop());

  it('slows an address down after failed logins, yet lets the right password in on every operator page', async () => {
    const started = Date.now();
    for (let attempt = 0; attempt < 10; attempt += 1) {
      expect((await fetch(`${h.baseUrl}/admin`, { headers: basic(LOGIN.user, `wrong-${attempt}`) })).status).to.equal(401);
    }
    expect(Date.now() - started).to.be.at.least(20 + 40 + 80 + 160 + 200); // the harness's short delays, growing
    expect((await fetch(`${h.baseUrl}/admin`, { headers: operator })).status).to.equal(200);
    expect((await fetch(`${h.baseUrl}/admin/queues`, { headers: operator })).status).to.equal(200);
  });
});
