import type { Channel } from '../../src/domain/message-status.js';
import { toCount, toStoredInstant, type Db, inLibrary } from './values.js';

/** Aggregates over the message tables, for the dashboard's overview and the metrics. */

export interface OutboundTotals {
  readonly channel: 'sms' | 'email';
  /** Left forny in the period (whatever happened to them later). */
  readonly sent: number;
  /** Reported delivered in the period. */
  readonly delivered: number;
  /** Given up in the period: failed at sending, or reported undelivered by the carrier. */
  readonly failed: number;
}

/** What left, arrived and failed between `from` (inclusive) and `to` (exclusive), per channel; of one library when `library` is given. */
export async function outboundTotalsBetween(db: Db, from: Date, to: Date, library?: string): Promise<OutboundTotals[]> {
  const [start, end] = [toStoredInstant(from), toStoredInstant(to)];
  let query = db('outbound_messages').where((q) =>
    q.where((inPeriod) => inPeriod.where('sent_at', '>=', start).andWhere('sent_at', '<', end)).orWhere((inPeriod) => inPeriod.where('status_at', '>=', start).andWhere('status_at', '<', end)),
  );
  if (library !== undefined) query = query.andWhere('library_id', library);
  const rows = await query
    .groupBy('channel')
    .select<{ channel: Channel; sent: unknown; delivered: unknown; failed: unknown }[]>(
      'channel',
      db.raw('sum(case when sent_at >= ? and sent_at < ? then 1 else 0 end) as sent', [start, end]),
      db.raw("sum(case when status = 'delivered' and status_at >= ? and status_at < ? then 1 else 0 end) as delivered", [start, end]),
      db.raw("sum(case when status in ('failed', 'undelivered') and status_at >= ? and status_at < ? then 1 else 0 end) as failed", [start, end]),
    );
  return rows.map((row) => ({ channel: row.channel, sent: toCount(row.sent), delivered: toCount(row.delivered), failed: toCount(row.failed) }));
}

export interface RenewAllTotals {
  /** `HBK FORNY ALLE` messages received. */
  readonly requests: number;
  /** Requests that renewed (or tried to renew) at least one loan. */
  readonly answered: number;
  readonly loans: number;
  readonly renewed: number;
}

/** Renew-alls received between `from` and `to`, and what their renewals came to. */
export async function renewAllTotalsBetween(db: Db, from: Date, to: Date, library?: string): Promise<RenewAllTotals> {
  const [start, end] = [toStoredInstant(from), toStoredInstant(to)];
  const requests = await db('inbound_messages')
    .where('command', 'renew-all')
    .where(inLibrary(library))
    .andWhere('received_at', '>=', start)
    .andWhere('received_at', '<', end)
    .count({ n: '*' })
    .first();
  const results = await db('renewal_results as r')
    .whereNotNull('r.inbound_id')
    .andWhere('r.created_at', '>=', start)
    .andWhere('r.created_at', '<', end)
    .where((q) => {
      if (library !== undefined) void q.whereIn('r.inbound_id', db('inbound_messages').select('id').where('library_id', library));
    })
    .first<{ answered: unknown; loans: unknown; renewed: unknown } | undefined>(
      db.raw('count(distinct inbound_id) as answered'),
      db.raw('count(*) as loans'),
      db.raw("sum(case when outcome = 'renewed' then 1 else 0 end) as renewed"),
    );
  return { requests: toCount(requests?.n), answered: toCount(results?.answered), loans: toCount(results?.loans), renewed: toCount(results?.renewed) };
}

export interface HourCount {
  /** The UTC hour, `YYYY-MM-DDTHH` (the prefix of a stored instant). */
  readonly hour: string;
  readonly count: number;
}

/**
 * Messages per hour since `from`: received (by when they arrived) and sent (by when they left).
 * Stored instants are UTC text, so the first 13 characters are the hour on both SQLite and PostgreSQL.
 */
export async function messagesPerHour(db: Db, from: Date, library?: string): Promise<{ received: HourCount[]; sent: HourCount[] }> {
  const perHour = (table: string, column: string) =>
    db(table)
      .where(column, '>=', toStoredInstant(from))
      .where(inLibrary(library))
      .groupBy('hour')
      .select<{ hour: string; n: unknown }[]>(db.raw(`substr(${column}, 1, 13) as hour`), db.raw('count(*) as n'))
      .then((rows) => rows.map((row) => ({ hour: String(row.hour), count: toCount(row.n) })));
  const [received, sent] = await Promise.all([perHour('inbound_messages', 'received_at'), perHour('outbound_messages', 'sent_at')]);
  return { received, sent };
}

export interface DueBacklog {
  /** SMS whose send time has come (the window is open) that have not left yet. */
  readonly count: number;
  /** The earliest send time among them: how long the oldest has been overdue. */
  readonly oldestSendAfter: string | null;
}

/** SMS due but not sent: right after the window opens, the night's backlog; later, a stuck queue. */
export async function dueUnsentSms(db: Db, now: Date, library?: string): Promise<DueBacklog> {
  const row = await db('outbound_messages')
    .where('channel', 'sms')
    .where(inLibrary(library))
    .whereIn('status', ['scheduled', 'queued'])
    .andWhere('send_after', '<=', toStoredInstant(now))
    .first<{ n: unknown; oldest: string | null } | undefined>(db.raw('count(*) as n'), db.raw('min(send_after) as oldest'));
  return { count: toCount(row?.n), oldestSendAfter: row?.oldest ?? null };
}

/** The `library` label of a row of no library (the gateway's own answers). */
export const NO_LIBRARY_LABEL = 'none';

export interface MessageCount {
  /** The library's id, or NO_LIBRARY_LABEL for the gateway's own messages (SPEC §12). */
  readonly library: string;
  readonly direction: 'in' | 'out';
  readonly channel: string;
  readonly kind: string;
  readonly status: string;
  readonly count: number;
}

/** Every message ever stored, by library, direction, channel, kind and status (inbound is all SMS commands). */
export async function messageCounts(db: Db): Promise<MessageCount[]> {
  const [inbound, outbound] = await Promise.all([
    db('inbound_messages').groupBy('library_id', 'status').select<{ library_id: string | null; status: string; n: unknown }[]>('library_id', 'status', db.raw('count(*) as n')),
    db('outbound_messages')
      .groupBy('library_id', 'channel', 'kind', 'status')
      .select<{ library_id: string | null; channel: string; kind: string; status: string; n: unknown }[]>('library_id', 'channel', 'kind', 'status', db.raw('count(*) as n')),
  ]);
  return [
    ...inbound.map((row) => ({ library: row.library_id ?? NO_LIBRARY_LABEL, direction: 'in' as const, channel: 'sms', kind: 'command', status: row.status, count: toCount(row.n) })),
    ...outbound.map((row) => ({ library: row.library_id ?? NO_LIBRARY_LABEL, direction: 'out' as const, channel: row.channel, kind: row.kind, status: row.status, count: toCount(row.n) })),
  ];
}

/**
 * Every renewal result, by library, outcome and reason (`null` for a renewal). A result's library is
 * its request's, or (an owning library's decision, no request) its loan's.
 */
export async function renewalResultCounts(db: Db): Promise<{ library: string; outcome: string; reason: string | null; count: number }[]> {
  const rows = await db('renewal_results as r')
    .leftJoin('inbound_messages as i', 'i.id', 'r.inbound_id')
    .leftJoin('loans as l', 'l.id', 'r.loan_id')
    .groupByRaw(`coalesce(i.library_id, l.library_id, '${NO_LIBRARY_LABEL}'), r.outcome, r.reason`)
    .select<{ library: string; outcome: string; reason: string | null; n: unknown }[]>(db.raw(`coalesce(i.library_id, l.library_id, '${NO_LIBRARY_LABEL}') as library`), 'r.outcome', 'r.reason', db.raw('count(*) as n'));
  return rows.map((row) => ({ library: String(row.library), outcome: row.outcome, reason: row.reason, count: toCount(row.n) }));
}

/**
 * Messages whose last send attempt failed with an error code (Twilio's, or the mail server's),
 * changed since `since`, by channel and code. A message sent on a later try no longer counts.
 */
export async function sendErrorCounts(db: Db, since: Date): Promise<{ channel: string; code: string; count: number }[]> {
  const rows = await db('outbound_messages')
    .whereNotNull('error_code')
    .andWhere('updated_at', '>=', toStoredInstant(since))
    .groupBy('channel', 'error_code')
    .select<{ channel: string; error_code: string; n: unknown }[]>('channel', 'error_code', db.raw('count(*) as n'));
  return rows.map((row) => ({ channel: row.channel, code: row.error_code, count: toCount(row.n) }));
}
