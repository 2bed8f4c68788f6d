import type { Knex } from 'knex';
import { validateFixture, type Fixture } from './fixture.js';
import { toStoredInstant } from './repositories/values.js';

export interface LoadReport {
  readonly patrons: number;
  readonly titles: number;
  readonly items: number;
  readonly loans: number;
  readonly reservations: number;
}

async function upsert(trx: Knex.Transaction, table: string, rows: readonly Record<string, unknown>[], keep: readonly string[] = []): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0] ?? {}).filter((column) => column !== 'id' && !keep.includes(column));
  // Chunked: SQLite caps the number of bound parameters in one statement.
  for (let start = 0; start < rows.length; start += 50) {
    await trx(table).insert(rows.slice(start, start + 50)).onConflict('id').merge(columns);
  }
}

/**
 * Loads a library fixture (SPEC §9): validated whole first, then upserted by id in one transaction,
 * so a bad fixture loads nothing and loading the same one twice changes nothing.
 */
export async function loadFixture(db: Knex, input: unknown, now: Date): Promise<LoadReport> {
  const fixture: Fixture = await validateFixture(input, {
    has: async (table, id) => (await db(table).where({ id }).first('id')) !== undefined,
  });
  const stamp = toStoredInstant(now);
  await db.transaction(async (trx) => {
    await upsert(trx, 'titles', fixture.titles.map((row) => ({ id: row.id, title: row.title, renewable: row.renewable })));
    await upsert(trx, 'items', fixture.items.map((row) => ({ id: row.id, title_id: row.titleId, barcode: row.barcode, renewable: row.renewable })));
    await upsert(
      trx,
      'patrons',
      fixture.patrons.map((row) => ({
        id: row.id,
        card_number: row.cardNumber,
        name: row.name,
        mobile: row.mobile,
        sms_opt_in: row.smsOptIn,
        email: row.email,
        email_opt_in: row.emailOptIn,
        created_at: stamp,
        updated_at: stamp,
      })),
      ['created_at', 'updated_at'],
    );
    await upsert(
      trx,
      'loans',
      fixture.loans.map((row) => ({
        id: row.id,
        patron_id: row.patronId,
        item_id: row.itemId,
        kind: row.kind,
        loan_period_days: row.loanPeriodDays,
        borrowed_on: row.borrowedOn,
        due_date: row.dueDate,
        renewals: row.renewals,
        owning_library: row.owningLibrary,
        returned_on: row.returnedOn,
        updated_at: stamp,
      })),
      ['updated_at'],
    );
    await upsert(
      trx,
      'reservations',
      fixture.reservations.map((row) => ({ id: row.id, patron_id: row.patronId, title_id: row.titleId, created_at: toStoredInstant(new Date(row.createdAt)) })),
    );
    // Borrowing a Lynlån deletes the borrower's own reservation on that title (the library's rule).
    for (const loan of fixture.loans.filter((row) => row.kind === 'lynlaan' && row.returnedOn === null)) {
      const titleId = trx('items').where({ id: loan.itemId }).select('title_id');
      await trx('reservations').where({ patron_id: loan.patronId }).whereIn('title_id', titleId).delete();
    }
  });
  return {
    patrons: fixture.patrons.length,
    titles: fixture.titles.length,
    items: fixture.items.length,
    loans: fixture.loans.length,
    reservations: fixture.reservations.length,
  };
}
