import type { Knex } from 'knex';

/*
 * Why a message was superseded, as a code (src/domain/message-status.ts SUPERSEDE_REASONS) instead of
 * English text in `error_message`, which the dashboard had to match word for word. An operator's
 * cancel keeps the operator's name in `cancelled_by` and the message's last error where it was.
 * Rows written before this carry their reason as text: each known text becomes its code.
 */
const FROM_TEXT: ReadonlyArray<readonly [string, string]> = [
  ['folded into a later renew-all reply', 'folded_into_later_reply'],
  ['every loan it names was renewed or returned', 'loans_settled'],
  ['patron opted out of SMS', 'patron_sms_opt_out'],
  ['patron opted out (STOP)', 'stop_from_patron'],
  ['number opted out (STOP)', 'stop_from_number'],
];
const CANCELLED_PREFIX = 'cancelled by operator ';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('outbound_messages', (t) => {
    t.string('superseded_reason', 32).nullable();
    t.string('cancelled_by', 64).nullable();
  });
  for (const [text, code] of FROM_TEXT) {
    await db('outbound_messages').where({ status: 'superseded', error_message: text }).update({ superseded_reason: code, error_message: null });
  }
  const cancelled = await db('outbound_messages').where('status', 'superseded').andWhere('error_message', 'like', `${CANCELLED_PREFIX}%`).select('id', 'error_message');
  for (const row of cancelled as { id: number; error_message: string }[]) {
    await db('outbound_messages')
      .where({ id: row.id })
      .update({ superseded_reason: 'cancelled_by_operator', cancelled_by: row.error_message.slice(CANCELLED_PREFIX.length, CANCELLED_PREFIX.length + 64), error_message: null });
  }
}

export async function down(db: Knex): Promise<void> {
  for (const [text, code] of FROM_TEXT) {
    await db('outbound_messages').where({ superseded_reason: code }).update({ error_message: text });
  }
  const cancelled = await db('outbound_messages').where({ superseded_reason: 'cancelled_by_operator' }).select('id', 'cancelled_by');
  for (const row of cancelled as { id: number; cancelled_by: string | null }[]) {
    await db('outbound_messages').where({ id: row.id }).update({ error_message: `${CANCELLED_PREFIX}${row.cancelled_by ?? ''}` });
  }
  await db.schema.alterTable('outbound_messages', (t) => {
    t.dropColumn('cancelled_by');
    t.dropColumn('superseded_reason');
  });
}
