import { OUTBOUND_KINDS, UNFINISHED, type OutboundKind } from '../../src/domain/message-status.js';
import { toCount, toStoredInstant, type Db } from './values.js';

/** The SMS still to leave, for the overview's "Kø af SMS" and GET /api/backlog. */

export interface BacklogCount {
  /** The library it speaks for; null for the gateway's own answers (SPEC §12). */
  readonly library: string | null;
  readonly kind: OutboundKind;
  /** Its send time has come (send_after <= now): it leaves as fast as the shared rate lets it. */
  readonly dueNow: number;
  /** It waits for its send time: the send window to open, mostly. */
  readonly waitingForWindow: number;
}

/**
 * Unsent SMS (UNFINISHED statuses) by library and kind, each split into due now and waiting, in one
 * query. It reads the unsent rows only, on `outbound_status_idx` (status, channel, send_after),
 * never the sent history. Of one library when `library` is given (its rows only, not the gateway's
 * own answers): narrowed here, not in the WHERE, where a library's equality would lead SQLite
 * (with no statistics) to walk `outbound_kind_status_idx` (channel, kind, status) over every SMS
 * ever sent to save itself the sort of a few groups.
 */
export async function smsBacklogCounts(db: Db, now: Date, library?: string): Promise<BacklogCount[]> {
  const at = toStoredInstant(now);
  const rows = await db('outbound_messages')
    .whereIn('status', UNFINISHED)
    .andWhere('channel', 'sms')
    .groupBy('library_id', 'kind')
    .select<{ library_id: string | null; kind: string; due: unknown; waiting: unknown }[]>(
      'library_id',
      'kind',
      db.raw('sum(case when send_after <= ? then 1 else 0 end) as due', [at]),
      db.raw('sum(case when send_after > ? then 1 else 0 end) as waiting', [at]),
    );
  return rows
    .filter((row) => (library === undefined || row.library_id === library) && (OUTBOUND_KINDS as readonly string[]).includes(row.kind))
    .map((row) => ({ library: row.library_id, kind: row.kind as OutboundKind, dueNow: toCount(row.due), waitingForWindow: toCount(row.waiting) }));
}

/**
 * SMS that left forny in (`from`, `to`], whatever receipts have said of them since (a message
 * delivered a second after it left was sent all the same): the rate the outbox is sending at now.
 * The WHERE holds the instants only, so both databases read the minute on `outbound_sent_at_idx`
 * (sent_at, rows that have one); channel and library are counted from those rows, not filtered
 * (an equality on either would let SQLite choose an index over every SMS or message instead).
 */
export async function countSmsSentBetween(db: Db, from: Date, to: Date, library?: string): Promise<number> {
  const ofLibrary = library === undefined ? '' : ' and library_id = ?';
  const row = await db('outbound_messages')
    .whereNotNull('sent_at')
    .andWhere('sent_at', '>', toStoredInstant(from))
    .andWhere('sent_at', '<=', toStoredInstant(to))
    .first<{ n: unknown } | undefined>(db.raw(`sum(case when channel = 'sms'${ofLibrary} then 1 else 0 end) as n`, library === undefined ? [] : [library]));
  return toCount(row?.n);
}
