import { expect } from 'chai';
import { loadFixture } from '../../db/load-fixture.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../src/password-hash.js';
import { DEFAULT_LOCKOUT } from '../../src/http/basic-auth.js';
import { eventually, Harness, TEST_LOCKOUT } from '../helpers/harness.js';

/*
 * SPEC §12 "Nobody sees what is not theirs": two libraries on one forny, each with its own
 * operator; the gateway's operator (ADMIN_USER) sees both. Every operators' route and page.
 */

const HBK_MOBILE = '+4561000001';
const FRB_MOBILE = '+4561000002';
const STRANGER = '+4561000099';
const ADMIN = { user: 'operator', password: 'correct-horse-battery' };
const HBK = { user: 'hbk-vagt', password: 'hbk-hemmelig-adgangskode' };
const FRB = { user: 'frb-vagt', password: 'frb-hemmelig-adgangskode' };
/** Locked out by the lockout test; the others keep logging in. */
const NIGHT = { user: 'hbk-nat', password: 'hbk-nattens-adgangskode' };
type Login = { user: string; password: string };

const auth = (login: Login) => ({ authorization: `Basic ${Buffer.from(`${login.user}:${login.password}`).toString('base64')}` });

interface MessageItem {
  id: string;
  direction: string;
  to: string;
  from: string;
  body: string;
  library: string | null;
}

/** One library's directory and loans, loaded as `db:load -- --library LIBRARY` would (ids `LIBRARY:ID`). */
async function loadLibrary(h: Harness, library: string, patron: { name: string; mobile: string }): Promise<void> {
  await loadFixture(
    h.deps.db,
    {
      patrons: [{ id: 'p1', cardNumber: '0101', name: patron.name, mobile: patron.mobile, smsOptIn: true }],
      titles: [{ id: 't1', title: `Bogen fra ${library}` }],
      items: [{ id: 'i1', titleId: 't1', barcode: '5100' }],
      loans: [{ id: 'l1', patronId: 'p1', itemId: 'i1', kind: 'standard', loanPeriodDays: 30, borrowedOn: '2026-11-04', dueDate: '2026-12-04', renewals: 0 }],
    },
    new Date('2026-12-01T09:00:00.000Z'),
    library,
  );
}

describe('operators per library (SPEC §12: nobody sees what is not theirs)', function () {
  this.timeout(30_000);
  let h: Harness;
  let dir: string;
  const sids: Record<'hbk' | 'frb', string> = { hbk: '', frb: '' };
  const failed: Record<'hbk' | 'frb', number> = { hbk: 0, frb: 0 };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'forny-libraries-'));
    const file = join(dir, 'libraries.json');
    writeFileSync(
      file,
      JSON.stringify({
        gatewayName: 'Bibliotekerne',
        libraries: [
          { id: 'hbk', name: 'Helsingør Bibliotekerne', keywords: ['HBK'], site: 'helsbib.dk', operators: [{ user: HBK.user, passwordHash: await hashPassword(HBK.password) }, { user: NIGHT.user, passwordHash: await hashPassword(NIGHT.password) }] },
          { id: 'frb', name: 'Fredensborg Bibliotekerne', keywords: ['FRB'], site: 'fredensborgbib.dk', operators: [{ user: FRB.user, passwordHash: await hashPassword(FRB.password) }] },
        ],
      }),
    );
    // No attempt waits: one the lockout would slow down is 429 at once (see lockout.test.ts).
    h = await Harness.start({ workers: true, env: { LIBRARIES_FILE: file }, lockout: { ...TEST_LOCKOUT, maxWaiting: 0 } });
    await loadLibrary(h, 'hbk', { name: 'Karen Helsingør', mobile: HBK_MOBILE });
    await loadLibrary(h, 'frb', { name: 'Frede Fredensborg', mobile: FRB_MOBILE });
    sids.hbk = (await h.text(HBK_MOBILE, 'HBK FORNY ALLE')).messageSid;
    sids.frb = (await h.text(FRB_MOBILE, 'FRB FORNY ALLE')).messageSid;
    await h.text(STRANGER, 'FORNY ALLE');
    await eventually(async () => (await h.deps.db('outbound_messages').where({ status: 'sent' })).length === 3);
    // One failed message of each library for the Fejl page and its actions.
    for (const library of ['hbk', 'frb'] as const) {
      const row = await h.deps.db('outbound_messages').where({ library_id: library }).first();
      failed[library] = Number(row?.id);
      await h.deps.db('outbound_messages').where({ id: row?.id }).update({ status: 'failed', error_code: '30003', error_message: `unreachable ${library}` });
    }
  });
  after(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function get<T = unknown>(login: Login, path: string): Promise<{ status: number; body: T; text: string }> {
    const response = await fetch(`${h.baseUrl}${path}`, { headers: auth(login) });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body: body as T, text };
  }

  async function postJson(login: Login, path: string, body: unknown): Promise<number> {
    const response = await fetch(`${h.baseUrl}${path}`, { method: 'POST', headers: { ...auth(login), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await response.arrayBuffer();
    return response.status;
  }

  async function postForm(login: Login, path: string): Promise<{ status: number; location: string | null }> {
    const page = await get(login, '/admin/failures');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const response = await fetch(`${h.baseUrl}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { ...auth(login), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: token }),
    });
    await response.arrayBuffer();
    return { status: response.status, location: response.headers.get('location') };
  }

  describe('logins', () => {
    it("lets a library's operator in with the password its hash was made from", async () => {
      expect((await get(HBK, '/api/messages')).status).to.equal(200);
      expect((await get(HBK, '/admin')).status).to.equal(200);
      expect((await get(FRB, '/api/messages')).status).to.equal(200);
    });

    it("refuses another library's password and a user name of no one", async () => {
      expect((await get({ user: HBK.user, password: FRB.password }, '/api/messages')).status).to.equal(401);
      expect((await get({ user: 'nobody', password: HBK.password }, '/api/messages')).status).to.equal(401);
    });

    it("counts a library operator's wrong passwords toward the lockout like the gateway operator's", async () => {
      const victim = { user: NIGHT.user, password: 'wrong-password' };
      expect((await get(NIGHT, '/api/messages?limit=1')).status).to.equal(200);
      for (let i = 0; i < DEFAULT_LOCKOUT.freeFailures; i += 1) expect((await get(victim, '/api/messages?limit=1')).status).to.equal(401);
      // The next attempt would be slowed down; with no waiting allowed it is refused, right password or not.
      expect((await get(NIGHT, '/api/messages?limit=1')).status).to.equal(429);
      expect((await get(victim, '/api/messages?limit=1')).status).to.equal(429);
    });
  });

  describe('the API', () => {
    it("lists a library's messages only, each saying whose it is", async () => {
      const { status, body } = await get<MessageItem[]>(HBK, '/api/messages');
      expect(status).to.equal(200);
      expect(body.length).to.be.greaterThan(1);
      expect(body.every((message) => message.library === 'hbk')).to.equal(true);
      expect(body.some((message) => message.from === HBK_MOBILE)).to.equal(true);
      expect(body.some((message) => message.from === FRB_MOBILE || message.to === FRB_MOBILE || message.from === STRANGER || message.to === STRANGER)).to.equal(false);
    });

    it("refuses a library's operator another library's list (400 as for an unknown one)", async () => {
      const { status, text } = await get(HBK, '/api/messages?library=frb');
      expect(status).to.equal(400);
      expect(text).to.include('frb');
      expect((await get<MessageItem[]>(HBK, '/api/messages?library=hbk')).status).to.equal(200);
    });

    it('gives the gateway every message, the library of each (null for its own answers), and a filter', async () => {
      const all = await get<MessageItem[]>(ADMIN, '/api/messages');
      expect(all.status).to.equal(200);
      expect(new Set(all.body.map((message) => message.library))).to.deep.equal(new Set(['hbk', 'frb', null]));
      const frb = await get<MessageItem[]>(ADMIN, '/api/messages?library=frb');
      expect(frb.body.length).to.be.greaterThan(1);
      expect(frb.body.every((message) => message.library === 'frb')).to.equal(true);
    });

    it('answers 400 naming an unknown library in the filter', async () => {
      const { status, text } = await get(ADMIN, '/api/messages?library=nope');
      expect(status).to.equal(400);
      expect(text).to.include('nope');
    });

    it("answers 404 for another library's inbound message, as for none", async () => {
      const other = await get(HBK, `/api/inbound/${sids.frb}`);
      expect(other.status).to.equal(404);
      const none = await get(HBK, '/api/inbound/SM00000000000000000000000000000000');
      expect(other.body).to.deep.equal({ ...(none.body as object), message: (other.body as { message: string }).message });
      expect((await get(FRB, `/api/inbound/${sids.hbk}`)).status).to.equal(404);
    });

    it("shows a library's own inbound message with its own ids and its library", async () => {
      const { status, body } = await get<{ library: string; patronId: string; result: { loans: { loanId: string; itemId: string }[] } }>(HBK, `/api/inbound/${sids.hbk}`);
      expect(status).to.equal(200);
      expect(body.library).to.equal('hbk');
      expect(body.patronId).to.equal('p1');
      expect(body.result.loans.map((loan) => loan.loanId)).to.deep.equal(['l1']);
    });

    it('shows the gateway any inbound message with its library', async () => {
      const { status, body } = await get<{ library: string }>(ADMIN, `/api/inbound/${sids.frb}`);
      expect(status).to.equal(200);
      expect(body.library).to.equal('frb');
    });

    it("answers 404 for another library's patron, and a library's own patron by its own id", async () => {
      expect((await get(HBK, '/api/patrons/frb:p1/loans')).status).to.equal(404);
      expect((await get(FRB, '/api/patrons/hbk:p1/loans')).status).to.equal(404);
      const own = await get<{ loans: { id: string; itemId: string; titleId: string }[] }>(HBK, '/api/patrons/p1/loans');
      expect(own.status).to.equal(200);
      expect(own.body.loans.map((loan) => [loan.id, loan.itemId, loan.titleId])).to.deep.equal([['l1', 'i1', 't1']]);
    });

    it("finds a patron for the gateway by ?library= and the library's own id, or by the stored id", async () => {
      const byFilter = await get<{ loans: { id: string }[] }>(ADMIN, '/api/patrons/p1/loans?library=frb');
      expect(byFilter.status).to.equal(200);
      expect(byFilter.body.loans.map((loan) => loan.id)).to.deep.equal(['l1']);
      expect((await get(ADMIN, '/api/patrons/frb:p1/loans')).status).to.equal(200);
      expect((await get(ADMIN, '/api/patrons/p1/loans?library=nope')).status).to.equal(400);
    });

    it("answers 404 to interlibrary decisions on another library's loan", async () => {
      expect(await postJson(HBK, '/api/loans/frb:l1/ill-refusal', {})).to.equal(404);
      expect(await postJson(HBK, '/api/loans/frb:l1/ill-recall', { dueDate: '2026-12-02' })).to.equal(404);
      // Its own loan is found (and is no interlibrary loan).
      expect(await postJson(HBK, '/api/loans/l1/ill-refusal', {})).to.equal(409);
      expect(await postJson(HBK, '/api/loans/l1/ill-recall', { dueDate: '2026-12-02' })).to.equal(409);
      expect(await postJson(ADMIN, '/api/loans/l1/ill-refusal?library=frb', {})).to.equal(409);
    });
  });

  describe('the dashboard', () => {
    const pages = ['/admin', '/admin/messages', '/admin/renewals', '/admin/failures', `/admin/conversations/${encodeURIComponent(HBK_MOBILE)}`];
    for (const page of pages) {
      it(`shows a library's operator only its own on ${page}`, async () => {
        const { status, text } = await get(HBK, page);
        expect(status).to.equal(200);
        expect(text).not.to.include('Frede Fredensborg');
        expect(text).not.to.include('20 00 00 02'.replace(/ /g, '')); // no frb number in any form
        expect(text).not.to.include('unreachable frb');
        expect(text).not.to.include('61 00 00 02');
        expect(text).not.to.include('61000002');
      });
    }

    it("answers 404 for another library's conversation and renewal", async () => {
      expect((await get(HBK, `/admin/conversations/${encodeURIComponent(FRB_MOBILE)}`)).status).to.equal(404);
      expect((await get(HBK, `/admin/renewals/${sids.frb}`)).status).to.equal(404);
      expect((await get(HBK, `/admin/renewals/${sids.hbk}`)).status).to.equal(200);
    });

    it("answers 404 to actions on another library's message or request, and audits its own with its library", async () => {
      const frbInbound = await h.deps.db('inbound_messages').where({ message_sid: sids.frb }).first();
      expect((await postForm(HBK, `/admin/failures/messages/${failed.frb}/retry`)).status).to.equal(404);
      expect((await postForm(HBK, `/admin/failures/messages/${failed.frb}/cancel`)).status).to.equal(404);
      expect((await postForm(HBK, `/admin/failures/renew-alls/${Number(frbInbound?.id)}/retry`)).status).to.equal(404);
      expect((await h.deps.db('outbound_messages').where({ id: failed.frb }).first())?.status).to.equal('failed');

      const own = await postForm(HBK, `/admin/failures/messages/${failed.hbk}/cancel`);
      expect(own.status).to.equal(303);
      expect(own.location).to.include('message-cancelled');
      const audit = await h.deps.db('audit_log').where({ action: 'message.cancel' }).first();
      expect(audit).to.include({ actor: HBK.user, library_id: 'hbk' });
    });

    it('refuses a library operator Bull Board and the failed-job retry (gateway only)', async () => {
      expect((await get(HBK, '/admin/queues')).status).to.equal(403);
      expect((await get(HBK, '/admin/queues/api/queues')).status).to.equal(403);
      expect((await postForm(HBK, '/admin/failures/jobs/send-sms/1/retry')).status).to.equal(403);
      expect((await get(ADMIN, '/admin/queues')).status).to.equal(200);
    });

    it('shows the gateway every library, the library of each row, and filters by ?library=', async () => {
      for (const page of ['/admin', '/admin/messages', '/admin/renewals', '/admin/failures']) {
        const { status, text } = await get(ADMIN, page);
        expect(status, page).to.equal(200);
        expect(text, page).to.include('Helsingør Bibliotekerne');
        expect(text, page).to.include('Fredensborg Bibliotekerne');
      }
      const frb = await get(ADMIN, '/admin/messages?library=frb');
      expect(frb.status).to.equal(200);
      expect(frb.text).to.include('FRB FORNY ALLE');
      expect(frb.text).not.to.include('HBK FORNY ALLE');
      expect((await get(ADMIN, '/admin/messages?library=nope')).status).to.equal(400);
      expect((await get(ADMIN, '/admin/renewals?library=nope')).text).to.include('nope');
      expect((await get(ADMIN, `/admin/renewals/${sids.frb}`)).status).to.equal(200);
    });
  });

  describe('/metrics', () => {
    it("is 403 for a library's operator, and carries the library label", async () => {
      expect((await get(HBK, '/metrics')).status).to.equal(403);
      await h.refreshMetrics();
      const response = await fetch(`${h.baseUrl}/metrics`);
      const text = await response.text();
      expect(text).to.match(/forny_messages\{[^}]*library="hbk"/);
      expect(text).to.match(/forny_messages\{[^}]*library="frb"/);
      expect(text).to.match(/forny_renewal_results\{[^}]*library="hbk"/);
      expect(text).to.match(/forny_ready\{[^}]*check="librarySystem"[^}]*library="frb"|forny_ready\{[^}]*library="frb"[^}]*check="librarySystem"/);
    });
  });
});
