import type { IlsRenewalRow } from '../tables.js';
import { toStoredInstant, touched, type Db } from './values.js';

export type IlsRenewalOutcome = 'renewed' | 'refused';

/** One item's renewal at the library's own system for one renew-all request (see 004-ils-renewals). */
export interface IlsRenewal {
  readonly inboundId: number;
  readonly itemId: string;
  /** The card it was renewed for (one number may hold several); null on rows from before cards were recorded. */
  readonly cardNumber: string | null;
  readonly title: string | null;
  readonly oldDueDate: string | null;
  /** Null: the Renew was (or was about to be) sent and no answer was recorded. */
  readonly outcome: IlsRenewalOutcome | null;
  readonly newDueDate: string | null;
  readonly systemMessage: string | null;
  /** When the latest Renew for it was (about to be) sent. */
  readonly intendedAt: string;
  readonly finishedAt: string | null;
}

const toOutcome = (value: string | null): IlsRenewalOutcome | null => {
  if (value === null || value === 'renewed' || value === 'refused') return value;
  throw new Error(`ils_renewals.outcome ${JSON.stringify(value)} is not renewed or refused`);
};

const toIlsRenewal = (row: IlsRenewalRow): IlsRenewal => ({
  inboundId: Number(row.inbound_id),
  itemId: row.item_id,
  cardNumber: row.card_number,
  title: row.title,
  oldDueDate: row.old_due_date,
  outcome: toOutcome(row.outcome),
  newDueDate: row.new_due_date,
  systemMessage: row.system_message,
  intendedAt: row.intended_at,
  finishedAt: row.finished_at,
});

/**
 * The items a request has touched at the system, in the order they were first tried: for one card
 * (with the rows that name no card, written before cards were recorded), or for every card.
 */
export async function listIlsRenewals(db: Db, inboundId: number, cardNumber?: string): Promise<IlsRenewal[]> {
  const query = db('ils_renewals').where({ inbound_id: inboundId });
  if (cardNumber !== undefined) query.where((q) => q.where({ card_number: cardNumber }).orWhereNull('card_number'));
  const rows = await query.orderBy('id');
  return rows.map(toIlsRenewal);
}

/**
 * Records that a Renew for this item is about to be sent. Written (and committed) before the `29`
 * leaves, so the intent survives a worker killed while the answer is on its way. The unique key
 * (inbound_id, item_id) makes a second intent for the same item and request fail loudly.
 */
export async function recordIlsIntent(
  db: Db,
  intent: { inboundId: number; cardNumber: string; itemId: string; title: string | null; oldDueDate: string | null },
  now: Date,
): Promise<void> {
  await db('ils_renewals').insert({
    inbound_id: intent.inboundId,
    item_id: intent.itemId,
    card_number: intent.cardNumber,
    title: intent.title,
    old_due_date: intent.oldDueDate,
    intended_at: toStoredInstant(now),
  });
}

/** Marks a Renew sent again under an unanswered intent, so another run sees it as in flight. */
export async function restampIlsIntent(db: Db, key: { inboundId: number; itemId: string }, now: Date): Promise<void> {
  await db('ils_renewals').where({ inbound_id: key.inboundId, item_id: key.itemId }).whereNull('outcome').update({ intended_at: toStoredInstant(now) });
}

/** Takes back an intent whose Renew was never sent (the request's give-up time came first). */
export async function withdrawIlsIntent(db: Db, key: { inboundId: number; itemId: string }): Promise<void> {
  await db('ils_renewals').where({ inbound_id: key.inboundId, item_id: key.itemId }).whereNull('outcome').delete();
}

/** Records the system's answer (or what Item Information showed) for an intent that has none yet; false if it had one. */
export async function recordIlsOutcome(
  db: Db,
  key: { inboundId: number; itemId: string },
  result: { outcome: IlsRenewalOutcome; newDueDate: string | null; systemMessage: string | null; title?: string | null },
  now: Date,
): Promise<boolean> {
  const changed = await db('ils_renewals')
    .where({ inbound_id: key.inboundId, item_id: key.itemId })
    .whereNull('outcome')
    .update({
      outcome: result.outcome,
      new_due_date: result.newDueDate,
      system_message: result.systemMessage,
      ...(result.title === undefined || result.title === null ? {} : { title: result.title }),
      finished_at: toStoredInstant(now),
    });
  return touched(changed) > 0;
}

/** Records how many items the system lists as charged to a card, for this request (the latest listing wins). */
export async function recordIlsListing(db: Db, listing: { inboundId: number; cardNumber: string; charged: number }, now: Date): Promise<void> {
  await db('ils_renewal_cards')
    .insert({ inbound_id: listing.inboundId, card_number: listing.cardNumber, charged: listing.charged, listed_at: toStoredInstant(now) })
    .onConflict(['inbound_id', 'card_number'])
    .merge(['charged', 'listed_at']);
}

/** How many items the system last listed as charged to the card for this request; null if it never listed them. */
export async function ilsChargedCount(db: Db, inboundId: number, cardNumber: string): Promise<number | null> {
  const row = await db('ils_renewal_cards').where({ inbound_id: inboundId, card_number: cardNumber }).first('charged');
  return row ? Number(row.charged) : null;
}
