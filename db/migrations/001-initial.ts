import type { Knex } from 'knex';

/*
 * Conventions, so SQLite and PostgreSQL behave the same:
 * - calendar dates are `YYYY-MM-DD` text (a due date is a date, not an instant);
 * - instants are ISO 8601 UTC text with milliseconds (`2026-11-29T07:45:00.000Z`), written by the
 *   application clock, so they sort as text and FAKE_NOW governs them too;
 * - library records keep the library's own string ids; messages get integer ids.
 */
const instant = (table: Knex.CreateTableBuilder, name: string) => table.string(name, 30);
const date = (table: Knex.CreateTableBuilder, name: string) => table.string(name, 10);

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('patrons', (t) => {
    t.string('id', 64).primary();
    t.string('card_number', 32).notNullable().unique();
    t.string('name', 200).notNullable();
    t.string('mobile', 20).nullable().index('patrons_mobile_idx');
    t.boolean('sms_opt_in').notNullable().defaultTo(false);
    t.string('email', 254).nullable();
    t.boolean('email_opt_in').notNullable().defaultTo(false);
    instant(t, 'created_at').notNullable();
    instant(t, 'updated_at').notNullable();
  });

  await db.schema.createTable('titles', (t) => {
    t.string('id', 64).primary();
    t.string('title', 500).notNullable();
    t.boolean('renewable').notNullable().defaultTo(true);
  });

  await db.schema.createTable('items', (t) => {
    t.string('id', 64).primary();
    t.string('title_id', 64).notNullable().references('titles.id').index('items_title_idx');
    t.string('barcode', 64).notNullable().unique();
    t.boolean('renewable').notNullable().defaultTo(true);
  });

  await db.schema.createTable('loans', (t) => {
    t.string('id', 64).primary();
    t.string('patron_id', 64).notNullable().references('patrons.id').index('loans_patron_idx');
    t.string('item_id', 64).notNullable().references('items.id').index('loans_item_idx');
    t.string('kind', 16).notNullable();
    t.integer('loan_period_days').notNullable();
    date(t, 'borrowed_on').notNullable();
    date(t, 'due_date').notNullable();
    t.integer('renewals').notNullable().defaultTo(0);
    t.string('owning_library', 200).nullable();
    date(t, 'returned_on').nullable();
    // An interlibrary renewal awaits the owning library; previous_due_date is what a refusal restores.
    t.boolean('provisional').notNullable().defaultTo(false);
    date(t, 'previous_due_date').nullable();
    instant(t, 'updated_at').notNullable();
  });
  // The reminder scan reads active loans by due date: its cost follows the loans due that day.
  await db.schema.alterTable('loans', (t) => {
    t.index(['due_date', 'patron_id'], 'loans_active_due_idx', { predicate: db.whereNull('returned_on') });
  });

  await db.schema.createTable('reservations', (t) => {
    t.string('id', 64).primary();
    t.string('patron_id', 64).notNullable().references('patrons.id');
    t.string('title_id', 64).notNullable().references('titles.id');
    instant(t, 'created_at').notNullable();
    t.index(['title_id', 'patron_id'], 'reservations_title_idx');
  });

  await db.schema.createTable('inbound_messages', (t) => {
    t.increments('id').primary();
    // Twilio retries webhooks: the claim on MessageSid is what makes a retry change nothing.
    t.string('message_sid', 64).notNullable().unique();
    t.string('account_sid', 64).nullable();
    t.string('from_number', 64).notNullable();
    t.string('to_number', 64).notNullable();
    t.text('body').notNullable();
    t.string('command', 16).notNullable();
    t.string('status', 16).notNullable();
    t.string('ignored_reason', 32).nullable();
    t.string('patron_id', 64).nullable().references('patrons.id');
    t.integer('reply_id').nullable();
    instant(t, 'received_at').notNullable();
    instant(t, 'processed_at').nullable();
    t.index(['status'], 'inbound_status_idx');
    t.index(['from_number', 'received_at'], 'inbound_from_idx');
    t.index(['reply_id'], 'inbound_reply_idx');
  });

  await db.schema.createTable('renewal_results', (t) => {
    t.increments('id').primary();
    t.integer('inbound_id').nullable().references('inbound_messages.id');
    t.string('loan_id', 64).notNullable().references('loans.id');
    t.string('patron_id', 64).notNullable().references('patrons.id');
    t.string('outcome', 16).notNullable();
    t.string('reason', 24).nullable();
    date(t, 'old_due_date').notNullable();
    date(t, 'new_due_date').nullable();
    t.boolean('provisional').notNullable().defaultTo(false);
    instant(t, 'created_at').notNullable();
    // One result per loan and request: a renew-all that runs twice cannot renew twice.
    t.unique(['inbound_id', 'loan_id'], { indexName: 'renewal_results_once_idx' });
    t.index(['loan_id', 'id'], 'renewal_results_loan_idx');
    t.index(['created_at'], 'renewal_results_created_idx');
  });

  await db.schema.createTable('outbound_messages', (t) => {
    t.increments('id').primary();
    t.string('channel', 8).notNullable();
    t.string('kind', 16).notNullable();
    // Finer than kind: renew-all, help, not-linked, stop, start, reminder, ill-refused, ill-recalled.
    t.string('purpose', 24).notNullable();
    t.string('patron_id', 64).nullable().references('patrons.id');
    t.integer('inbound_id').nullable().references('inbound_messages.id');
    t.string('to_address', 254).notNullable();
    t.string('from_address', 254).notNullable();
    t.string('subject', 300).nullable();
    t.text('body').notNullable();
    t.text('html').nullable();
    t.string('status', 16).notNullable();
    instant(t, 'send_after').notNullable();
    // One message per cause (a reply per request, a reminder per patron, due date and channel).
    t.string('dedupe_key', 200).nullable().unique();
    t.string('provider_sid', 64).nullable().unique();
    t.integer('attempts').notNullable().defaultTo(0);
    // Set just before the provider is called, cleared when the call's outcome is known: if a send
    // finds it set, the previous attempt died mid-call and the patron may get the message twice.
    instant(t, 'send_started_at').nullable();
    t.boolean('outcome_uncertain').notNullable().defaultTo(false);
    instant(t, 'sent_at').nullable();
    instant(t, 'status_at').nullable();
    t.string('error_code', 16).nullable();
    t.string('error_message', 500).nullable();
    t.integer('superseded_by').nullable();
    instant(t, 'created_at').notNullable();
    instant(t, 'updated_at').notNullable();
    t.index(['status', 'channel', 'send_after'], 'outbound_status_idx');
    t.index(['to_address', 'id'], 'outbound_to_idx');
    t.index(['patron_id', 'purpose', 'status'], 'outbound_patron_idx');
    t.index(['created_at'], 'outbound_created_idx');
  });

  // Which loans an outbound message speaks of, and their due date then: a reminder whose loans
  // were renewed or returned since is stale.
  await db.schema.createTable('outbound_loans', (t) => {
    t.integer('outbound_id').notNullable().references('outbound_messages.id');
    t.string('loan_id', 64).notNullable().references('loans.id');
    date(t, 'due_date').notNullable();
    t.primary(['outbound_id', 'loan_id']);
  });

  // Twilio sends each status at least once; (sid, status) is applied once.
  await db.schema.createTable('message_status_events', (t) => {
    t.increments('id').primary();
    t.string('provider_sid', 64).notNullable();
    t.string('status', 16).notNullable();
    t.string('error_code', 16).nullable();
    instant(t, 'received_at').notNullable();
    t.unique(['provider_sid', 'status'], { indexName: 'status_events_once_idx' });
  });

  // Per-number throttles (help text, "not linked" answer): one row per key, moved on when used.
  await db.schema.createTable('throttles', (t) => {
    t.string('key', 120).primary();
    instant(t, 'last_at').notNullable();
  });

  await db.schema.createTable('reminder_scans', (t) => {
    date(t, 'scan_date').primary();
    date(t, 'due_date').notNullable();
    instant(t, 'started_at').notNullable();
    instant(t, 'finished_at').nullable();
    t.integer('messages').notNullable().defaultTo(0);
  });

  await db.schema.createTable('audit_log', (t) => {
    t.increments('id').primary();
    instant(t, 'at').notNullable();
    t.string('actor', 100).notNullable();
    t.string('action', 50).notNullable();
    t.string('target', 100).notNullable();
    t.text('detail').nullable();
    t.index(['at'], 'audit_at_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of [
    'audit_log', 'reminder_scans', 'throttles', 'message_status_events', 'outbound_loans', 'outbound_messages',
    'renewal_results', 'inbound_messages', 'reservations', 'loans', 'items', 'titles', 'patrons',
  ]) {
    await db.schema.dropTableIfExists(table);
  }
}
