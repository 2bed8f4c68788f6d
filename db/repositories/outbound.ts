import type { CalendarDate } from '../../src/domain/calendar-date.js';
import { toBool, toStoredInstant, touched, type Db } from './values.js';

export type Channel = 'sms' | 'email';
export type OutboundKind = 'reply' | 'reminder' | 'notice';
export type OutboundPurpose =
  | 'renew-all'
  | 'help'
  | 'not-linked'
  | 'stop'
  | 'start'
  | 'reminder'
  | 'ill-refused'
  | 'ill-recalled';
export type OutboundStatus = 'scheduled' | 'queued' | 'sent' | 'delivered' | 'undelivered' | 'failed' | 'superseded';

/** Statuses in which a message still has to leave. */
export const UNFINISHED: readonly OutboundStatus[] = ['scheduled', 'queued'];

export interface OutboundMessage {
  readonly id: number;
  readonly channel: Channel;
  readonly kind: OutboundKind;
  readonly purpose: OutboundPurpose;
  readonly patronId: string | null;
  readonly inboundId: number | null;
  readonly to: string;
  readonly from: string;
  readonly subject: string | null;
  readonly body: string;
  readonly html: string | null;
  readonly status: OutboundStatus;
  readonly sendAfter: string;
  readonly providerSid: string | null;
  readonly attempts: number;
  readonly sendStartedAt: string | null;
  readonly outcomeUncertain: boolean;
  readonly sentAt: string | null;
  readonly statusAt: string | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  readonly supersededBy: number | null;
  readonly createdAt: string;
}

interface OutboundRecord {
  id: number;
  channel: string;
  kind: string;
  purpose: string;
  patron_id: string | null;
  inbound_id: number | null;
  to_address: string;
  from_address: string;
  subject: string | null;
  body: string;
  html: string | null;
  status: string;
  send_after: string;
  provider_sid: string | null;
  attempts: number;
  send_started_at: string | null;
  outcome_uncertain: unknown;
  sent_at: string | null;
  status_at: string | null;
  error_code: string | null;
  error_message: string | null;
  superseded_by: number | null;
  created_at: string;
}

export const toOutbound = (row: OutboundRecord): OutboundMessage => ({
  id: Number(row.id),
  channel: row.channel as Channel,
  kind: row.kind as OutboundKind,
  purpose: row.purpose as OutboundPurpose,
  patronId: row.patron_id,
  inboundId: row.inbound_id === null ? null : Number(row.inbound_id),
  to: row.to_address,
  from: row.from_address,
  subject: row.subject,
  body: row.body,
  html: row.html,
  status: row.status as OutboundStatus,
  sendAfter: row.send_after,
  providerSid: row.provider_sid,
  attempts: Number(row.attempts),
  sendStartedAt: row.send_started_at,
  outcomeUncertain: toBool(row.outcome_uncertain),
  sentAt: row.sent_at,
  statusAt: row.status_at,
  errorCode: row.error_code,
  errorMessage: row.error_message,
  supersededBy: row.superseded_by === null ? null : Number(row.superseded_by),
  createdAt: row.created_at,
});

export interface NewOutbound {
  readonly channel: Channel;
  readonly kind: OutboundKind;
  readonly purpose: OutboundPurpose;
  readonly patronId: string | null;
  readonly inboundId: number | null;
  readonly to: string;
  readonly from: string;
  readonly subject?: string;
  readonly body: string;
  readonly html?: string;
  readonly sendAfter: Date;
  /** One message per cause: a second insert with the same key stores nothing. */
  readonly dedupeKey: string | null;
}

/** Stores a message in the outbox: `queued` when it may leave now, `scheduled` when it waits. */
export async function insertOutbound(db: Db, message: NewOutbound, now: Date): Promise<{ message: OutboundMessage; inserted: boolean }> {
  const stamp = toStoredInstant(now);
  const query = db('outbound_messages').insert({
    channel: message.channel,
    kind: message.kind,
    purpose: message.purpose,
    patron_id: message.patronId,
    inbound_id: message.inboundId,
    to_address: message.to,
    from_address: message.from,
    subject: message.subject ?? null,
    body: message.body,
    html: message.html ?? null,
    status: message.sendAfter.getTime() > now.getTime() ? 'scheduled' : 'queued',
    send_after: toStoredInstant(message.sendAfter),
    dedupe_key: message.dedupeKey,
    created_at: stamp,
    updated_at: stamp,
  });
  const inserted = (await (message.dedupeKey ? query.onConflict('dedupe_key').ignore() : query).returning('*')) as OutboundRecord[];
  const row = inserted[0] ?? (await db<OutboundRecord>('outbound_messages').where('dedupe_key', message.dedupeKey ?? '').first());
  if (!row) throw new Error(`outbound message ${message.dedupeKey ?? ''} vanished after insert`);
  return { message: toOutbound(row), inserted: inserted.length > 0 };
}

export async function getOutbound(db: Db, id: number): Promise<OutboundMessage | undefined> {
  const row = await db<OutboundRecord>('outbound_messages').where({ id }).first();
  return row ? toOutbound(row) : undefined;
}

export async function getOutboundByProviderSid(db: Db, providerSid: string): Promise<OutboundMessage | undefined> {
  const row = await db<OutboundRecord>('outbound_messages').where({ provider_sid: providerSid }).first();
  return row ? toOutbound(row) : undefined;
}

export async function attachLoans(db: Db, outboundId: number, loans: readonly { loanId: string; dueDate: CalendarDate }[]): Promise<void> {
  const rows = loans.map((loan) => ({ outbound_id: outboundId, loan_id: loan.loanId, due_date: loan.dueDate }));
  for (let start = 0; start < rows.length; start += 100) {
    await db('outbound_loans').insert(rows.slice(start, start + 100)).onConflict(['outbound_id', 'loan_id']).ignore();
  }
}

/** The loans a message names that are still on loan with the due date it names. */
export async function stillDueLoans(db: Db, outboundId: number): Promise<{ loanId: string; dueDate: CalendarDate; title: string }[]> {
  const rows = await db('outbound_loans as o')
    .join('loans as l', function () {
      this.on('l.id', 'o.loan_id').andOn('l.due_date', 'o.due_date');
    })
    .join('items as i', 'i.id', 'l.item_id')
    .join('titles as t', 't.id', 'i.title_id')
    .where('o.outbound_id', outboundId)
    .whereNull('l.returned_on')
    .orderBy('l.id')
    .select('l.id', 'l.due_date', 't.title');
  return rows.map((row) => ({ loanId: row.id, dueDate: row.due_date, title: row.title }));
}

export async function countNamedLoans(db: Db, outboundId: number): Promise<number> {
  const row = await db('outbound_loans').where({ outbound_id: outboundId }).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

/**
 * Takes a message for sending: only from `scheduled` or `queued`, so a message already sent,
 * superseded or failed is never sent again. Stamps the attempt; if the previous attempt's stamp is
 * still there, that attempt died mid-call and the outcome is marked uncertain for operators.
 */
export async function claimForSending(db: Db, id: number, now: Date): Promise<OutboundMessage | undefined> {
  const changed = await db('outbound_messages')
    .where({ id })
    .whereIn('status', UNFINISHED)
    .update({
      status: 'queued',
      attempts: db.raw('attempts + 1'),
      outcome_uncertain: db.raw('case when send_started_at is null then outcome_uncertain else ? end', [true]),
      send_started_at: toStoredInstant(now),
      updated_at: toStoredInstant(now),
    });
  return touched(changed) === 1 ? getOutbound(db, id) : undefined;
}

export async function markSent(db: Db, id: number, providerSid: string, now: Date): Promise<void> {
  await db('outbound_messages').where({ id, status: 'queued' }).update({
    status: 'sent',
    provider_sid: providerSid,
    sent_at: toStoredInstant(now),
    status_at: toStoredInstant(now),
    send_started_at: null,
    error_code: null,
    error_message: null,
    updated_at: toStoredInstant(now),
  });
}

/**
 * Records a failed attempt. `final` marks the message failed for good; otherwise it stays queued
 * for the next try. `certain` says the provider surely did not take it (so no duplicate risk).
 */
export async function recordSendFailure(
  db: Db,
  id: number,
  failure: { code: string | null; message: string; final: boolean; certain: boolean },
  now: Date,
): Promise<void> {
  await db('outbound_messages')
    .where({ id })
    .whereIn('status', UNFINISHED)
    .update({
      ...(failure.final ? { status: 'failed', status_at: toStoredInstant(now) } : {}),
      ...(failure.certain || failure.final ? { send_started_at: null } : {}),
      error_code: failure.code,
      error_message: failure.message.slice(0, 500),
      updated_at: toStoredInstant(now),
    });
}

/** Puts a message back to wait for `sendAfter` (the window closed before it could leave). */
export async function reschedule(db: Db, id: number, sendAfter: Date, now: Date): Promise<void> {
  await db('outbound_messages')
    .where({ id })
    .whereIn('status', UNFINISHED)
    .update({ status: 'scheduled', send_after: toStoredInstant(sendAfter), send_started_at: null, updated_at: toStoredInstant(now) });
}

export async function updateBody(db: Db, id: number, body: string, now: Date): Promise<void> {
  await db('outbound_messages').where({ id }).whereIn('status', UNFINISHED).update({ body, updated_at: toStoredInstant(now) });
}

/** Marks a waiting message as not to be sent; true if it was still waiting. */
export async function supersede(db: Db, id: number, now: Date, detail: { by?: number; reason?: string } = {}): Promise<boolean> {
  const changed = await db('outbound_messages')
    .where({ id })
    .whereIn('status', UNFINISHED)
    .update({
      status: 'superseded',
      superseded_by: detail.by ?? null,
      error_message: detail.reason ?? null,
      status_at: toStoredInstant(now),
      send_started_at: null,
      updated_at: toStoredInstant(now),
    });
  return touched(changed) === 1;
}

/** Only messages that have not left may be superseded by an operator or a fold; this one is still `scheduled`. */
export async function findWaitingRenewAllReply(db: Db, to: string): Promise<OutboundMessage | undefined> {
  const row = await db<OutboundRecord>('outbound_messages')
    .where({ channel: 'sms', to_address: to, purpose: 'renew-all', status: 'scheduled' })
    .orderBy('id', 'desc')
    .first();
  return row ? toOutbound(row) : undefined;
}

/** Waiting SMS reminders to a number (superseded when its patron texts STOP). */
export async function waitingReminderIds(db: Db, to: string): Promise<number[]> {
  const rows = await db('outbound_messages').where({ channel: 'sms', to_address: to, kind: 'reminder' }).whereIn('status', UNFINISHED).select('id');
  return rows.map((row) => Number(row.id));
}

/** Replies written to a number since `since` (the guard against reply loops). */
export async function countRepliesTo(db: Db, to: string, since: Date): Promise<number> {
  const row = await db('outbound_messages')
    .where({ to_address: to, kind: 'reply' })
    .andWhere('created_at', '>=', toStoredInstant(since))
    .count({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/** Unfinished messages after `afterId`, oldest first (reconciliation walks them in pages). */
export async function listUnfinishedOutbound(db: Db, afterId: number, limit: number): Promise<OutboundMessage[]> {
  const rows = await db<OutboundRecord>('outbound_messages').whereIn('status', UNFINISHED).andWhere('id', '>', afterId).orderBy('id').limit(limit);
  return rows.map(toOutbound);
}

/** SMS waiting for the window to open (the dashboard's and the metrics' "waiting for 08:45"). */
export async function countSmsWaitingForWindow(db: Db, now: Date): Promise<number> {
  const row = await db('outbound_messages')
    .where({ channel: 'sms', status: 'scheduled' })
    .andWhere('send_after', '>', toStoredInstant(now))
    .count({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}
