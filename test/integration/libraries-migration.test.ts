import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { createKnex } from '../../db/knexfile.js';
import { findPatronsByMobile } from '../../db/repositories/library.js';
import { isNumberOptedOut } from '../../db/repositories/sms-opt-outs.js';
import { reminderScanFinished } from '../../db/repositories/reminder-scans.js';
import { loadFixture } from '../../db/load-fixture.js';
import type { CalendarDate } from '../../src/domain/calendar-date.js';
import { createPostgresDatabase } from '../helpers/postgres.js';

const STAMP = '2026-12-01T09:00:00.000Z';

/**
 * A database written by a single-library forny, migrated to many libraries: everything it held is
 * library `default`'s, with every id as it was, and a STOP sent before still stops every library.
 */
async function keepsEverything(db: Knex): Promise<void> {
  while ((await db.migrate.currentVersion()) !== '011-give-up-causes') await db.migrate.up();
  await db('patrons').insert({ id: 'p1', card_number: '0101901234', name: 'Karen Blixen', mobile: '+4520000001', sms_opt_in: true, email: null, email_opt_in: false, created_at: STAMP, updated_at: STAMP });
  await db('titles').insert({ id: 't1', title: 'Babettes gæstebud', renewable: true });
  await db('items').insert({ id: 'i1', title_id: 't1', barcode: '5000000001', renewable: true });
  await db('loans').insert({ id: 'l1', patron_id: 'p1', item_id: 'i1', kind: 'standard', loan_period_days: 30, borrowed_on: '2026-11-03', due_date: '2026-12-03', renewals: 0, updated_at: STAMP });
  await db('inbound_messages').insert({ message_sid: `SM${'1'.repeat(32)}`, from_number: '+4520000001', to_number: '1910', body: 'HBK FORNY ALLE', command: 'renew-all', status: 'processed', received_at: STAMP });
  await db('outbound_messages').insert({ channel: 'sms', kind: 'reply', purpose: 'renew-all', to_address: '+4520000001', from_address: '1910', body: 'x', status: 'sent', send_after: STAMP, attempts: 1, created_at: STAMP, updated_at: STAMP });
  await db('sms_opt_outs').insert({ mobile: '+4520000009', source: 'stop', at: STAMP });
  await db('reminder_scans').insert({ scan_date: '2026-12-01', due_date: '2026-12-04', started_at: STAMP, finished_at: STAMP, messages: 3 });

  await db.migrate.latest();

  expect((await findPatronsByMobile(db, '+4520000001', 'default')).map((patron) => [patron.id, patron.libraryId])).to.deep.equal([['p1', 'default']]);
  for (const table of ['patrons', 'titles', 'items', 'loans', 'inbound_messages', 'outbound_messages'] as const) {
    expect((await db(table).select('library_id')).map((row) => row.library_id), table).to.deep.equal(['default']);
  }
  expect(await db('loans').where({ id: 'l1', patron_id: 'p1', item_id: 'i1' }).first(), 'the loan and its references').to.not.equal(undefined);
  // STOP belongs to the number: before there were several libraries it stopped everything the short code sent.
  expect(await isNumberOptedOut(db, '+4520000009', 'default')).to.equal(true);
  expect(await isNumberOptedOut(db, '+4520000009', 'frb')).to.equal(true);
  expect(await reminderScanFinished(db, 'default', '2026-12-01' as CalendarDate)).to.equal(true);

  // The same card and barcode may now be another library's too.
  const fixture = {
    patrons: [{ id: 'p1', cardNumber: '0101901234', name: 'Karen Blixen', mobile: '+4520000001', smsOptIn: true }],
    titles: [{ id: 't1', title: 'Syv fantastiske fortællinger' }],
    items: [{ id: 'i1', titleId: 't1', barcode: '5000000001' }],
  };
  await loadFixture(db, fixture, new Date(STAMP), 'frb');
  expect((await findPatronsByMobile(db, '+4520000001')).map((patron) => [patron.id, patron.libraryId])).to.deep.equal([['frb:p1', 'frb'], ['p1', 'default']]);
}

describe('migration 012: an existing database becomes library default, nothing lost', function () {
  this.timeout(30_000);

  it('SQLite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forny-migration-'));
    const db = createKnex(`sqlite:${join(dir, 'forny.sqlite')}`);
    try {
      await keepsEverything(db);
    } finally {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL', async () => {
    const database = await createPostgresDatabase();
    const db = createKnex(database.url);
    try {
      await keepsEverything(db);
    } finally {
      await db.destroy();
      await database.drop();
    }
  });
});
