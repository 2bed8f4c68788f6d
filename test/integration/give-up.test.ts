import { expect } from 'chai';
import { insertInbound } from '../../db/repositories/inbound.js';
import { reconcile } from '../../jobs/reconcile.js';
import { createEmbeddedLibrarySystem } from '../../src/library/embedded.js';
import { LibrarySystemUnavailable } from '../../src/library/library-system-unavailable.js';
import type { LibrarySystem, RenewAllProgress, RenewAllReport, RenewAllRequest } from '../../src/library/library-system.js';
import { renewAllAttempts } from '../../src/queue/queues.js';
import { EVERY_RULE_TODAY, EXPECTED_RENEWED, EXPECTED_TOTAL, KAREN, NO_LOAN_DUE_DAYS_AHEAD, everyRuleLibrary } from '../fixtures/every-rule.js';
import { eventually, found, Harness, newMessageSid } from '../helpers/harness.js';

/**
 * The embedded library system, except that it refuses to be asked while `failuresLeft` lasts (as
 * an unreachable SIP2 server does), and counts how often it was asked.
 */
class FlakyLibrary implements LibrarySystem {
  readonly kind = 'embedded';
  readonly description = 'embedded, failing on demand';
  readonly renewsInJobTransaction = true;
  calls = 0;
  private readonly real = createEmbeddedLibrarySystem({ timeZone: 'Europe/Copenhagen' });

  constructor(public failuresLeft: number) {}

  async renewAll(request: RenewAllRequest): Promise<RenewAllReport> {
    this.calls += 1;
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new LibrarySystemUnavailable('the library system does not answer (test)');
    }
    return this.real.renewAll(request);
  }

  doneSoFar(request: Pick<RenewAllRequest, 'inboundId' | 'patrons'>): Promise<RenewAllProgress> {
    return this.real.doneSoFar(request);
  }

  readonly loansStillDue = this.real.loansStillDue;

  check(): Promise<{ ok: true }> {
    return Promise.resolve({ ok: true });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const LOGIN = { user: 'operator', password: 'correct-horse-battery' };
const operator = { authorization: `Basic ${Buffer.from(`${LOGIN.user}:${LOGIN.password}`).toString('base64')}` };
const page = async (h: Harness, path: string) => {
  const response = await fetch(`${h.baseUrl}${path}`, { headers: operator });
  expect(response.status, path).to.equal(200);
  return response.text();
};
const post = (h: Harness, path: string, form: Record<string, string>) =>
  fetch(`${h.baseUrl}${path}`, {
    method: 'POST',
    headers: { ...operator, 'content-type': 'application/x-www-form-urlencoded', origin: h.baseUrl },
    body: new URLSearchParams(form),
    redirect: 'manual',
  });
/** The table rows of a page that contain `text`. */
const rowsWith = (html: string, text: string) => [...html.matchAll(/<tr[\s>][\s\S]*?<\/tr>/g)].map((match) => match[0]).filter((row) => row.includes(text));
/** The CSRF token of the form posting to `action`. */
const tokenOf = (html: string, action: string) => new RegExp(`action="${action}"[^>]*><input type="hidden" name="_csrf" value="([^"]+)"`).exec(html)?.[1];
const START = `${EVERY_RULE_TODAY}T10:00:00+01:00`;
/** No reminder falls due while these tests run: every SMS to Karen is an answer to her renew-all. */
const QUIET = { REMINDER_DAYS_BEFORE: NO_LOAN_DUE_DAYS_AHEAD };

/**
 * Nothing waiting, running or delayed on the message queues: whatever was going to happen has
 * happened. (Reconciliation schedules the next reminder scan, a delayed job that stays.)
 */
async function drained(h: Harness): Promise<void> {
  const { renewAll, smsCommand, sendSms, sendEmail } = h.deps.queues;
  await eventually(async () => {
    const counts = await Promise.all([renewAll, smsCommand, sendSms, sendEmail].map((queue) => queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    return counts.every((count) => Object.values(count).every((n) => n === 0));
  }, 10_000, 'the queues to drain');
}

const loansSnapshot = (h: Harness) => h.deps.db('loans').orderBy('id').select('id', 'due_date', 'renewals');
const inboundRow = async (h: Harness, messageSid: string) => found(await h.deps.db('inbound_messages').where({ message_sid: messageSid }).first(), 'inbound message');

describe('a renew-all that cannot be done in time is given up (SPEC §4)', function () {
  this.timeout(30_000);

  describe('when the library system fails every attempt', () => {
    let h: Harness;
    const library = new FlakyLibrary(Number.POSITIVE_INFINITY);
    let messageSid: string;
    let loansBefore: unknown[];

    before(async () => {
      // A one-minute give-up time and short waits keep the attempts (9) to a few seconds; the clock stands still.
      h = await Harness.start({ workers: true, library, fixture: everyRuleLibrary(), now: START, env: { ...QUIET, RENEW_ALL_GIVE_UP_MINUTES: '1', SEND_RETRY_DELAY_MS: '10' } });
      loansBefore = await loansSnapshot(h);
      ({ messageSid } = await h.text(KAREN, 'HBK FORNY ALLE'));
      await eventually(async () => (await inboundRow(h, messageSid)).status === 'failed', 20_000, 'the renew-all to be given up');
      await eventually(() => h.twilio.messagesTo(KAREN)[0], 10_000, 'the give-up SMS');
      await drained(h);
    });
    after(async () => h.stop());

    it('ends failed after its last attempt, renews nothing, and tells the patron once', async () => {
      expect(library.calls).to.equal(renewAllAttempts(h.config));
      expect(await inboundRow(h, messageSid)).to.include({ status: 'failed', ignored_reason: 'gave_up', patron_id: 'p-karen' });
      expect(h.twilio.messagesTo(KAREN).map((sms) => sms.body)).to.deep.equal([h.deps.libraries.get('default').texts.renewAllGaveUp()]);
      expect(await h.deps.db('renewal_results').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
      expect(await loansSnapshot(h)).to.deep.equal(loansBefore);
    });

    it('stays failed, and sends nothing more, after reconciliation', async () => {
      expect((await reconcile(h.deps)).inbound).to.equal(0);
      await drained(h);
      expect((await inboundRow(h, messageSid)).status).to.equal('failed');
      expect(h.twilio.messagesTo(KAREN)).to.have.length(1);
      expect(library.calls).to.equal(renewAllAttempts(h.config));
    });

    it('shows the failure and its reply in the operators API', async () => {
      const reply = found(await h.deps.db('outbound_messages').where({ to_address: KAREN }).first(), 'the give-up SMS');
      expect(reply).to.include({ purpose: 'renew-all-failed', status: 'sent' });
      const inbound = await h.api<{ status: string; replyId: string | null; result: unknown }>(`/api/inbound/${messageSid}`);
      expect(inbound.status).to.equal(200);
      expect(inbound.body).to.include({ status: 'failed', replyId: `out-${reply.id}`, result: null });

      const failed = await h.api<{ id: string; direction: string; status: string; from: string }[]>('/api/messages?status=failed');
      const id = `in-${(await inboundRow(h, messageSid)).id}`;
      expect(failed.status).to.equal(200);
      expect(failed.body.find((message) => message.id === id)).to.include({ direction: 'in', status: 'failed', from: KAREN });
    });

    it('is listed on Fejl with the patron and why, and "Prøv igen" renews and answers it, audited, off the list', async () => {
      const id = `in-${(await inboundRow(h, messageSid)).id}`;
      const action = `/admin/failures/renew-alls/${id.slice(3)}/retry`;
      const failures = await page(h, '/admin/failures');
      const [row, ...others] = rowsWith(failures, `id="${id}"`);
      expect(others).to.have.length(0);
      expect(row).to.contain('+45 61 00 00 01</a> <span class="muted">Karen Blixen</span>');
      // Every try met the library system unavailable: that is the cause named, kept with the request.
      expect(row).to.contain('Bibliotekssystemet svarede ikke. Intet er fornyet. Låneren har fået en SMS om det.');
      const token = tokenOf(failures, action) ?? '';
      expect(token).not.to.equal('');

      // Without the token nothing happens.
      expect((await post(h, action, {})).status).to.equal(403);
      expect((await inboundRow(h, messageSid)).status).to.equal('failed');

      library.failuresLeft = 0; // the library system is back
      const response = await post(h, action, { _csrf: token });
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.equal(`/admin/failures?done=renew-all-retried&target=${id}`);
      await eventually(async () => (await inboundRow(h, messageSid)).status === 'processed', 10_000, 'the retried renew-all to be done');
      await eventually(() => h.twilio.messagesTo(KAREN)[1], 10_000, 'the answer to the retried renew-all');
      await drained(h);
      const sent = h.twilio.messagesTo(KAREN).map((sms) => sms.body);
      expect(sent).to.have.length(2);
      expect(sent[1]).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
      expect(await h.deps.db('audit_log').select('actor', 'action', 'target')).to.deep.equal([{ actor: 'operator', action: 'inbound.retry', target: id }]);

      const after = await page(h, response.headers.get('location') ?? '');
      expect(after).to.contain(`FORNY ALLE ${id} er sat i kø og forsøges igen.`);
      expect(rowsWith(after, `id="${id}"`)).to.have.length(0);
      expect(after).to.contain('Ingen opgivne FORNY ALLE.');
      expect(rowsWith(after, 'prøvede en opgivet FORNY ALLE igen')).to.have.length(1);

      // A second click finds nothing given up: nothing changes, nothing is recorded.
      const again = await post(h, action, { _csrf: token });
      expect(again.headers.get('location')).to.equal(`/admin/failures?done=unchanged&target=${id}`);
      expect(await h.deps.db('audit_log').count({ n: '*' }).first()).to.deep.equal({ n: 1 });
    });
  });

  it('gives up a message found unfinished long after it arrived, without asking the library system', async () => {
    const library = new FlakyLibrary(0);
    const h = await Harness.start({ workers: true, library, fixture: everyRuleLibrary(), now: START, env: QUIET });
    try {
      const loansBefore = await loansSnapshot(h);
      // What the webhook leaves when Redis is away: the message stored, no job for it.
      const messageSid = newMessageSid();
      await insertInbound(h.deps.db, { messageSid, accountSid: null, fromNumber: KAREN, toNumber: '1910', body: 'HBK FORNY ALLE', command: 'renew-all', status: 'received', libraryId: 'default' }, h.clock.now());
      h.clock.advance(h.config.jobs.renewAllGiveUpMs + 60_000);

      expect((await reconcile(h.deps)).inbound).to.equal(1);
      await eventually(async () => (await inboundRow(h, messageSid)).status === 'failed', 10_000, 'the renew-all to be given up');
      await eventually(() => h.twilio.messagesTo(KAREN)[0], 10_000, 'the give-up SMS');
      await drained(h);
      expect(h.twilio.messagesTo(KAREN).map((sms) => sms.body)).to.deep.equal([h.deps.libraries.get('default').texts.renewAllGaveUp()]);
      expect(library.calls).to.equal(0);
      expect(await loansSnapshot(h)).to.deep.equal(loansBefore);
      const [row] = rowsWith(await page(h, '/admin/failures'), `id="in-${(await inboundRow(h, messageSid)).id}"`);
      expect(row).to.contain('Ikke udført inden for 60 minutter');
    } finally {
      await h.stop();
    }
  });

  it('renews and answers once a request whose first attempts fail but which succeeds within the give-up time', async () => {
    const library = new FlakyLibrary(3);
    const h = await Harness.start({ workers: true, library, fixture: everyRuleLibrary(), now: START, env: QUIET });
    try {
      const { messageSid } = await h.text(KAREN, 'HBK FORNY ALLE');
      await eventually(async () => (await inboundRow(h, messageSid)).status === 'processed', 10_000, 'the renew-all to be done');
      await eventually(() => h.twilio.messagesTo(KAREN)[0], 10_000, 'the reply');
      await drained(h);
      expect(library.calls).to.equal(4);
      const sent = h.twilio.messagesTo(KAREN);
      expect(sent).to.have.length(1);
      expect(sent[0]?.body).to.contain(`${EXPECTED_RENEWED} af ${EXPECTED_TOTAL} lån`);
      expect(await h.deps.db('outbound_messages').where({ purpose: 'renew-all-failed' }).first()).to.equal(undefined);
      expect(await h.deps.db('renewal_results').where({ outcome: 'renewed' }).count({ n: '*' }).first()).to.deep.equal({ n: EXPECTED_RENEWED });
    } finally {
      await h.stop();
    }
  });
});
