import { expect } from 'chai';
import type { Knex } from 'knex';
import { createKnex, migrateToLatest } from '../../db/knexfile.js';
import { patronIdForCard, upsertPatronsByCard, type DirectoryEntry } from '../../db/repositories/library.js';
import { insertOutboundMany, toOutbound, type NewOutboundWithLoans } from '../../db/repositories/outbound.js';
import { rowsPerStatement } from '../../db/statement.js';
import type { OutboundRow } from '../../db/tables.js';
import { parseCalendarDate } from '../../src/domain/calendar-date.js';
import { createPostgresDatabase } from '../helpers/postgres.js';
import { SqliteFile } from '../helpers/sqlite-file.js';

/*
 * A batch of notices is written a statement or two per table (db/statement's multi-row inserts), the
 * new messages known from their ids alone. What must hold at the edges: more rows than one statement
 * takes, messages stored before, and a failure part-way, on both databases.
 */

const NOW = new Date('2026-12-01T20:30:00.000Z');
const WINDOW = new Date('2026-12-02T07:45:00.000Z');
const DUE = parseCalendarDate('2026-12-04');

const entry = (n: number, name = `Låner ${n}`): DirectoryEntry => ({ cardNumber: `card${n}`, name, mobile: `+4520${String(n).padStart(6, '0')}`, email: `l${n}@example.dk`, smsOptIn: true, emailOptIn: n % 2 === 0 });

/** An SMS waiting for the window and an e-mail that may leave now, per card, as a notice writes them. */
function messagesFor(cards: readonly number[], body = 'nu', loanIdOf?: (n: number) => string): NewOutboundWithLoans[] {
  return cards.flatMap((n) => {
    const base = { kind: 'reminder', purpose: 'reminder', patronId: patronIdForCard('default', `card${n}`), inboundId: null, libraryId: 'default' } as const;
    const loans = loanIdOf ? [{ loanId: loanIdOf(n), dueDate: DUE }] : [];
    return [
      { ...base, loans, channel: 'sms', to: `+4520${String(n).padStart(6, '0')}`, from: '1910', body: `sms ${body}`, sendAfter: WINDOW, dedupeKey: `notice:n${n}:sms` },
      { ...base, loans, channel: 'email', to: `l${n}@example.dk`, from: 'bibliotek@example.dk', subject: 'Påmindelse', body: `mail ${body}`, html: `<p>${body}</p>`, sendAfter: NOW, dedupeKey: `notice:n${n}:email` },
    ];
  });
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, index) => from + index);

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`a notices batch's bulk writes on ${dialect}`, function () {
    this.timeout(60_000);
    let db: Knex;
    let remove: () => Promise<void>;

    beforeEach(async () => {
      if (dialect === 'sqlite') {
        const file = await SqliteFile.create();
        db = file.db;
        remove = () => file.remove();
      } else {
        const database = await createPostgresDatabase();
        db = createKnex(database.url);
        await migrateToLatest(db);
        remove = async () => {
          await db.destroy();
          await database.drop();
        };
      }
    });
    afterEach(async () => remove());

    it('messages over more than one statement come back as stored, an earlier key as it was, each with its loan linked', async () => {
      const cards = range(0, 1000);
      expect(cards.length * 2).to.be.greaterThan(rowsPerStatement(18)); // two statements of messages
      await upsertPatronsByCard(db, 'default', cards.map((n) => entry(n)), NOW);
      await db('titles').insert({ id: 't1', title: 'Kongens fald', library_id: 'default' });
      await db.batchInsert('items', cards.map((n) => ({ id: `i${n}`, title_id: 't1', barcode: `b${n}`, library_id: 'default' })), 100);
      await db.batchInsert(
        'loans',
        cards.map((n) => ({ id: `l${n}`, patron_id: patronIdForCard('default', `card${n}`), item_id: `i${n}`, kind: 'normal', loan_period_days: 30, borrowed_on: '2026-11-04', due_date: DUE, updated_at: NOW.toISOString(), library_id: 'default' })),
        50,
      );
      const earlier = await insertOutboundMany(db, messagesFor(range(0, 5), 'først'), NOW);

      const messages = messagesFor(cards, 'nu', (n) => `l${n}`);
      const returned = await insertOutboundMany(db, messages, NOW);

      expect(returned.map((message) => message.dedupeKey)).to.deep.equal(messages.map((message) => message.dedupeKey));
      const stored = new Map((await db<OutboundRow>('outbound_messages').select('*')).map((row) => [row.dedupe_key, toOutbound(row)]));
      expect(stored.size).to.equal(2000);
      for (const message of returned) expect(message, message.dedupeKey ?? '').to.deep.equal(stored.get(message.dedupeKey));
      expect(returned.slice(0, 10)).to.deep.equal(earlier);
      expect(returned[0]).to.include({ body: 'sms først', status: 'scheduled', sendAfter: WINDOW.toISOString() });
      expect(returned[1]).to.include({ body: 'mail først', status: 'queued', sendAfter: NOW.toISOString() });
      const links = await db('outbound_loans').select('outbound_id', 'loan_id');
      expect(links).to.have.length(2000);
      const byId = new Map(returned.map((message) => [message.id, message]));
      for (const link of links) expect(byId.get(Number(link.outbound_id))?.patronId).to.equal(patronIdForCard('default', `card${String(link.loan_id).slice(1)}`));
    });

    it('a failure in a later statement leaves nothing of the earlier ones in the transaction', async () => {
      await upsertPatronsByCard(db, 'default', range(0, 1000).map((n) => entry(n)), NOW);
      // The last message names a patron the directory does not hold: its statement, the second, fails.
      const messages = messagesFor(range(0, 1001));
      expect(messages.length - 1).to.be.greaterThan(rowsPerStatement(18));
      const failed = await db.transaction((trx) => insertOutboundMany(trx, messages, NOW)).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failed).to.be.instanceOf(Error);
      expect((failed as { code?: unknown }).code).to.be.oneOf(['SQLITE_CONSTRAINT_FOREIGNKEY', '23503']); // the foreign key, nothing else
      expect(Number((await db('outbound_messages').count({ n: '*' }).first())?.n)).to.equal(0);
    });

    it('the directory upsert over more cards than one statement keeps a known card\'s id and creation and takes its new details', async () => {
      await upsertPatronsByCard(db, 'default', range(0, 10).map((n) => entry(n)), new Date('2026-11-01T10:00:00.000Z'));
      const cards = range(0, 4000);
      expect(cards.length).to.be.greaterThan(rowsPerStatement(10));
      const ids = await upsertPatronsByCard(db, 'default', cards.map((n) => entry(n, `Ny ${n}`)), NOW);

      expect(ids.size).to.equal(4000);
      for (const n of cards) expect(ids.get(`card${n}`)).to.equal(patronIdForCard('default', `card${n}`));
      const known = await db('patrons').where({ card_number: 'card3' }).first();
      expect(known).to.include({ name: 'Ny 3', created_at: '2026-11-01T10:00:00.000Z', updated_at: NOW.toISOString() });
      expect(Number((await db('patrons').count({ n: '*' }).first())?.n)).to.equal(4000);
    });
  });
}
