import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertOutbound, type NewOutbound } from '../../db/repositories/outbound.js';
import { countSmsSentBetween, smsBacklogCounts } from '../../db/repositories/sms-backlog.js';
import type { OutboundKind } from '../../src/domain/message-status.js';
import { hashPassword } from '../../src/password-hash.js';
import { Harness } from '../helpers/harness.js';
import { createPostgresDatabase } from '../helpers/postgres.js';

/*
 * The morning backlog on the overview (/admin) and in GET /api/backlog: at 08:45 every SMS written
 * in the night is due at once, and operators must see what waits, per library and kind, and when
 * what is due now will be gone at the current rate (the SMS sent the last minute, or the
 * configured SMS_RATE_PER_SECOND when none were).
 */

const ADMIN = { user: 'operator', password: 'correct-horse-battery' };
const HBK = { user: 'hbk-vagt', password: 'hbk-hemmelig-adgangskode' };
type Login = { user: string; password: string };
const auth = (login: Login) => ({ authorization: `Basic ${Buffer.from(`${login.user}:${login.password}`).toString('base64')}` });

/** Tuesday, the window (08:45–20:00) open five minutes. */
const NOW = '2026-12-01T08:50:00+01:00';
const NIGHT = new Date('2026-12-01T02:00:00+01:00');
const OPENING = new Date('2026-12-01T08:45:00+01:00');
const TOMORROW = new Date('2026-12-02T08:45:00+01:00');
const RATE = 2;

interface BacklogAnswer {
  at: string;
  dueNow: number;
  waitingForWindow: number;
  rate: { perSecond: number; source: 'recent' | 'configured'; sentLastMinute: number };
  clearsInSeconds: number | null;
  clearsAt: string | null;
  items: { library: string | null; kind: OutboundKind; dueNow: number; waitingForWindow: number }[];
}

/** The rows of the overview's backlog table: library and kind (data attributes) and the cells' text. */
function backlogRows(page: string): { library: string; kind: string; cells: string[] }[] {
  const table = /<table[^>]*id="sms-backlog"[^>]*>([\s\S]*?)<\/table>/.exec(page)?.[1] ?? '';
  return [...table.matchAll(/<tr data-library="([^"]*)" data-kind="([^"]*)">([\s\S]*?)<\/tr>/g)].map((match) => ({
    library: match[1] ?? '',
    kind: match[2] ?? '',
    cells: [...(match[3] ?? '').matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map((cell) => (cell[1] ?? '').replace(/<[^>]+>/g, '').trim()),
  }));
}
const etaLine = (page: string) => /<p id="sms-backlog-eta"[^>]*>([\s\S]*?)<\/p>/.exec(page)?.[1]?.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();

for (const database of ['SQLite', 'PostgreSQL'] as const) {
  describe(`the morning backlog of SMS (overview and GET /api/backlog) on ${database}`, function () {
    this.timeout(60_000);
    let h: Harness;
    let dir: string;
    let postgres: { url: string; drop(): Promise<void> } | undefined;
    let sequence = 0;

    /** `count` SMS of one library and kind, written at `writtenAt` to leave at `sendAfter`. */
    async function write(count: number, libraryId: string | null, kind: OutboundKind, sendAfter: Date, writtenAt: Date, channel: 'sms' | 'email' = 'sms'): Promise<number[]> {
      const ids: number[] = [];
      for (let i = 0; i < count; i += 1) {
        sequence += 1;
        const message: NewOutbound = {
          channel,
          kind,
          purpose: kind === 'reply' ? 'renew-all' : kind === 'reminder' ? 'reminder' : 'overdue',
          patronId: null,
          inboundId: null,
          to: channel === 'sms' ? `+45610${String(sequence).padStart(5, '0')}` : `laaner${sequence}@example.dk`,
          from: '1910',
          body: `besked ${sequence}`,
          sendAfter,
          dedupeKey: `backlog-test-${sequence}`,
          libraryId,
        };
        ids.push((await insertOutbound(h.deps.db, message, writtenAt)).message.id);
      }
      return ids;
    }

    /** SMS of a library that left `secondsAgo` before now, in the status a receipt may since have moved them to. */
    async function sent(count: number, libraryId: string | null, secondsAgo: number, status: 'sent' | 'delivered' = 'sent'): Promise<void> {
      const at = new Date(h.clock.now().getTime() - secondsAgo * 1000).toISOString();
      const ids = await write(count, libraryId, 'reminder', NIGHT, NIGHT);
      await h.deps.db('outbound_messages').whereIn('id', ids).update({ status, sent_at: at, status_at: at });
    }

    async function get(login: Login, path: string): Promise<{ status: number; text: string }> {
      const response = await fetch(`${h.baseUrl}${path}`, { headers: auth(login) });
      return { status: response.status, text: await response.text() };
    }
    const api = async (login: Login, path = '/api/backlog') => {
      const { status, text } = await get(login, path);
      expect(status, text).to.equal(200);
      return JSON.parse(text) as BacklogAnswer;
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'forny-backlog-'));
      const file = join(dir, 'libraries.json');
      writeFileSync(
        file,
        JSON.stringify({
          gatewayName: 'Bibliotekerne',
          libraries: [
            { id: 'hbk', name: 'Helsingør Bibliotekerne', keywords: ['HBK'], site: 'helsbib.dk', operators: [{ user: HBK.user, passwordHash: await hashPassword(HBK.password) }] },
            { id: 'frb', name: 'Fredensborg Bibliotekerne', keywords: ['FRB'], site: 'fredensborgbib.dk', operators: [] },
          ],
        }),
      );
      // No workers: what is written stays where it is put.
      if (database === 'PostgreSQL') postgres = await createPostgresDatabase();
      h = await Harness.start({ env: { LIBRARIES_FILE: file, SMS_RATE_PER_SECOND: String(RATE) }, now: NOW, ...(postgres ? { databaseUrl: postgres.url } : {}) });
      const now = h.clock.now();
      // The night's reminders and notices, due since 08:45; tomorrow's, waiting for the window.
      await write(300, 'hbk', 'reminder', OPENING, NIGHT);
      await write(100, 'hbk', 'reminder', TOMORROW, now);
      await write(50, 'hbk', 'notice', OPENING, NIGHT);
      await write(2, 'hbk', 'reply', now, now);
      await write(120, 'frb', 'notice', OPENING, NIGHT);
      await write(40, 'frb', 'notice', TOMORROW, now);
      await write(10, 'frb', 'reminder', TOMORROW, now);
      // The gateway's own answer to a number no library knows.
      await write(1, null, 'reply', now, now);
      // Not SMS waiting: an e-mail, a superseded reminder, one failed.
      await write(5, 'hbk', 'reminder', OPENING, NIGHT, 'email');
      const [superseded, failed] = await write(2, 'frb', 'notice', OPENING, NIGHT);
      await h.deps.db('outbound_messages').where({ id: superseded }).update({ status: 'superseded' });
      await h.deps.db('outbound_messages').where({ id: failed }).update({ status: 'failed' });
      // Sent before the last minute: no part of the current rate.
      await sent(20, 'hbk', 61);
    });
    after(async () => {
      await h?.stop();
      await postgres?.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('counts unsent SMS per library and kind, due now and waiting for the window, in one query', async () => {
      const rows = await smsBacklogCounts(h.deps.db, h.clock.now());
      const key = (row: { library: string | null; kind: string }) => `${row.library ?? '-'} ${row.kind}`;
      expect(Object.fromEntries(rows.map((row) => [key(row), [row.dueNow, row.waitingForWindow]]))).to.deep.equal({
        'hbk reply': [2, 0],
        'hbk reminder': [300, 100],
        'hbk notice': [50, 0],
        'frb reminder': [0, 10],
        'frb notice': [120, 40],
        '- reply': [1, 0],
      });
      expect((await smsBacklogCounts(h.deps.db, h.clock.now(), 'frb')).map(key)).to.have.members(['frb reminder', 'frb notice']);
    });

    if (database === 'SQLite') {
      it('reads the unsent SMS on outbound_status_idx and the last minute on outbound_sent_at_idx, never the whole history', async () => {
        const queries: { sql: string; bindings: unknown[] }[] = [];
        const record = (query: { sql: string; bindings: unknown[] }) => queries.push(query);
        h.deps.db.on('query', record);
        try {
          await smsBacklogCounts(h.deps.db, h.clock.now(), 'hbk');
          await countSmsSentBetween(h.deps.db, new Date(h.clock.now().getTime() - 60_000), h.clock.now(), 'hbk');
        } finally {
          h.deps.db.off('query', record);
        }
        expect(queries).to.have.length(2);
        const plans = await Promise.all(
          queries.map(async (query) => (await h.deps.db.raw<{ detail: string }[]>(`EXPLAIN QUERY PLAN ${query.sql}`, query.bindings as never[])).map((step) => step.detail).join(' | ')),
        );
        expect(plans[0]).to.match(/USING INDEX outbound_status_idx \(status=\? AND channel=\?\)/);
        expect(plans[1]).to.match(/USING INDEX outbound_sent_at_idx \(sent_at>\? AND sent_at<\?\)/);
      });
    }

    it("shows the gateway's operator every library's backlog per kind, and when it is gone at the configured rate", async () => {
      const { status, text } = await get(ADMIN, '/admin');
      expect(status).to.equal(200);
      expect(text).to.contain('<h2>Kø af SMS</h2>');
      expect(backlogRows(text)).to.deep.equal([
        { library: 'hbk', kind: 'reply', cells: ['Helsingør Bibliotekerne', 'svar', '2', '0'] },
        { library: 'hbk', kind: 'reminder', cells: ['Helsingør Bibliotekerne', 'påmindelser', '300', '100'] },
        { library: 'hbk', kind: 'notice', cells: ['Helsingør Bibliotekerne', 'meddelelser', '50', '0'] },
        { library: 'frb', kind: 'reminder', cells: ['Fredensborg Bibliotekerne', 'påmindelser', '0', '10'] },
        { library: 'frb', kind: 'notice', cells: ['Fredensborg Bibliotekerne', 'meddelelser', '120', '40'] },
        { library: '', kind: 'reply', cells: ['Bibliotekerne (fælles svar)', 'svar', '1', '0'] },
      ]);
      // 473 due at the configured 2 a second: 236.5 s, about 4 minutes, gone by 08:53:56.5.
      expect(etaLine(text)).to.equal('473 SMS skal sendes nu: væk om ca. 4 min (klokken 08:54) med 2 SMS i sekundet (den indstillede hastighed; intet sendt det seneste minut).');
      // A phone shows each row as a card, each count named.
      expect(text).to.match(/<table class="numbers cards-on-phone" id="sms-backlog">/);
      expect(text).to.contain('<td data-label="Skal sendes nu">300</td>');
    });

    it("shows a library's operator only their own library's backlog, and its time at the configured rate", async () => {
      const { status, text } = await get(HBK, '/admin');
      expect(status).to.equal(200);
      expect(backlogRows(text).map((row) => `${row.library} ${row.kind}`)).to.deep.equal(['hbk reply', 'hbk reminder', 'hbk notice']);
      expect(text).not.to.contain('Fredensborg');
      // 352 due at 2 a second: 176 s, 3 minutes, gone by 08:52:56.
      expect(etaLine(text)).to.equal('352 SMS skal sendes nu: væk om ca. 3 min (klokken 08:53) med 2 SMS i sekundet (den indstillede hastighed; intet sendt det seneste minut).');
    });

    it("narrows the gateway's view with ?library= as the rest of the page", async () => {
      const { text } = await get(ADMIN, '/admin?library=frb');
      expect(backlogRows(text).map((row) => `${row.library} ${row.kind}`)).to.deep.equal(['frb reminder', 'frb notice']);
      expect(etaLine(text)).to.match(/^120 SMS skal sendes nu: væk om ca\. 1 min \(klokken 08:51\)/);
    });

    it('answers GET /api/backlog with the same figures, scoped as the other /api routes', async () => {
      const all = await api(ADMIN);
      expect(all).to.deep.include({ at: '2026-12-01T08:50:00.000+01:00', dueNow: 473, waitingForWindow: 150, rate: { perSecond: 2, source: 'configured', sentLastMinute: 0 }, clearsInSeconds: 237 });
      expect(all.clearsAt).to.equal('2026-12-01T08:53:56.500+01:00');
      expect(all.items).to.deep.include({ library: null, kind: 'reply', dueNow: 1, waitingForWindow: 0 });
      expect(all.items).to.deep.include({ library: 'hbk', kind: 'reminder', dueNow: 300, waitingForWindow: 100 });
      expect(all.items).to.have.length(6);
      const hbk = await api(HBK);
      expect(hbk).to.deep.include({ dueNow: 352, waitingForWindow: 100, clearsInSeconds: 176 });
      expect(new Set(hbk.items.map((item) => item.library))).to.deep.equal(new Set(['hbk']));
      const frb = await api(ADMIN, '/api/backlog?library=frb');
      expect(frb).to.deep.include({ dueNow: 120, waitingForWindow: 50, clearsInSeconds: 60 });
      expect((await get(HBK, '/api/backlog?library=frb')).status).to.equal(400);
      expect((await get(ADMIN, '/api/backlog?library=nope')).status).to.equal(400);
    });

    it('uses the rate SMS were sent at the last minute when any were (each library its own)', async () => {
      // 30 of each library left within the last 60 s (some since reported delivered): 1 a second in all, 0.5 each.
      await sent(20, 'hbk', 59);
      await sent(10, 'hbk', 1, 'delivered');
      await sent(30, 'frb', 30);
      const { text } = await get(ADMIN, '/admin');
      // 473 at 1 a second: 473 s, about 8 minutes, gone by 08:57:53.
      expect(etaLine(text)).to.equal('473 SMS skal sendes nu: væk om ca. 8 min (klokken 08:58) med 1 SMS i sekundet (sendt det seneste minut).');
      // hbk's 352 at its 0.5 a second: 704 s, about 12 minutes, gone by 09:01:44.
      expect(etaLine((await get(HBK, '/admin')).text)).to.equal('352 SMS skal sendes nu: væk om ca. 12 min (klokken 09:02) med 0,5 SMS i sekundet (sendt det seneste minut).');
      const all = await api(ADMIN);
      expect(all).to.deep.include({ rate: { perSecond: 1, source: 'recent', sentLastMinute: 60 }, clearsInSeconds: 473, clearsAt: '2026-12-01T08:57:53.000+01:00' });
      expect((await api(ADMIN, '/api/backlog?library=frb')).clearsInSeconds).to.equal(240);
    });

    it('says there is no queue when nothing is due: in the night everything waits for the window', async () => {
      h.clock.set('2026-12-01T02:30:00+01:00');
      try {
        const { text } = await get(ADMIN, '/admin');
        expect(etaLine(text)).to.equal('Ingen kø: intet skal sendes nu.');
        expect(backlogRows(text).find((row) => row.library === 'hbk' && row.kind === 'reminder')?.cells).to.deep.equal(['Helsingør Bibliotekerne', 'påmindelser', '0', '400']);
        const all = await api(ADMIN);
        expect(all).to.deep.include({ dueNow: 0, waitingForWindow: 623, clearsInSeconds: null, clearsAt: null });
      } finally {
        h.clock.set(NOW);
      }
    });

    it('in the first minute after 08:45 measures the rate since the opening, not over a minute that began before it', async () => {
      h.clock.set('2026-12-01T08:45:15+01:00');
      try {
        await sent(300, 'frb', 5); // 300 of frb's in the 15 s since the opening: 20 a second
        const frb = await api(ADMIN, '/api/backlog?library=frb');
        expect(frb.rate).to.deep.equal({ perSecond: 20, source: 'recent', sentLastMinute: 300 });
      } finally {
        h.clock.set(NOW);
      }
    });
  });
}
