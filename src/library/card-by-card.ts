import { ilsChargedCount, listIlsRenewals, type IlsRenewal } from '../../db/repositories/ils-renewals.js';
import type { Patron } from '../../db/repositories/library.js';
import type { NewRenewalResult } from '../../db/repositories/renewals.js';
import type { Db } from '../../db/repositories/values.js';
import type { RenewAllProgress, RenewAllReport } from './library-system.js';

/*
 * The two halves of the port that a system outside forny's database (SIP2, FBS) does the same way:
 * a request is asked card by card, and each card's records in `ils_renewals` say what was done.
 */

/** What one card of the request came to at the system: unknown there, or its loans' outcomes. */
export type CardReport<Loan extends { readonly itemId: string }> = { readonly patronKnown: false } | { readonly patronKnown: true; readonly loans: readonly Loan[] };

/**
 * Renews card by card and makes one report of the cards': the request's patron is known when any
 * card is, and an item is reported once, by the first card that reported it (a row recorded before
 * cards were, or an item moved between cards, is read with more than one).
 */
export async function renewCardByCard<Loan extends { readonly itemId: string }>(
  patrons: readonly Patron[],
  renewCard: (patron: Patron) => Promise<CardReport<Loan>>,
  resultOf: (patron: Patron, loan: Loan) => NewRenewalResult,
): Promise<RenewAllReport> {
  let patronKnown = false;
  const results: NewRenewalResult[] = [];
  const reported = new Set<string>();
  for (const patron of patrons) {
    const report = await renewCard(patron);
    if (!report.patronKnown) continue;
    patronKnown = true;
    for (const loan of report.loans) {
      if (reported.has(loan.itemId)) continue;
      reported.add(loan.itemId);
      results.push(resultOf(patron, loan));
    }
  }
  return { patronKnown, results };
}

/**
 * `doneSoFar` from `ils_renewals` only, asking the system nothing (it may be why the request is
 * given up): each card's finished items, once each, and the total as far as the system had listed
 * it. An intent with no outcome had no answer and is not counted as renewed.
 */
export async function doneSoFarFromRecords(
  db: Db,
  inboundId: number,
  patrons: readonly Patron[],
  resultOf: (patron: Patron, row: IlsRenewal) => NewRenewalResult,
): Promise<RenewAllProgress> {
  const results: NewRenewalResult[] = [];
  const counted = new Set<string>();
  let total = 0;
  for (const patron of patrons) {
    const [listed, rows] = await Promise.all([ilsChargedCount(db, inboundId, patron.cardNumber), listIlsRenewals(db, inboundId, patron.cardNumber)]);
    const items = rows.filter((row) => !counted.has(row.itemId));
    for (const row of items) {
      counted.add(row.itemId);
      if (row.outcome !== null) results.push(resultOf(patron, row));
    }
    // Items finished and since returned are not in the listing's count, yet were part of the request.
    total += Math.max(listed ?? 0, items.length);
  }
  return { results, total };
}
