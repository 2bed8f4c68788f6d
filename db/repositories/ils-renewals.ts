import type { IlsRenewalRow } from '../tables.js';
import type { RenewalReason } from './renewals.js';
import { toBool, toStoredInstant, touched, type Db } from './values.js';

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
  /** The system's own loan id when it differs from the item id (FBS's loanId); null for SIP2. */
  readonly loanId: string | null;
  /** A refusal's reason code when the system gives one (FBS); null means `ils_refused`. */
  readonly reason: RenewalReason | null;
  /** Renewed provisionally (an FBS interlibrary loan). */
  readonly provisional: boolean;
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
  loanId: row.loan_id ?? null,
  reason: (row.reason ?? null) as RenewalReason | null,
  provisional: toBool(row.provisional),
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

/** What an FBS-style system records per loan: the item, its own loan id, and for a loan decided without asking, the outcome. */
export interface IlsIntent {
  readonly inboundId: number;
  readonly cardNumber: string;
  readonly itemId: string;
  readonly loanId: string | null;
  readonly title: string | null;
  readonly oldDueDate: string | null;
  /** Set for a loan refused from the listing without a renew call: recorded finished at once. */
  readonly decided?: IlsResult;
}

/** An outcome as recorded: SIP2's two fields, and FBS's reason and provisional mark. */
export interface IlsResult {
  readonly outcome: IlsRenewalOutcome;
  readonly newDueDate: string | null;
  readonly systemMessage: string | null;
  readonly title?: string | null;
  readonly reason?: RenewalReason | null;
  readonly provisional?: boolean;
}

/**
 * Records many intents in one statement (one renew call covers them all), committed before the call
 * leaves, as recordIlsIntent does for one. The unique key (inbound_id, item_id) makes a second
 * intent for the same item and request fail loudly.
 */
export async function recordIlsIntents(db: Db, intents: readonly IlsIntent[], now: Date): Promise<void> {
  const stamp = toStoredInstant(now);
  const rows = intents.map((intent) => ({
    inbound_id: intent.inboundId,
    item_id: intent.itemId,
    card_number: intent.cardNumber,
    loan_id: intent.loanId,
    title: intent.title,
    old_due_date: intent.oldDueDate,
    intended_at: stamp,
    ...(intent.decided ? outcomeColumns(intent.decided, stamp) : {}),
  }));
  // Chunked: SQLite caps the number of bound parameters in one statement.
  for (let start = 0; start < rows.length; start += 50) await db('ils_renewals').insert(rows.slice(start, start + 50));
}

/** Records the answers of one renew call, together: one commit instead of one per loan. */
export async function recordIlsOutcomes(db: Db, outcomes: readonly { readonly itemId: string; readonly result: IlsResult }[], inboundId: number, now: Date): Promise<void> {
  if (outcomes.length === 0) return;
  const stamp = toStoredInstant(now);
  const write = async (trx: Db) => {
    for (const { itemId, result } of outcomes) {
      await trx('ils_renewals').where({ inbound_id: inboundId, item_id: itemId }).whereNull('outcome').update(outcomeColumns(result, stamp));
    }
  };
  // Inside a caller's transaction, its writes already commit together.
  if (db.isTransaction) await write(db);
  else await db.transaction(write);
}

/** Marks many intents sent again under the same intents (see restampIlsIntent). */
export async function restampIlsIntents(db: Db, inboundId: number, itemIds: readonly string[], now: Date): Promise<void> {
  if (itemIds.length === 0) return;
  await db('ils_renewals').where({ inbound_id: inboundId }).whereIn('item_id', [...itemIds]).whereNull('outcome').update({ intended_at: toStoredInstant(now) });
}

/** Takes back intents whose call never left. */
export async function withdrawIlsIntents(db: Db, inboundId: number, itemIds: readonly string[]): Promise<void> {
  if (itemIds.length === 0) return;
  await db('ils_renewals').where({ inbound_id: inboundId }).whereIn('item_id', [...itemIds]).whereNull('outcome').delete();
}

function outcomeColumns(result: IlsResult, stamp: string) {
  return {
    outcome: result.outcome,
    new_due_date: result.newDueDate,
    system_message: result.systemMessage,
    ...(result.title === undefined || result.title === null ? {} : { title: result.title }),
    ...(result.reason === undefined ? {} : { reason: result.reason }),
    ...(result.provisional === undefined ? {} : { provisional: result.provisional }),
    finished_at: stamp,
  };
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
