import type { Knex } from 'knex';

/*
 * Results of renewals made in the library's own system (SPEC §10) live beside the embedded ones:
 * a SIP2 item is no row of forny's `loans`, its due dates may be the system's own text, and its
 * refusal comes with the system's words. So `renewal_results` no longer requires a loan of its own
 * tables, keeps the item, the title and the system's message, and may lack an old due date.
 * A renew-all that could not be done is `failed` (SPEC §4); an operator's retry starts its give-up
 * time again from `retried_at`.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('renewal_results', (t) => {
    t.dropForeign(['loan_id']);
  });
  await db.schema.alterTable('renewal_results', (t) => {
    t.string('loan_id', 128).notNullable().alter();
    t.string('old_due_date', 64).nullable().alter();
    t.string('new_due_date', 64).nullable().alter();
    t.string('item_id', 128).nullable();
    t.string('title', 500).nullable();
    t.text('system_message').nullable();
  });
  await db.schema.alterTable('inbound_messages', (t) => {
    t.string('retried_at', 30).nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('inbound_messages', (t) => {
    t.dropColumn('retried_at');
  });
  await db.schema.alterTable('renewal_results', (t) => {
    t.dropColumn('system_message');
    t.dropColumn('title');
    t.dropColumn('item_id');
  });
}
