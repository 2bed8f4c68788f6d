import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Knex } from 'knex';
import { createKnex } from '../../db/knexfile.js';
import { getOutbound } from '../../db/repositories/outbound.js';
import { createPostgresDatabase } from '../helpers/postgres.js';

/** Superseded rows as forny wrote them before reasons were codes: the reason as English text in error_message. */
const BEFORE: ReadonlyArray<readonly [string, string | null, string | null]> = [
  ['folded into a later renew-all reply', 'folded_into_later_reply', null],
  ['every loan it names was renewed or returned', 'loans_settled', null],
  ['patron opted out of SMS', 'patron_sms_opt_out', null],
  ['patron opted out (STOP)', 'stop_from_patron', null],
  ['number opted out (STOP)', 'stop_from_number', null],
  ['cancelled by operator mette', 'cancelled_by_operator', 'mette'],
];

async function migratesExistingRows(db: Knex): Promise<void> {
  await db.migrate.up({ name: '001-initial' });
  while ((await db.migrate.currentVersion()) !== '009-ils-renewal-cards') await db.migrate.up();
  const stamp = '2026-12-01T09:00:00.000Z';
  const row = (text: string) => ({
    channel: 'sms', kind: 'reminder', purpose: 'reminder', to_address: '+4520000001', from_address: '1910', body: 'x',
    status: 'superseded', send_after: stamp, attempts: 0, error_message: text, created_at: stamp, updated_at: stamp,
  });
  const ids: number[] = [];
  for (const [text] of BEFORE) ids.push(Number((await db('outbound_messages').insert(row(text)).returning('id'))[0]?.id));
  await db.migrate.latest();

  for (const [index, [, reason, operator]] of BEFORE.entries()) {
    const message = await getOutbound(db, ids[index] ?? 0);
    expect(message, BEFORE[index]?.[0]).to.include({ supersededReason: reason, cancelledBy: operator, errorMessage: null });
  }
}

/** Migration 010: the reasons rows were superseded for before it keep their meaning as codes, on both databases. */
describe('migration 010: superseded reasons as codes', function () {
  this.timeout(20_000);

  it('SQLite: every English reason already stored becomes its code; an operator\'s cancel keeps the name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forny-migration-'));
    const db = createKnex(`sqlite:${join(dir, 'forny.sqlite')}`);
    try {
      await migratesExistingRows(db);
    } finally {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL: the same', async () => {
    const database = await createPostgresDatabase();
    const db = createKnex(database.url);
    try {
      await migratesExistingRows(db);
    } finally {
      await db.destroy();
      await database.drop();
    }
  });
});
