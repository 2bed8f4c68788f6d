import type { Knex } from 'knex';
import type { FixtureInput } from '../../db/fixture.js';
import { loadFixture } from '../../db/load-fixture.js';
import { storedId } from '../../src/domain/library-ids.js';

/**
 * Loads a fixture into one library of several (SPEC §12): its own ids stored as `LIBRARY:ID`
 * (src/domain/library-ids.ts) and every row marked with `library_id`, so two libraries' fixtures
 * may use the same ids, card numbers and barcodes. Loaded through db/load-fixture.ts with the ids
 * already stored ones, then its rows moved into the library.
 */
export async function loadLibraryFixture(db: Knex, libraryId: string, fixture: FixtureInput, now: Date): Promise<void> {
  const id = (own: string) => storedId(libraryId, own);
  const stored: FixtureInput = {
    patrons: (fixture.patrons ?? []).map((row) => ({ ...row, id: id(row.id) })),
    titles: (fixture.titles ?? []).map((row) => ({ ...row, id: id(row.id) })),
    items: (fixture.items ?? []).map((row) => ({ ...row, id: id(row.id), titleId: id(row.titleId) })),
    loans: (fixture.loans ?? []).map((row) => ({ ...row, id: id(row.id), patronId: id(row.patronId), itemId: id(row.itemId) })),
    reservations: (fixture.reservations ?? []).map((row) => ({ ...row, id: id(row.id), patronId: id(row.patronId), titleId: id(row.titleId) })),
  };
  await loadFixture(db, stored, now);
  const tables = { patrons: stored.patrons, titles: stored.titles, items: stored.items, loans: stored.loans, reservations: stored.reservations } as const;
  for (const [table, rows] of Object.entries(tables)) {
    const ids = (rows ?? []).map((row) => row.id);
    if (ids.length > 0) await db(table).whereIn('id', ids).update({ library_id: libraryId });
  }
}
