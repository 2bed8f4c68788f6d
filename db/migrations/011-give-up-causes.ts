import type { Knex } from 'knex';

/*
 * Why a renew-all was given up (src/domain/message-status.ts GIVE_UP_CAUSES), stored with the
 * request when it is given up. Before, the dashboard read it back from the job's last error text,
 * which BullMQ keeps in Redis for a day and which names the cause in English words; requests given
 * up before this have none, and the dashboard still infers theirs as it did.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('inbound_messages', (t) => {
    t.string('give_up_cause', 32).nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('inbound_messages', (t) => {
    t.dropColumn('give_up_cause');
  });
}
