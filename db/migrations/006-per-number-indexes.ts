import type { Knex } from 'knex';

/*
 * Indexes for what every renew-all asks about its own number: the abuse limit counts the number's
 * renew-alls of the last ten minutes, and the fold looks for the number's waiting reply. Without
 * them the count walked every renew-all of the last ten minutes (all of a burst, so a burst cost
 * grew with its square) and the reply look-up every message ever sent to the number.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('inbound_messages', (t) => {
    t.index(['from_number', 'command', 'received_at'], 'inbound_from_command_received_idx');
  });
  await db.schema.alterTable('outbound_messages', (t) => {
    t.index(['to_address', 'purpose', 'status'], 'outbound_to_purpose_status_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('outbound_messages', (t) => t.dropIndex([], 'outbound_to_purpose_status_idx'));
  await db.schema.alterTable('inbound_messages', (t) => t.dropIndex([], 'inbound_from_command_received_idx'));
}
