import type { CalendarDate } from '../../src/domain/calendar-date.js';
import type { DbBool, RenewalResultRow } from '../tables.js';
import type { RefusalReason } from '../../src/domain/renewal-policy.js';
import { changesOf, placeholders } from '../statement.js';
import { toBool, toStoredInstant, type Db } from './values.js';

export type RenewalOutcome = 'renewed' | 'refused';
/**
 * SPEC §2's reason codes (`ill_refused` is also recorded when the owning library turns a renewal
 * down), `ils_refused`: the library's own system said no (SPEC §10, §13), and `patron_blocked`:
 * FBS said the patron is blocked in the library system (SPEC §13).
 */
export type RenewalReason = RefusalReason | 'ils_refused' | 'patron_blocked';

export interface RenewalResult {
  readonly id: number;
  readonly inboundId: number | null;
  readonly loanId: string;
  readonly patronId: string;
  readonly outcome: RenewalOutcome;
  readonly reason: RenewalReason | null;
  /** A calendar date, or the library system's own text for it (SPEC §10); null when it gave none. */
  readonly oldDueDate: CalendarDate | string | null;
  readonly newDueDate: CalendarDate | string | null;
  readonly provisional: boolean;
  /** The library system's item id, the title it gave, and its own words (SIP2 `AB`, `AJ`, `AF`); null in the embedded mode. */
  readonly itemId: string | null;
  readonly title: string | null;
  readonly systemMessage: string | null;
  readonly createdAt: string;
}

export type NewRenewalResult = Omit<RenewalResult, 'id' | 'createdAt' | 'itemId' | 'title' | 'systemMessage'> &
  Partial<Pick<RenewalResult, 'itemId' | 'title' | 'systemMessage'>>;



const toResult = (row: RenewalResultRow): RenewalResult => ({
  id: Number(row.id),
  inboundId: row.inbound_id === null ? null : Number(row.inbound_id),
  loanId: row.loan_id,
  patronId: row.patron_id,
  outcome: row.outcome as RenewalOutcome,
  reason: row.reason as RenewalReason | null,
  // As stored: a calendar date, or the library system's own text (SPEC §10); the type says both.
  oldDueDate: row.old_due_date,
  newDueDate: row.new_due_date,
  provisional: toBool(row.provisional),
  itemId: row.item_id,
  title: row.title,
  systemMessage: row.system_message,
  createdAt: row.created_at,
});

export async function insertRenewalResults(db: Db, results: readonly NewRenewalResult[], now: Date): Promise<void> {
  if (results.length === 0) return;
  const stamp = toStoredInstant(now);
  const values = (result: NewRenewalResult) => [
    result.inboundId,
    result.loanId,
    result.patronId,
    result.outcome,
    result.reason,
    result.oldDueDate,
    result.newDueDate,
    result.provisional,
    result.itemId ?? null,
    result.title ?? null,
    result.systemMessage ?? null,
    stamp,
  ];
  // Chunked: SQLite caps the number of bound parameters in one statement.
  for (let start = 0; start < results.length; start += 50) {
    const chunk = results.slice(start, start + 50);
    const rows = chunk.map(() => `(${placeholders(RESULT_COLUMNS.length)})`).join(', ');
    await changesOf(db, `INSERT INTO renewal_results (${RESULT_COLUMNS.join(', ')}) VALUES ${rows}`, chunk.flatMap(values));
  }
}

const RESULT_COLUMNS = [
  'inbound_id', 'loan_id', 'patron_id', 'outcome', 'reason', 'old_due_date', 'new_due_date', 'provisional', 'item_id', 'title', 'system_message', 'created_at',
] as const satisfies readonly (keyof RenewalResultRow)[];

/**
 * A request's results, in order. The library's own system (SIP2) stored its item id and title with
 * each result; in the embedded mode they come from forny's own loans (left joins: a SIP2 result
 * has no loan row).
 */
export async function resultsOfInbound(db: Db, inboundId: number): Promise<RenewalResult[]> {
  const rows = await db('renewal_results as r')
    .leftJoin('loans as l', 'l.id', 'r.loan_id')
    .leftJoin('items as i', 'i.id', 'l.item_id')
    .leftJoin('titles as t', 't.id', 'i.title_id')
    .where('r.inbound_id', inboundId)
    .orderBy('r.id')
    .select<(RenewalResultRow & { loan_item_id: string | null; loan_title: string | null })[]>('r.*', 'l.item_id as loan_item_id', 't.title as loan_title');
  return rows.map((row) => ({ ...toResult(row), itemId: row.item_id ?? row.loan_item_id, title: row.title ?? row.loan_title }));
}

/**
 * The loans renewed by any of these requests, each once, that are still on loan. A renewal made in
 * the library's own system (no loan of forny's tables) counts as on loan: forny cannot see returns.
 */
export async function renewedActiveLoans(db: Db, inboundIds: readonly number[]): Promise<{ loanId: string; provisional: boolean }[]> {
  if (inboundIds.length === 0) return [];
  const rows = await db('renewal_results as r')
    .leftJoin('loans as l', 'l.id', 'r.loan_id')
    .whereIn('r.inbound_id', inboundIds)
    .andWhere('r.outcome', 'renewed')
    .whereNull('l.returned_on')
    .distinct<{ loan_id: string; provisional: DbBool | null }[]>('r.loan_id', 'l.provisional');
  const byLoan = new Map<string, boolean>();
  for (const row of rows) byLoan.set(row.loan_id, toBool(row.provisional) || (byLoan.get(row.loan_id) ?? false));
  return [...byLoan].map(([loanId, provisional]) => ({ loanId, provisional }));
}

/** The newest result for each of these loans. */
export async function lastResultsOfLoans(db: Db, loanIds: readonly string[]): Promise<Map<string, RenewalResult>> {
  const latest = new Map<string, RenewalResult>();
  if (loanIds.length === 0) return latest;
  const rows = await db<RenewalResultRow>('renewal_results')
    .whereIn('id', db('renewal_results').whereIn('loan_id', loanIds).groupBy('loan_id').max('id'))
    .orderBy('id');
  for (const row of rows) latest.set(row.loan_id, toResult(row));
  return latest;
}
