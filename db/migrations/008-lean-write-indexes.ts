import type { Knex } from 'knex';

/*
 * Every index is written by every insert, and an index on a column an update changes is rewritten
 * by that update. The outbox had eleven, and a renew-all's reply insert cost four times what it
 * does with these (measured on SQLite). The reads they serve stay indexed:
 * - `outbound_patron_idx` is dropped: no query looks messages up by patron.
 * - `inbound_from_idx` (from_number, received_at) is dropped: `inbound_from_command_received_idx`
 *   begins with the number too, and serves the same look-ups.
 * - The rest become partial, holding only the rows their queries ask for: errors (a row without
 *   one is never in the index), sends and receipts (a new message has neither yet), a number's
 *   waiting reply (a reply that leaves at once never enters it), and a message's answer.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('outbound_messages', (t) => {
    t.dropIndex([], 'outbound_patron_idx');
    t.dropIndex([], 'outbound_error_idx');
    t.dropIndex([], 'outbound_sent_at_idx');
    t.dropIndex([], 'outbound_status_at_idx');
    t.dropIndex([], 'outbound_to_purpose_status_idx');
  });
  await db.schema.alterTable('outbound_messages', (t) => {
    t.index(['error_code', 'updated_at'], 'outbound_error_idx', { predicate: db.whereNotNull('error_code') });
    t.index(['sent_at'], 'outbound_sent_at_idx', { predicate: db.whereNotNull('sent_at') });
    t.index(['status_at'], 'outbound_status_at_idx', { predicate: db.whereNotNull('status_at') });
    t.index(['to_address', 'purpose'], 'outbound_waiting_to_idx', { predicate: db.whereRaw("status = 'scheduled'") });
  });
  await db.schema.alterTable('inbound_messages', (t) => {
    t.dropIndex([], 'inbound_from_idx');
    t.dropIndex([], 'inbound_reply_idx');
  });
  await db.schema.alterTable('inbound_messages', (t) => {
    t.index(['reply_id'], 'inbound_reply_idx', { predicate: db.whereNotNull('reply_id') });
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('inbound_messages', (t) => t.dropIndex([], 'inbound_reply_idx'));
  await db.schema.alterTable('inbound_messages', (t) => {
    t.index(['reply_id'], 'inbound_reply_idx');
    t.index(['from_number', 'received_at'], 'inbound_from_idx');
  });
  await db.schema.alterTable('outbound_messages', (t) => {
    t.dropIndex([], 'outbound_waiting_to_idx');
    t.dropIndex([], 'outbound_status_at_idx');
    t.dropIndex([], 'outbound_sent_at_idx');
    t.dropIndex([], 'outbound_error_idx');
  });
  await db.schema.alterTable('outbound_messages', (t) => {
    t.index(['to_address', 'purpose', 'status'], 'outbound_to_purpose_status_idx');
    t.index(['status_at'], 'outbound_status_at_idx');
    t.index(['sent_at'], 'outbound_sent_at_idx');
    t.index(['error_code', 'updated_at'], 'outbound_error_idx');
    t.index(['patron_id', 'purpose', 'status'], 'outbound_patron_idx');
  });
}
