import type { Knex } from 'knex';
import { DEFAULT_LIBRARY_ID, ownId, storedId } from '../src/domain/library-ids.js';
import { FixtureError, validateFixture, type Fixture } from './fixture.js';
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
 * A card number or barcode this library's other patron or item holds already (unique per library,
 * SPEC §12): named like the fixture's own problems, before anything is written.
 */
async function takenInLibrary(
  db: Knex,
  libraryId: string,
  rows: readonly { readonly id: string; readonly value: string }[],
  what: { readonly table: 'patrons' | 'items'; readonly column: 'card_number' | 'barcode'; readonly field: string; readonly noun: string },
): Promise<void> {
  const values = rows.map((row) => row.value);
  const holders = new Map<string, string>();
  for (let start = 0; start < values.length; start += 500) {
    const found = await db(what.table).where({ library_id: libraryId }).whereIn(what.column, values.slice(start, start + 500)).select<{ id: string; value: string }[]>('id', `${what.column} as value`);
    for (const row of found) holders.set(row.value, row.id);
  }
  for (const [index, row] of rows.entries()) {
    const holder = holders.get(row.value);
    if (holder !== undefined && holder !== storedId(libraryId, row.id)) {
      throw new FixtureError(`${what.table}[${index}].${what.field}: ${JSON.stringify(row.value)} is ${what.noun} ${ownId(libraryId, holder)}'s ${what.field === 'cardNumber' ? 'card number' : 'barcode'} too`);
    }
  }
}

/**
 * Loads a library fixture (SPEC §9) into one library (SPEC §12): validated whole first, then upserted
 * by id in one transaction, so a bad fixture loads nothing and loading the same one twice changes
 * nothing. The fixture speaks in the library's own ids; they are stored as storedId(library, id),
 * references too, and every row is marked with the library, so two libraries may load the same ids,
 * card numbers and barcodes. A reference may name a row the library holds already, never another
 * library's.
 */
export async function loadFixture(db: Knex, input: unknown, now: Date, libraryId: string = DEFAULT_LIBRARY_ID): Promise<LoadReport> {
  const id = (own: string) => storedId(libraryId, own);
  const fixture: Fixture = await validateFixture(input, {
    has: async (table, own) => (await db(table).where({ id: id(own), library_id: libraryId }).first('id')) !== undefined,
  });
  await takenInLibrary(db, libraryId, fixture.patrons.map((row) => ({ id: row.id, value: row.cardNumber })), { table: 'patrons', column: 'card_number', field: 'cardNumber', noun: 'patron' });
  await takenInLibrary(db, libraryId, fixture.items.map((row) => ({ id: row.id, value: row.barcode })), { table: 'items', column: 'barcode', field: 'barcode', noun: 'item' });
  const stamp = toStoredInstant(now);
  const library_id = libraryId;
  await db.transaction(async (trx) => {
    await upsert(trx, 'titles', fixture.titles.map((row) => ({ id: id(row.id), library_id, title: row.title, renewable: row.renewable })));
    await upsert(trx, 'items', fixture.items.map((row) => ({ id: id(row.id), library_id, title_id: id(row.titleId), barcode: row.barcode, renewable: row.renewable })));
    await upsert(
      trx,
      'patrons',
      fixture.patrons.map((row) => ({
        id: id(row.id),
        library_id,
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
        id: id(row.id),
        library_id,
        patron_id: id(row.patronId),
        item_id: id(row.itemId),
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
      fixture.reservations.map((row) => ({ id: id(row.id), library_id, patron_id: id(row.patronId), title_id: id(row.titleId), created_at: toStoredInstant(new Date(row.createdAt)) })),
    );
    // Borrowing a Lynlån deletes the borrower's own reservation on that title (the library's rule).
    for (const loan of fixture.loans.filter((row) => row.kind === 'lynlaan' && row.returnedOn === null)) {
      const titleId = trx('items').where({ id: id(loan.itemId) }).select('title_id');
      await trx('reservations').where({ patron_id: id(loan.patronId) }).whereIn('title_id', titleId).delete();
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
