import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { loadFixture } from '../../db/load-fixture.js';
import type { FixtureInput } from '../../db/fixture.js';
import { insertOutbound } from '../../db/repositories/outbound.js';
import { runReminderScan } from '../../src/reminders/reminder-scan.js';
import { eventually, found, Harness } from '../helpers/harness.js';
import { queuesSettled } from '../helpers/settled.js';
import { Sip2Server, type SimItem } from '../helpers/sip2-server.js';

/*
 * Many libraries on one short code (SPEC §12), through the whole app: two embedded libraries in one
 * LIBRARIES_FILE, each with its own directory and loans under the same own ids, card numbers and
 * barcodes, so anything that mixes them up shows.
 */

const HBK_NAME = 'Helsingør Kommunes Biblioteker';
const FRB_NAME = 'Fredensborg Bibliotekerne';
const GATEWAY = 'Bibliotekerne';
const HBK_TOKEN = 'hbk-notices-token-0123456789abcdef0123';
const FRB_TOKEN = 'frb-notices-token-0123456789abcdef0123';

/** On a card at both libraries. */
const BOTH = '+4520000001';
/** On a card at hbk only. */
const HBK_ONLY = '+4520000002';
/** On no card anywhere. */
const STRANGER = '+4520000009';
const TODAY = '2026-12-01';
/** REMINDER_DAYS_BEFORE (3) after TODAY: the reminder scan's due date. */
const REMINDER_DUE = '2026-12-04';

/** A library's loans for the number BOTH (card 0101), `count` loans of which the last is not renewable; hbk also has HBK_ONLY. */
function fixture(count: number, extra: FixtureInput['patrons'] = []): FixtureInput {
  const loans = Array.from({ length: count }, (_, index) => index + 1);
  return {
    patrons: [{ id: 'p1', cardNumber: '0101', name: 'Karen Blixen', mobile: BOTH, smsOptIn: true, email: null, emailOptIn: false }, ...(extra ?? [])],
    titles: loans.map((n) => ({ id: `t${n}`, title: `Titel ${n}` })),
    items: loans.map((n) => ({ id: `i${n}`, titleId: `t${n}`, barcode: `500${n}`, renewable: n !== count })),
    loans: loans.map((n) => ({
      id: `l${n}`,
      patronId: 'p1',
      itemId: `i${n}`,
      kind: 'standard',
      loanPeriodDays: 30,
      borrowedOn: '2026-11-04',
      dueDate: n === 1 ? '2026-12-03' : REMINDER_DUE,
      renewals: 0,
    })),
  };
}

const hbkFixture = (): FixtureInput => {
  const base = fixture(2, [{ id: 'p2', cardNumber: '0202', name: 'Åse Østergård', mobile: HBK_ONLY, smsOptIn: true }]);
  return {
    ...base,
    titles: [...(base.titles ?? []), { id: 't9', title: 'Hamlet' }],
    items: [...(base.items ?? []), { id: 'i9', titleId: 't9', barcode: '5009' }],
    loans: [
      ...(base.loans ?? []),
      { id: 'l9', patronId: 'p2', itemId: 'i9', kind: 'standard', loanPeriodDays: 30, borrowedOn: '2026-11-04', dueDate: '2026-12-03', renewals: 0 },
    ],
  };
};
const frbFixture = (): FixtureInput => fixture(3);

interface LibraryBlock {
  readonly [key: string]: unknown;
}

function librariesFile(dir: string, overrides: { hbk?: LibraryBlock; frb?: LibraryBlock } = {}): string {
  const path = join(dir, 'libraries.json');
  writeFileSync(
    path,
    JSON.stringify({
      gatewayName: GATEWAY,
      libraries: [
        { id: 'hbk', name: HBK_NAME, keywords: ['HBK', 'HKB'], site: 'helsbib.dk', noticesToken: '${TEST_HBK_TOKEN}', ...overrides.hbk },
        { id: 'frb', name: FRB_NAME, keywords: ['FRB'], site: 'fredensborgbib.dk', noticesToken: FRB_TOKEN, ...overrides.frb },
      ],
    }),
  );
  return path;
}

describe('many libraries on one short code (SPEC §12; two embedded libraries, real Redis, temp SQLite, loopback Twilio)', function () {
  this.timeout(30_000);
  let h: Harness;
  let dir: string;

  async function start(overrides: { hbk?: LibraryBlock; frb?: LibraryBlock } = {}, env: Record<string, string> = {}): Promise<void> {
    dir = mkdtempSync(join(tmpdir(), 'forny-libraries-'));
    h = await Harness.start({ workers: true, now: `${TODAY}T10:00:00+01:00`, env: { LIBRARIES_FILE: librariesFile(dir, overrides), TEST_HBK_TOKEN: HBK_TOKEN, ...env } });
    await loadFixture(h.deps.db, hbkFixture(), h.clock.now(), 'hbk');
    await loadFixture(h.deps.db, frbFixture(), h.clock.now(), 'frb');
  }

  afterEach(async () => {
    await h?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const loans = async () => Object.fromEntries((await h.deps.db('loans').select('id', 'due_date', 'renewals')).map((row) => [row.id, `${row.due_date}/${row.renewals}`]));
  /** Texts to the number, in order, once `count` have left. */
  const replies = (to: string, count: number) => eventually(() => (h.twilio.messagesTo(to).length >= count ? h.twilio.messagesTo(to).map((m) => m.body) : undefined), 10_000, `${count} SMS to ${to}`);
  const inboundRow = (sid: string) => h.deps.db('inbound_messages').where({ message_sid: sid }).first();
  const settle = async () => {
    await queuesSettled(h.deps.queues.all);
  };
  const postNotices = async (token: string, body: unknown) => {
    const response = await fetch(`${h.baseUrl}/api/notices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as { notices: { id: string; messages: { id: number; channel: string }[] }[] } };
  };
  const notice = (id: string, mobile = BOTH) => ({
    id,
    kind: 'overdue',
    patron: { cardNumber: '0101', name: 'Karen Blixen', mobile, email: null, smsOptIn: true, emailOptIn: false },
    loans: [{ itemId: '5001', title: 'Titel 1', dueDate: '2026-11-28' }],
    reservation: null,
  });
  /** The channels a notice wrote (an SMS only when the number takes that library's SMS). */
  const channels = async (token: string, id: string) => {
    const { status, body } = await postNotices(token, notice(id));
    expect(status, id).to.equal(202);
    return body.notices[0]?.messages.map((message) => message.channel) ?? [];
  };

  describe('routing by keyword', () => {
    beforeEach(() => start());

    it('HBK FORNY ALLE renews at hbk only, with its cards, and the reply carries its name and site; FRB FORNY ALLE then frb only', async () => {
      const before = await loans();
      const { messageSid } = await h.text(BOTH, 'HBK FORNY ALLE');
      const [hbkReply] = await replies(BOTH, 1);
      expect(hbkReply).to.equal(`${HBK_NAME}: 1 af 2 lån er fornyet. Se på helsbib.dk hvilke der ikke kunne fornyes.`);
      const afterHbk = await loans();
      expect(afterHbk['hbk:l1']).to.not.equal(before['hbk:l1']);
      for (const id of ['frb:l1', 'frb:l2', 'frb:l3', 'hbk:l2', 'hbk:l9']) expect(afterHbk[id], id).to.equal(before[id]);
      expect(await inboundRow(messageSid)).to.include({ library_id: 'hbk', patron_id: 'hbk:p1', status: 'processed' });
      const results = await h.deps.db('renewal_results').select('loan_id');
      expect(results.map((row) => row.loan_id).sort()).to.deep.equal(['hbk:l1', 'hbk:l2']);

      await h.text(BOTH, 'FRB FORNY ALLE');
      const [, frbReply] = await replies(BOTH, 2);
      expect(frbReply).to.equal(`${FRB_NAME}: 2 af 3 lån er fornyet. Se på fredensborgbib.dk hvilke der ikke kunne fornyes.`);
      const afterFrb = await loans();
      for (const id of ['frb:l1', 'frb:l2']) expect(afterFrb[id], id).to.not.equal(before[id]);
      for (const id of ['hbk:l1', 'hbk:l2', 'hbk:l9']) expect(afterFrb[id], id).to.equal(afterHbk[id]);
    });

    it('takes the keyword with the spaces missing and punctuation around it: hbkfornyalle, Hbk-Forny alle!, HKB FORNY ALLE', async () => {
      for (const [index, body] of ['hbkfornyalle', 'Hbk-Forny alle!', 'HKB FORNY ALLE'].entries()) {
        const { messageSid } = await h.text(BOTH, body);
        const texts = await replies(BOTH, index + 1);
        expect(texts[index], body).to.match(new RegExp(`^${HBK_NAME}: \\d af 2 lån er fornyet`));
        expect(await inboundRow(messageSid), body).to.include({ library_id: 'hbk', command: 'renew-all' });
      }
      expect(await h.deps.db('renewal_results').whereLike('loan_id', 'frb:%').count({ n: '*' }).first()).to.deep.equal({ n: 0 });
    });

    it('FORNY ALLE goes to the only library that knows the number; several ask which; none get the gateway answer', async () => {
      const only = await h.text(HBK_ONLY, 'FORNY ALLE');
      expect((await replies(HBK_ONLY, 1))[0]).to.equal(`${HBK_NAME}: 1 af 1 lån er fornyet.`);
      expect(await inboundRow(only.messageSid)).to.include({ library_id: 'hbk', patron_id: 'hbk:p2' });

      const before = await loans();
      const several = await h.text(BOTH, 'forny alle');
      expect((await replies(BOTH, 1))[0]).to.equal(`${GATEWAY}: Skriv HBK FORNY ALLE eller FRB FORNY ALLE.`);
      expect(await loans()).to.deep.equal(before);
      expect(await inboundRow(several.messageSid)).to.include({ status: 'processed', library_id: null });

      await h.text(STRANGER, 'FORNY ALLE');
      expect((await replies(STRANGER, 1))[0]).to.match(new RegExp(`^${GATEWAY}: Dette nummer er ikke knyttet til et lånerkort`));
      expect(await loans()).to.deep.equal(before);
    });

    it("a library's keyword from a number its directory does not hold gets that library's unknown-number answer", async () => {
      const before = await loans();
      await h.text(HBK_ONLY, 'FRB FORNY ALLE');
      const [answer] = await replies(HBK_ONLY, 1);
      expect(answer).to.match(new RegExp(`^${FRB_NAME}: Dette nummer er ikke knyttet til et lånerkort.*fredensborgbib\\.dk`));
      expect(await loans()).to.deep.equal(before);
    });

    it('help comes from the number’s library when one directory holds it, else from the gateway', async () => {
      await h.text(HBK_ONLY, 'HJÆLP');
      expect((await replies(HBK_ONLY, 1))[0]).to.match(new RegExp(`^${HBK_NAME}: Send HBK FORNY ALLE til 1910`));
      await h.text(BOTH, 'hjælp');
      expect((await replies(BOTH, 1))[0]).to.equal(`${GATEWAY}: Skriv dit biblioteks forkortelse og FORNY ALLE, fx HBK FORNY ALLE.`);
      await h.text(BOTH, 'FRB hvad er klokken');
      expect((await replies(BOTH, 2))[1]).to.match(new RegExp(`^${FRB_NAME}: Send FRB FORNY ALLE til 1910`));
      // Anything else: once per number per 24 hours, whichever library it names.
      const again = await h.text(BOTH, 'HBK hvad er klokken');
      await eventually(async () => (await inboundRow(again.messageSid))?.status === 'ignored');
      expect(await inboundRow(again.messageSid)).to.include({ ignored_reason: 'throttled' });
      expect(h.twilio.messagesTo(BOTH)).to.have.length(2);
    });
  });

  describe('STOP and START', () => {
    beforeEach(() => start());

    it('STOP alone stops every library; START alone starts all again', async () => {
      await h.text(BOTH, 'STOP');
      expect((await replies(BOTH, 1))[0]).to.match(new RegExp(`^${GATEWAY}: Du er afmeldt sms fra alle biblioteker`));
      expect(await channels(HBK_TOKEN, 'n-1')).to.deep.equal([]);
      expect(await channels(FRB_TOKEN, 'n-1')).to.deep.equal([]);

      await h.text(BOTH, 'START');
      expect((await replies(BOTH, 2))[1]).to.match(new RegExp(`^${GATEWAY}: Du er tilmeldt sms fra alle biblioteker igen`));
      expect(await channels(HBK_TOKEN, 'n-2')).to.deep.equal(['sms']);
      expect(await channels(FRB_TOKEN, 'n-2')).to.deep.equal(['sms']);
    });

    it("STOP HBK stops hbk's only (frb's notice still goes); START HBK after a STOP of all starts hbk's only", async () => {
      await h.text(BOTH, 'STOP HBK');
      expect((await replies(BOTH, 1))[0]).to.match(new RegExp(`^${HBK_NAME}: Du er afmeldt sms`));
      expect(await channels(HBK_TOKEN, 'n-1')).to.deep.equal([]);
      expect(await channels(FRB_TOKEN, 'n-1')).to.deep.equal(['sms']);
      const frbNotice = await replies(BOTH, 2);
      expect(frbNotice[1]).to.match(new RegExp(`^${FRB_NAME}: `));

      await h.text(BOTH, 'STOP');
      expect((await replies(BOTH, 3))[2]).to.match(new RegExp(`^${GATEWAY}: Du er afmeldt sms fra alle biblioteker`));
      await h.text(BOTH, 'START HBK');
      expect((await replies(BOTH, 4))[3]).to.match(new RegExp(`^${HBK_NAME}: Du er tilmeldt sms`));
      expect(await channels(HBK_TOKEN, 'n-2')).to.deep.equal(['sms']);
      expect(await channels(FRB_TOKEN, 'n-2')).to.deep.equal([]);
    });
  });

  describe('per-number limits count across libraries', () => {
    beforeEach(() => start());

    it('answers at most 5 renew-alls in 10 minutes, whichever libraries they name', async () => {
      const sids: string[] = [];
      for (const body of ['HBK FORNY ALLE', 'FRB FORNY ALLE', 'HBK FORNY ALLE', 'FRB FORNY ALLE', 'HBK FORNY ALLE', 'FRB FORNY ALLE']) {
        sids.push((await h.text(BOTH, body)).messageSid);
        await eventually(async () => (await inboundRow(sids[sids.length - 1] ?? ''))?.status !== 'received');
      }
      await settle();
      const last = await inboundRow(sids[5] ?? '');
      expect(last).to.include({ status: 'ignored', ignored_reason: 'rate_limited' });
      expect(h.twilio.messagesTo(BOTH)).to.have.length(5);
    });

    it('stops answering a number at its reply budget, counting every library’s replies', async () => {
      const now = h.clock.now();
      for (let n = 0; n < 29; n += 1) {
        await insertOutbound(
          h.deps.db,
          { channel: 'sms', kind: 'reply', purpose: 'help', patronId: null, inboundId: null, to: BOTH, from: '1910', body: 'x', sendAfter: now, dedupeKey: `seed-${n}`, libraryId: n % 2 === 0 ? 'hbk' : 'frb' },
          now,
        );
      }
      await h.text(BOTH, 'HJÆLP'); // the gateway's reply: the 30th
      await replies(BOTH, 1);
      const { messageSid } = await h.text(BOTH, 'FRB FORNY ALLE');
      await eventually(async () => (await inboundRow(messageSid))?.status !== 'received');
      await settle();
      expect(await inboundRow(messageSid)).to.include({ ignored_reason: 'reply_budget', library_id: 'frb' });
      expect(h.twilio.messagesTo(BOTH)).to.have.length(1);
    });
  });

  describe('notices', () => {
    beforeEach(() => start());

    it("a library's token writes its notices and patrons only, in its name; any other token is 401; one id from two libraries is two notices", async () => {
      const hbk = await postNotices(HBK_TOKEN, notice('n-1', '+4520000055'));
      expect(hbk.status).to.equal(202);
      expect(hbk.body.notices[0]?.id).to.equal('n-1');
      const frb = await postNotices(FRB_TOKEN, notice('n-1', '+4520000066'));
      expect(frb.status).to.equal(202);
      expect((await postNotices('another-token-0123456789abcdef0123456789', notice('n-2'))).status).to.equal(401);
      expect((await postNotices(`${HBK_TOKEN}x`, notice('n-2'))).status).to.equal(401);

      const rows = await h.deps.db('notices').select('id', 'library_id').orderBy('id');
      expect(rows).to.deep.equal([
        { id: 'frb:n-1', library_id: 'frb' },
        { id: 'hbk:n-1', library_id: 'hbk' },
      ]);
      // Each library's card 0101 took its own notice's number; the other library's card is untouched.
      const cards = await h.deps.db('patrons').where({ card_number: '0101' }).select('id', 'library_id', 'mobile').orderBy('id');
      expect(cards).to.deep.equal([
        { id: 'frb:p1', library_id: 'frb', mobile: '+4520000066' },
        { id: 'hbk:p1', library_id: 'hbk', mobile: '+4520000055' },
      ]);
      expect((await replies('+4520000055', 1))[0]).to.match(new RegExp(`^${HBK_NAME}: `));
      expect((await replies('+4520000066', 1))[0]).to.match(new RegExp(`^${FRB_NAME}: `));
    });
  });

  describe("each library's send window", () => {
    beforeEach(() => start({ frb: { sendWindow: '12:00-18:00' } }));

    it("holds frb's SMS for frb's window while hbk's leave in hbk's", async () => {
      const hbk = await h.text(BOTH, 'HBK FORNY ALLE');
      const frb = await h.text(BOTH, 'FRB FORNY ALLE');
      await replies(BOTH, 1);
      await eventually(async () => (await inboundRow(frb.messageSid))?.status === 'processed');
      await settle();
      const sent = h.twilio.messagesTo(BOTH);
      expect(sent).to.have.length(1);
      expect(sent[0]?.body).to.match(new RegExp(`^${HBK_NAME}: `));
      const frbReply = found(await h.deps.db('outbound_messages').where({ id: found(found(await inboundRow(frb.messageSid)).reply_id) }).first());
      expect(frbReply).to.include({ status: 'scheduled', library_id: 'frb' });
      expect(new Date(frbReply.send_after).toISOString()).to.equal(new Date(`${TODAY}T12:00:00+01:00`).toISOString());
      expect(await inboundRow(hbk.messageSid)).to.include({ status: 'processed' });
      // A notice of frb's waits for frb's window too.
      expect(await channels(FRB_TOKEN, 'n-1')).to.deep.equal(['sms']);
      await settle();
      expect(h.twilio.messagesTo(BOTH)).to.have.length(1);
    });
  });

  describe('reminders', () => {
    beforeEach(() => start());

    it('scans library by library; each reminder carries its library’s name and keyword', async () => {
      const result = await runReminderScan(h.deps);
      expect(result.dueDate).to.equal(REMINDER_DUE);
      const rows = await h.deps.db('outbound_messages').where({ kind: 'reminder' }).select('patron_id', 'library_id', 'body').orderBy('patron_id');
      expect(rows.map((row) => [row.patron_id, row.library_id])).to.deep.equal([
        ['frb:p1', 'frb'],
        ['hbk:p1', 'hbk'],
      ]);
      expect(rows[0]?.body).to.equal(`${FRB_NAME}: 2 lån skal afleveres senest 4. december. Svar FRB FORNY ALLE til 1910 for at forny.`);
      expect(rows[1]?.body).to.match(new RegExp(`^${HBK_NAME}: 1 lån skal afleveres senest .*Svar HBK FORNY ALLE til 1910`));
      const scans = await h.deps.db('reminder_scans').select('library_id', 'messages').orderBy('library_id');
      expect(scans).to.deep.equal([
        { library_id: 'frb', messages: 1 },
        { library_id: 'hbk', messages: 1 },
      ]);
    });
  });
});

describe("many libraries: one library's SIP2 server away (SPEC §12)", function () {
  this.timeout(40_000);
  const PASSWORD = 'Hemmeligt-kodeord-42';
  let h: Harness;
  let dir: string;
  const servers: Sip2Server[] = [];

  const items = (): SimItem[] => [{ id: 'I-1', title: 'Ærøs blå fjorde', dueDate: '2026-12-03', renewals: 0, maxRenewals: 2 }];

  afterEach(async () => {
    await h?.stop();
    for (const server of servers.splice(0)) await server.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers hbk's patrons at once while frb's system does not answer; frb's wait; /readyz stays 200 and names frb", async () => {
    const ports: number[] = [];
    for (const institution of ['HBK', 'FRB']) {
      const server = new Sip2Server({ password: PASSWORD, institution, today: TODAY, renewalDays: 14 });
      server.addPatron({ card: '0101', name: 'Karen Blixen', items: items() });
      servers.push(server);
      ports.push(await server.start());
    }
    await servers[1]?.stop();
    const url = (port: number | undefined, institution: string) => `sip2://forny:${PASSWORD}@127.0.0.1:${port}?institution=${institution}&location=X1&timeout_ms=1000`;
    dir = mkdtempSync(join(tmpdir(), 'forny-libraries-'));
    h = await Harness.start({
      workers: true,
      now: `${TODAY}T10:00:00+01:00`,
      env: {
        LIBRARIES_FILE: librariesFile(dir, { hbk: { systemUrl: url(ports[0], 'HBK') }, frb: { systemUrl: url(ports[1], 'FRB') } }),
        TEST_HBK_TOKEN: HBK_TOKEN,
        RENEW_ALL_GIVE_UP_MINUTES: '1',
      },
    });
    const directory: FixtureInput = { patrons: [{ id: 'p1', cardNumber: '0101', name: 'Karen Blixen', mobile: BOTH, smsOptIn: true }] };
    const other: FixtureInput = { patrons: [{ id: 'p1', cardNumber: '0101', name: 'Karen Blixen', mobile: HBK_ONLY, smsOptIn: true }] };
    await loadFixture(h.deps.db, directory, h.clock.now(), 'hbk');
    await loadFixture(h.deps.db, other, h.clock.now(), 'frb');
    const replies = (to: string, count: number) => eventually(() => (h.twilio.messagesTo(to).length >= count ? h.twilio.messagesTo(to).map((m) => m.body) : undefined), 10_000, `${count} SMS to ${to}`);
    const inboundRow = (sid: string) => h.deps.db('inbound_messages').where({ message_sid: sid }).first();

    // frb's patrons first, so their jobs are in the workers' hands when hbk's arrive.
    const frbSids: string[] = [];
    for (let n = 0; n < 3; n += 1) frbSids.push((await h.text(HBK_ONLY, 'FRB FORNY ALLE')).messageSid);
    const started = Date.now();
    await h.text(BOTH, 'HBK FORNY ALLE');
    const [reply] = await replies(BOTH, 1);
    expect(reply).to.equal(`${HBK_NAME}: 1 af 1 lån er fornyet.`);
    expect(Date.now() - started, 'hbk answered without waiting for frb').to.be.below(3000);

    for (const sid of frbSids) expect(await inboundRow(sid), sid).to.include({ status: 'received' });
    expect(h.twilio.messagesTo(HBK_ONLY)).to.have.length(0);

    const ready = await fetch(`${h.baseUrl}/readyz`);
    expect(ready.status).to.equal(200);
    const body = (await ready.json()) as { checks: { librarySystem: string; librarySystems: Record<string, string> } };
    expect(body.checks.librarySystems.hbk).to.equal('ok');
    expect(body.checks.librarySystems.frb).to.match(/^down: /);
    expect(body.checks.librarySystem).to.match(/^down: /);

    // Given up in frb's name: each of frb's requests gets frb's give-up SMS, nothing of hbk's.
    await eventually(async () => ((await h.deps.queues.renewAll.getJobCounts('delayed')).delayed ?? 0) > 0, 5_000, 'a retry to wait');
    h.clock.advance(61_000);
    const gaveUp = await replies(HBK_ONLY, 3);
    expect(gaveUp).to.deep.equal(Array.from({ length: 3 }, () => h.deps.libraries.get('frb').texts.renewAllGaveUp()));
    expect(gaveUp[0]).to.match(new RegExp(`^${FRB_NAME}: .*FRB FORNY ALLE.*fredensborgbib\\.dk`));
    for (const sid of frbSids) expect(await inboundRow(sid), sid).to.include({ status: 'failed', library_id: 'frb' });
  });
});
