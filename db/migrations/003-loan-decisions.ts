import type { Knex } from 'knex';

/*
 * The owning library's decisions on an interlibrary loan (SPEC §2, rules 2 and 3): once it has
 * recalled the loan or refused its last renewal, no renew-all renews it again. The day of the
 * decision is kept (library calendar, `YYYY-MM-DD` as elsewhere), so the dashboard and support can
 * say when; null means no such decision.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('loans', (t) => {
    t.string('recalled_on', 10).nullable();
    t.string('ill_refused_on', 10).nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('loans', (t) => {
    t.dropColumn('ill_refused_on');
    t.dropColumn('recalled_on');
  });
}
