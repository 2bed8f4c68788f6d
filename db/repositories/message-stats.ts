import type { Channel } from '../../src/domain/message-status.js';
import { toCount, toStoredInstant, type Db } from './values.js';

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

/** What left, arrived and failed between `from` (inclusive) and `to` (exclusive), per channel. */
export async function outboundTotalsBetween(db: Db, from: Date, to: Date): Promise<OutboundTotals[]> {
  const [start, end] = [toStoredInstant(from), toStoredInstant(to)];
  const rows = await db('outbound_messages')
    .where((q) => q.where('sent_at', '>=', start).andWhere('sent_at', '<', end))
    .orWhere((q) => q.where('status_at', '>=', start).andWhere('status_at', '<', end))
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
export async function renewAllTotalsBetween(db: Db, from: Date, to: Date): Promise<RenewAllTotals> {
  const [start, end] = [toStoredInstant(from), toStoredInstant(to)];
  const requests = await db('inbound_messages')
    .where('command', 'renew-all')
    .andWhere('received_at', '>=', start)
    .andWhere('received_at', '<', end)
    .count({ n: '*' })
    .first();
  const results = await db('renewal_results')
    .whereNotNull('inbound_id')
    .andWhere('created_at', '>=', start)
    .andWhere('created_at', '<', end)
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
export async function messagesPerHour(db: Db, from: Date): Promise<{ received: HourCount[]; sent: HourCount[] }> {
  const perHour = (table: string, column: string) =>
    db(table)
      .where(column, '>=', toStoredInstant(from))
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
export async function dueUnsentSms(db: Db, now: Date): Promise<DueBacklog> {
  const row = await db('outbound_messages')
    .where('channel', 'sms')
    .whereIn('status', ['scheduled', 'queued'])
    .andWhere('send_after', '<=', toStoredInstant(now))
    .first<{ n: unknown; oldest: string | null } | undefined>(db.raw('count(*) as n'), db.raw('min(send_after) as oldest'));
  return { count: toCount(row?.n), oldestSendAfter: row?.oldest ?? null };
}

export interface MessageCount {
  readonly direction: 'in' | 'out';
  readonly channel: string;
  readonly kind: string;
  readonly status: string;
  readonly count: number;
}

/** Every message ever stored, by direction, channel, kind and status (inbound is all SMS commands). */
export async function messageCounts(db: Db): Promise<MessageCount[]> {
  const [inbound, outbound] = await Promise.all([
    db('inbound_messages').groupBy('status').select<{ status: string; n: unknown }[]>('status', db.raw('count(*) as n')),
    db('outbound_messages').groupBy('channel', 'kind', 'status').select<{ channel: string; kind: string; status: string; n: unknown }[]>('channel', 'kind', 'status', db.raw('count(*) as n')),
  ]);
  return [
    ...inbound.map((row) => ({ direction: 'in' as const, channel: 'sms', kind: 'command', status: row.status, count: toCount(row.n) })),
    ...outbound.map((row) => ({ direction: 'out' as const, channel: row.channel, kind: row.kind, status: row.status, count: toCount(row.n) })),
  ];
}

/** Every renewal result, by outcome and reason (`null` for a renewal). */
export async function renewalResultCounts(db: Db): Promise<{ outcome: string; reason: string | null; count: number }[]> {
  const rows = await db('renewal_results').groupBy('outcome', 'reason').select<{ outcome: string; reason: string | null; n: unknown }[]>('outcome', 'reason', db.raw('count(*) as n'));
  return rows.map((row) => ({ outcome: row.outcome, reason: row.reason, count: toCount(row.n) }));
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
