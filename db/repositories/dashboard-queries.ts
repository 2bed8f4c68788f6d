import { FAILED_STATUSES, isGiveUpCause, type GiveUpCause } from '../../src/domain/message-status.js';
import { toOutbound, type OutboundMessage } from './outbound.js';
import type { RenewalOutcome, RenewalReason } from './renewals.js';
import type { DbBool } from '../tables.js';
import { toBool, toCount, type Db, inLibrary } from './values.js';

/** The rows the operators' dashboard lists; plain rows, newest first unless said otherwise. */

export interface RenewAllSummary {
  readonly inboundId: number;
  readonly messageSid: string;
  readonly from: string;
  readonly patronName: string | null;
  readonly receivedAt: string;
  /** When it was handled or given up, and when an operator last retried it (the Fejl page's times). */
  readonly processedAt: string | null;
  readonly retriedAt: string | null;
  readonly giveUpCause: GiveUpCause | null;
  readonly status: string;
  readonly ignoredReason: string | null;
  readonly loans: number;
  readonly renewed: number;
  readonly replyStatus: string | null;
  /** Why the reply was written (`renew-all`, `renew-all-failed`, `not-linked`), or null without one. */
  readonly replyPurpose: string | null;
  /** The library the request is about (SPEC §12); null for one no library's directory held. */
  readonly libraryId: string | null;
}

/** A renew-all request joined with its patron's name and its reply's status (absent without a patron or reply). */
interface RenewAllRow {
  id: number;
  message_sid: string;
  from_number: string;
  received_at: string;
  processed_at: string | null;
  retried_at: string | null;
  give_up_cause: string | null;
  status: string;
  ignored_reason: string | null;
  patron_name: string | null;
  reply_status: string | null;
  reply_purpose: string | null;
  library_id: string | null;
}

/** Renew-all requests, newest first, each with how many loans it renewed and where its reply is. */
export async function recentRenewAlls(db: Db, page: { limit: number; offset: number; library?: string | undefined }): Promise<RenewAllSummary[]> {
  const rows = await db('inbound_messages as i')
    .leftJoin('patrons as p', 'p.id', 'i.patron_id')
    .leftJoin('outbound_messages as o', 'o.id', 'i.reply_id')
    .where('i.command', 'renew-all')
    .where(inLibrary(page.library, 'i.library_id'))
    .orderBy('i.id', 'desc')
    .limit(page.limit)
    .offset(page.offset)
    .select<RenewAllRow[]>('i.id', 'i.message_sid', 'i.from_number', 'i.received_at', 'i.processed_at', 'i.retried_at', 'i.give_up_cause', 'i.status', 'i.ignored_reason', 'p.name as patron_name', 'o.status as reply_status', 'o.purpose as reply_purpose', 'i.library_id');
  const ids = rows.map((row) => Number(row.id));
  const counts = ids.length
    ? await db('renewal_results')
        .whereIn('inbound_id', ids)
        .groupBy('inbound_id')
        .select<{ inbound_id: number; loans: unknown; renewed: unknown }[]>('inbound_id', db.raw('count(*) as loans'), db.raw("sum(case when outcome = 'renewed' then 1 else 0 end) as renewed"))
    : [];
  const byInbound = new Map(counts.map((row) => [Number(row.inbound_id), { loans: toCount(row.loans), renewed: toCount(row.renewed) }]));
  return rows.map((row) => ({
    inboundId: Number(row.id),
    messageSid: row.message_sid,
    from: row.from_number,
    patronName: row.patron_name ?? null,
    receivedAt: row.received_at,
    processedAt: row.processed_at,
    retriedAt: row.retried_at,
    giveUpCause: isGiveUpCause(row.give_up_cause) ? row.give_up_cause : null,
    status: row.status,
    ignoredReason: row.ignored_reason,
    loans: byInbound.get(Number(row.id))?.loans ?? 0,
    renewed: byInbound.get(Number(row.id))?.renewed ?? 0,
    replyStatus: row.reply_status ?? null,
    replyPurpose: row.reply_purpose ?? null,
    libraryId: row.library_id ?? null,
  }));
}

/** One loan's result within a renew-all, with the title a patron would recognise. */
export interface RenewalLine {
  readonly inboundId: number;
  readonly loanId: string;
  readonly title: string;
  /** The embedded loan's kind; null for a loan in the library's own system. */
  readonly loanKind: string | null;
  readonly outcome: RenewalOutcome;
  readonly reason: RenewalReason | null;
  /** The library system's own words (SIP2 `AF`), or null. */
  readonly systemMessage: string | null;
  readonly oldDueDate: string | null;
  readonly newDueDate: string | null;
  readonly provisional: boolean;
}

/** A renewal result with its title and, in the embedded mode, its loan's kind. */
interface RenewalLineRow {
  inbound_id: number;
  loan_id: string;
  item_id: string | null;
  stored_title: string | null;
  loan_title: string | null;
  kind: string | null;
  outcome: string;
  reason: string | null;
  system_message: string | null;
  old_due_date: string | null;
  new_due_date: string | null;
  provisional: DbBool;
}

/**
 * The per-loan results of these renew-alls, in the order they were decided. A result from the
 * library's own system (SIP2) has no loan in forny's tables: left joins, and the title and the
 * system's words stored with the result.
 */
export async function renewalLines(db: Db, inboundIds: readonly number[]): Promise<RenewalLine[]> {
  if (inboundIds.length === 0) return [];
  const rows = await db('renewal_results as r')
    .leftJoin('loans as l', 'l.id', 'r.loan_id')
    .leftJoin('items as i', 'i.id', 'l.item_id')
    .leftJoin('titles as t', 't.id', 'i.title_id')
    .whereIn('r.inbound_id', inboundIds)
    .orderBy('r.id')
    .select<RenewalLineRow[]>(
      'r.inbound_id',
      'r.loan_id',
      'r.item_id',
      'r.title as stored_title',
      't.title as loan_title',
      'l.kind',
      'r.outcome',
      'r.reason',
      'r.system_message',
      'r.old_due_date',
      'r.new_due_date',
      'r.provisional',
    );
  return rows.map((row) => ({
    inboundId: Number(row.inbound_id),
    loanId: row.loan_id,
    // A system that gave no title (empty AJ; FBS for all but interlibrary loans, when no notice
    // named it) is still shown by its item id (FBS's materialItemNumber, not its loanId).
    title: row.stored_title || row.loan_title || row.item_id || row.loan_id,
    loanKind: row.kind,
    outcome: row.outcome as RenewalOutcome,
    reason: row.reason as RenewalReason | null,
    systemMessage: row.system_message,
    oldDueDate: row.old_due_date,
    newDueDate: row.new_due_date,
    provisional: toBool(row.provisional),
  }));
}

/** Messages that did not reach the patron (failed at sending or undelivered by the carrier). */
export async function failedMessages(db: Db, limit: number, library?: string): Promise<OutboundMessage[]> {
  const rows = await db('outbound_messages')
    .whereIn('status', FAILED_STATUSES)
    .where(inLibrary(library))
    .orderBy('id', 'desc')
    .limit(limit);
  return rows.map(toOutbound);
}

/** Messages where a send attempt died mid-call: the patron may have got them twice. */
export async function uncertainMessages(db: Db, limit: number, library?: string): Promise<OutboundMessage[]> {
  const rows = await db('outbound_messages')
    .where('outcome_uncertain', true)
    .where(inLibrary(library))
    .orderBy('id', 'desc')
    .limit(limit);
  return rows.map(toOutbound);
}

/** Patrons' names by mobile number, for showing a name beside a number (several patrons may share one); of one library's directory when `library` is given. */
export async function patronNamesByMobile(db: Db, numbers: readonly string[], library?: string): Promise<Map<string, string>> {
  const unique = [...new Set(numbers)];
  if (unique.length === 0) return new Map();
  const rows: { mobile: string; name: string }[] = await db('patrons')
    .whereIn('mobile', unique)
    .where(inLibrary(library))
    .orderBy('id')
    .select('mobile', 'name');
  const names = new Map<string, string[]>();
  for (const row of rows) names.set(row.mobile, [...(names.get(row.mobile) ?? []), row.name]);
  return new Map([...names].map(([mobile, list]) => [mobile, list.join(', ')]));
}

/** The current status of each outbound message, by id (messages that no longer exist are absent). */
export async function outboundStatuses(db: Db, ids: readonly number[]): Promise<Map<number, string>> {
  if (ids.length === 0) return new Map();
  const rows: { id: number | string; status: string }[] = await db('outbound_messages').whereIn('id', [...new Set(ids)]).select('id', 'status');
  return new Map(rows.map((row) => [Number(row.id), row.status]));
}
