import type { Knex } from 'knex';

/*
 * FBS (SPEC §13) records its renewals in `ils_renewals` as SIP2 does, keyed by the item
 * (`materialItemNumber`), and needs three things SIP2 has no use for, so that a rerun, or a request
 * given up, reports a loan exactly as the first answer did without asking FBS again:
 * - `loan_id`: FBS's loanId (the API's `loanId`, which renew v2 takes); null for SIP2, whose item id is the loan's id.
 * - `reason`: the refusal's reason code (`on_reserve`, `patron_blocked`, …); null for SIP2, whose refusals are all `ils_refused`.
 * - `provisional`: a renewed interlibrary loan ("med forbehold").
 *
 * FBS gives titles for interlibrary loans only; the others are the titles the library's notices
 * (SPEC §11) gave, found by the patron: `notices_patron_idx` keeps that one look-up per renew-all cheap.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('ils_renewals', (t) => {
    t.string('loan_id', 64).nullable();
    t.string('reason', 24).nullable();
    t.boolean('provisional').notNullable().defaultTo(false);
  });
  await db.schema.alterTable('notices', (t) => {
    t.index(['patron_id', 'received_at'], 'notices_patron_idx');
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('notices', (t) => t.dropIndex([], 'notices_patron_idx'));
  await db.schema.alterTable('ils_renewals', (t) => {
    t.dropColumn('provisional');
    t.dropColumn('reason');
    t.dropColumn('loan_id');
  });
}
