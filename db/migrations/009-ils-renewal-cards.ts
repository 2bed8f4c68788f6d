import type { Knex } from 'knex';

/*
 * A texting number may hold several cards (a parent's and a child's), each asked in turn within one
 * renew-all (SPEC §10). A rerun must find each card's earlier renewals, and only that card's: so
 * every `ils_renewals` row now says which card it renewed for. Rows written before this have none
 * (null) and are read with every card of their request; the port reports each item once.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('ils_renewals', (t) => {
    t.string('card_number', 32).nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('ils_renewals', (t) => {
    t.dropColumn('card_number');
  });
}
