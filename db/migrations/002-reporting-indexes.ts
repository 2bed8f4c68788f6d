import type { Knex } from 'knex';

/*
 * Indexes for what the dashboard and /metrics read on every page view and scrape: today's sends
 * and receipts, messages per hour, counts by status and outcome. Without them each read scans the
 * whole outbox, which grows by every message the library ever sent.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('outbound_messages', (t) => {
    t.index(['sent_at'], 'outbound_sent_at_idx');
    t.index(['status_at'], 'outbound_status_at_idx');
    t.index(['channel', 'kind', 'status'], 'outbound_kind_status_idx');
    t.index(['error_code', 'updated_at'], 'outbound_error_idx');
  });
  await db.schema.alterTable('inbound_messages', (t) => {
    t.index(['command', 'received_at'], 'inbound_command_received_idx');
    t.index(['received_at'], 'inbound_received_idx');
  });
  await db.schema.alterTable('renewal_results', (t) => {
    t.index(['outcome', 'reason'], 'renewal_results_outcome_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('renewal_results', (t) => t.dropIndex([], 'renewal_results_outcome_idx'));
  await db.schema.alterTable('inbound_messages', (t) => {
    t.dropIndex([], 'inbound_received_idx');
    t.dropIndex([], 'inbound_command_received_idx');
  });
  await db.schema.alterTable('outbound_messages', (t) => {
    t.dropIndex([], 'outbound_error_idx');
    t.dropIndex([], 'outbound_kind_status_idx');
    t.dropIndex([], 'outbound_status_at_idx');
    t.dropIndex([], 'outbound_sent_at_idx');
  });
}
