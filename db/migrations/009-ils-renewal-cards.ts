import type { Knex } from 'knex';

/*
 * A texting number may hold several cards (a parent's and a child's), each asked in turn within one
 * renew-all (SPEC §10). A rerun must find each card's earlier renewals, and only that card's: so
 * every `ils_renewals` row now says which card it renewed for. Rows written before this have none
 * (null) and are read with every card of their request; the port reports each item once.
 *
 * `ils_renewal_cards` keeps how many items the system listed as charged to each card a request
 * asked about, so a request given up part-way (SPEC §4) can tell the patron `N af M lån`: N from
 * `ils_renewals`, M from here, when the system can no longer be asked.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('ils_renewals', (t) => {
    t.string('card_number', 32).nullable();
  });
  await db.schema.createTable('ils_renewal_cards', (t) => {
    t.increments('id').primary();
    t.integer('inbound_id').notNullable().references('inbound_messages.id');
    t.string('card_number', 32).notNullable();
    // The latest listing's count of charged items (the `64`'s AU read in full).
    t.integer('charged').notNullable();
    t.string('listed_at', 30).notNullable();
    t.unique(['inbound_id', 'card_number'], { indexName: 'ils_renewal_cards_once_idx' });
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('ils_renewal_cards');
  await db.schema.alterTable('ils_renewals', (t) => {
    t.dropColumn('card_number');
  });
}
