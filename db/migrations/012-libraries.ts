import type { Knex } from 'knex';

/*
 * Many libraries on one short code (SPEC §12). Every row that belongs to a library says which:
 * `library_id`, `default` for everything written before (the one library a single-library install
 * has), so an existing database keeps all it holds. Messages may belong to no library (the
 * gateway's own answers: an unknown number, help to a number no directory holds): NULL there.
 *
 * The library's own string ids (patrons, titles, items, loans, reservations, notices) stay the
 * primary keys; a library other than `default` stores them as `ID:its-own-id` (src/library-ids.ts),
 * so two libraries' `p1` never meet and every existing reference stays a single column. Card
 * numbers and barcodes are unique per library (one person may hold a card at two libraries).
 *
 * STOP belongs to the number but may name a library: `sms_opt_outs` holds one row per number and
 * scope, `*` for every library. Reminder scans run per library, one row per library and day.
 */
const LIBRARY_TABLES = ['patrons', 'titles', 'items', 'loans', 'reservations', 'notices', 'audit_log'] as const;

export async function up(db: Knex): Promise<void> {
  for (const table of LIBRARY_TABLES) {
    await db.schema.alterTable(table, (t) => {
      t.string('library_id', 32).notNullable().defaultTo('default');
    });
  }
  for (const table of ['inbound_messages', 'outbound_messages'] as const) {
    await db.schema.alterTable(table, (t) => {
      t.string('library_id', 32).nullable();
    });
    await db(table).update({ library_id: 'default' });
  }
  await db.schema.alterTable('patrons', (t) => {
    t.dropUnique(['card_number']);
    t.unique(['library_id', 'card_number'], { indexName: 'patrons_library_card_idx' });
  });
  await db.schema.alterTable('items', (t) => {
    t.dropUnique(['barcode']);
    t.unique(['library_id', 'barcode'], { indexName: 'items_library_barcode_idx' });
  });
  // The operators' lists of one library, newest first.
  await db.schema.alterTable('outbound_messages', (t) => {
    t.index(['library_id', 'id'], 'outbound_library_idx');
  });
  await db.schema.alterTable('inbound_messages', (t) => {
    t.index(['library_id', 'id'], 'inbound_library_idx');
  });
  await db.schema.alterTable('notices', (t) => {
    t.index(['library_id', 'received_at'], 'notices_library_idx');
  });

  // Rebuilt under the same names: SQLite cannot change a primary key in place.
  await db.schema.renameTable('sms_opt_outs', 'sms_opt_outs_before_libraries');
  await db.schema.createTable('sms_opt_outs', (t) => {
    t.string('mobile', 20).notNullable();
    // A library's id, or `*`: every library on the short code (a STOP before there were several).
    t.string('library_id', 32).notNullable().defaultTo('*');
    t.string('source', 16).notNullable();
    t.string('at', 30).notNullable();
    // Named: PostgreSQL keeps the renamed table's `sms_opt_outs_pkey` until it is dropped.
    t.primary(['mobile', 'library_id'], 'sms_opt_outs_scope_pkey');
  });
  await db.raw(`insert into sms_opt_outs (mobile, library_id, source, at) select mobile, '*', source, at from sms_opt_outs_before_libraries`);
  await db.schema.dropTable('sms_opt_outs_before_libraries');

  await db.schema.renameTable('reminder_scans', 'reminder_scans_before_libraries');
  await db.schema.createTable('reminder_scans', (t) => {
    t.string('library_id', 32).notNullable().defaultTo('default');
    t.string('scan_date', 10).notNullable();
    t.string('due_date', 10).notNullable();
    t.string('started_at', 30).notNullable();
    t.string('finished_at', 30).nullable();
    t.integer('messages').notNullable().defaultTo(0);
    t.primary(['library_id', 'scan_date'], 'reminder_scans_library_pkey');
  });
  await db.raw(
    `insert into reminder_scans (library_id, scan_date, due_date, started_at, finished_at, messages)
     select 'default', scan_date, due_date, started_at, finished_at, messages from reminder_scans_before_libraries`,
  );
  await db.schema.dropTable('reminder_scans_before_libraries');
}

export async function down(db: Knex): Promise<void> {
  await db.schema.renameTable('reminder_scans', 'reminder_scans_of_libraries');
  await db.schema.createTable('reminder_scans', (t) => {
    t.string('scan_date', 10).primary('reminder_scans_date_pkey');
    t.string('due_date', 10).notNullable();
    t.string('started_at', 30).notNullable();
    t.string('finished_at', 30).nullable();
    t.integer('messages').notNullable().defaultTo(0);
  });
  await db.raw(
    `insert into reminder_scans (scan_date, due_date, started_at, finished_at, messages)
     select scan_date, due_date, started_at, finished_at, messages from reminder_scans_of_libraries where library_id = 'default'`,
  );
  await db.schema.dropTable('reminder_scans_of_libraries');
  await db.schema.renameTable('sms_opt_outs', 'sms_opt_outs_of_libraries');
  await db.schema.createTable('sms_opt_outs', (t) => {
    t.string('mobile', 20).primary('sms_opt_outs_mobile_pkey');
    t.string('source', 16).notNullable();
    t.string('at', 30).notNullable();
  });
  await db.raw(`insert into sms_opt_outs (mobile, source, at) select mobile, min(source), min(at) from sms_opt_outs_of_libraries group by mobile`);
  await db.schema.dropTable('sms_opt_outs_of_libraries');
  await db.schema.alterTable('notices', (t) => t.dropIndex([], 'notices_library_idx'));
  await db.schema.alterTable('inbound_messages', (t) => t.dropIndex([], 'inbound_library_idx'));
  await db.schema.alterTable('outbound_messages', (t) => t.dropIndex([], 'outbound_library_idx'));
  await db.schema.alterTable('items', (t) => {
    t.dropUnique([], 'items_library_barcode_idx');
    t.unique(['barcode']);
  });
  await db.schema.alterTable('patrons', (t) => {
    t.dropUnique([], 'patrons_library_card_idx');
    t.unique(['card_number']);
  });
  for (const table of [...LIBRARY_TABLES, 'inbound_messages', 'outbound_messages']) {
    await db.schema.alterTable(table, (t) => t.dropColumn('library_id'));
  }
}
