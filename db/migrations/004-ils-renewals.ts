import type { Knex } from 'knex';

/*
 * Renewals asked of the library's own system over SIP2 (SPEC §10), one row per item and renew-all
 * request. The row is written before the Renew `29` goes out and finished when its `30` comes back,
 * so a rerun after a lost answer knows to look (Item Information) before it renews again.
 * Due dates are text: `YYYY-MM-DD`, or whatever the system wrote when it was not a SIP date.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('ils_renewals', (t) => {
    t.increments('id').primary();
    t.integer('inbound_id').notNullable().references('inbound_messages.id');
    t.string('item_id', 128).notNullable();
    t.string('title', 500).nullable();
    t.string('old_due_date', 64).nullable();
    // Null while the answer is outstanding; then renewed or refused.
    t.string('outcome', 16).nullable();
    t.string('new_due_date', 64).nullable();
    t.text('system_message').nullable();
    // When the latest Renew was (about to be) sent: a run finding it recent leaves it to the run waiting for its answer.
    t.string('intended_at', 30).notNullable();
    t.string('finished_at', 30).nullable();
    // One renewal per item and SMS: the key that makes a rerun find the earlier intent.
    t.unique(['inbound_id', 'item_id'], { indexName: 'ils_renewals_once_idx' });
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('ils_renewals');
}
