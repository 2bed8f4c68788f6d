import type { Knex } from 'knex';

/*
 * Notices from the library system (SPEC §11) and per-number SMS opt-outs.
 *
 * `notices`: one row per notice id the system sent, with a hash of its normalised content, so a
 * repeat is recognised (same content: nothing new; other content: 409). The messages it wrote are
 * found by their dedupe keys (`notice:<id>:<channel>`); their ids are kept here too for the counts
 * by kind and status. `loans` is the notice's loans as JSON: the send-time stale check asks about them.
 *
 * `sms_opt_outs`: STOP belongs to the number, not to a card (SPEC §3, §11): a number that texted STOP
 * (or that Twilio reports as opted out, 21610) gets no reminder or notice until it texts START,
 * whatever a notice's `smsOptIn` says.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('notices', (t) => {
    t.string('id', 128).primary();
    t.string('kind', 32).notNullable();
    t.string('card_number', 32).notNullable();
    t.string('patron_id', 64).notNullable().references('patrons.id');
    t.string('content_hash', 64).notNullable();
    t.text('loans').notNullable();
    // Indexed: every reminder SMS asks, just before it leaves, whether a notice wrote it.
    t.integer('sms_message_id').nullable().references('outbound_messages.id').index('notices_sms_message_idx');
    t.integer('email_message_id').nullable().references('outbound_messages.id');
    t.string('received_at', 30).notNullable().index('notices_received_idx');
  });
  await db.schema.createTable('sms_opt_outs', (t) => {
    t.string('mobile', 20).primary();
    // `stop` (the patron's own message) or `21610` (Twilio: the handset has blocked the sender).
    t.string('source', 16).notNullable();
    t.string('at', 30).notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('sms_opt_outs');
  await db.schema.dropTable('notices');
}
