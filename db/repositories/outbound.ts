import { parseCalendarDate, type CalendarDate } from '../../src/domain/calendar-date.js';
import {
  isSupersedeReason,
  OUTBOUND_TRANSITIONS,
  receiptSources,
  UNFINISHED,
  type Channel,
  type OutboundKind,
  type OutboundPurpose,
  type OutboundStatus,
  type OutboundTransition,
  type SupersedeReason,
} from '../../src/domain/message-status.js';
import type { OutboundRow } from '../tables.js';
import { bulkRowsOf, changesOf, firstOf, insertValuesSql, placeholders, rowsOf, rowsPerStatement } from '../statement.js';
import { toBool, toStoredInstant, touched, type Db, inLibrary } from './values.js';

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
  /** Why it was superseded; null for a message that was not. */
  readonly supersededReason: SupersedeReason | null;
  /** The operator who gave it up, when that is why it was superseded. */
  readonly cancelledBy: string | null;
  /** One message per cause (a reply per request, a reminder per patron, due date and channel). */
  readonly dedupeKey: string | null;
  readonly createdAt: string;
  /** The library it speaks for (SPEC §12); null for the gateway's own answers. */
  readonly libraryId: string | null;
}


export const toOutbound = (row: OutboundRow): OutboundMessage => ({
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
  supersededReason: isSupersedeReason(row.superseded_reason) ? row.superseded_reason : null,
  cancelledBy: row.cancelled_by,
  dedupeKey: row.dedupe_key,
  createdAt: row.created_at,
  libraryId: row.library_id,
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
  /**
   * Written already claimed for sending, its first attempt under way (as `claimForSending` would
   * leave it): the writer sends it itself. Only a message that may leave now is claimed.
   */
  readonly claimedAtWrite?: boolean;
  /** The library it speaks for (SPEC §12); null for the gateway's own answers. */
  readonly libraryId: string | null;
}

/** Stores a message in the outbox: `queued` when it may leave now, `scheduled` when it waits. */
export async function insertOutbound(db: Db, message: NewOutbound, now: Date): Promise<{ message: OutboundMessage; inserted: boolean }> {
  const values = outboundRow(message, now);
  const inserted = await rowsOf<OutboundRow>(db, message.dedupeKey ? INSERT_OUTBOUND_ONCE : INSERT_OUTBOUND, OUTBOUND_COLUMNS.map((column) => values[column] ?? null));
  const row = inserted[0] ?? (await firstOf<OutboundRow>(db, 'SELECT * FROM outbound_messages WHERE dedupe_key = ?', [message.dedupeKey ?? '']));
  if (!row) throw new Error(`outbound message ${message.dedupeKey ?? ''} vanished after insert`);
  return { message: toOutbound(row), inserted: inserted.length > 0 };
}

const OUTBOUND_COLUMNS = [
  'channel', 'kind', 'purpose', 'patron_id', 'inbound_id', 'to_address', 'from_address', 'subject', 'body', 'html',
  'status', 'send_after', 'dedupe_key', 'attempts', 'send_started_at', 'created_at', 'updated_at', 'library_id',
] as const satisfies readonly (keyof OutboundRow)[];
const INSERT_INTO_OUTBOUND = `INSERT INTO outbound_messages (${OUTBOUND_COLUMNS.join(', ')}) VALUES (${placeholders(OUTBOUND_COLUMNS.length)})`;
const INSERT_OUTBOUND = `${INSERT_INTO_OUTBOUND} RETURNING *`;
/** A keyed message is stored once: a second insert with its key stores nothing and returns no row. */
const INSERT_OUTBOUND_ONCE = `${INSERT_INTO_OUTBOUND} ON CONFLICT (dedupe_key) DO NOTHING RETURNING *`;

/**
 * The columns a new message's insert leaves to the table's defaults (db/migrations), as those give
 * them: a message just written was never tried, sent or superseded. (Typed against OutboundRow: a
 * new column must be placed here or among OUTBOUND_COLUMNS.)
 */
const UNTOUCHED_AT_WRITE = {
  provider_sid: null,
  outcome_uncertain: false,
  sent_at: null,
  status_at: null,
  error_code: null,
  error_message: null,
  superseded_by: null,
  superseded_reason: null,
  cancelled_by: null,
} as const satisfies Omit<OutboundRow, (typeof OUTBOUND_COLUMNS)[number] | 'id'>;

/** The row a new message is stored as: `queued` when it may leave now, `scheduled` when it waits. */
function outboundRow(message: NewOutbound, now: Date, stamp = toStoredInstant(now)): Pick<OutboundRow, (typeof OUTBOUND_COLUMNS)[number]> {
  const dueNow = message.sendAfter.getTime() <= now.getTime();
  const claimed = dueNow && message.claimedAtWrite === true;
  return {
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
    status: dueNow ? 'queued' : 'scheduled',
    send_after: message.sendAfter.getTime() === now.getTime() ? stamp : toStoredInstant(message.sendAfter),
    dedupe_key: message.dedupeKey,
    attempts: claimed ? 1 : 0,
    send_started_at: claimed ? stamp : null,
    created_at: stamp,
    updated_at: stamp,
    library_id: message.libraryId,
  };
}

export async function getOutbound(db: Db, id: number): Promise<OutboundMessage | undefined> {
  const row = await firstOf<OutboundRow>(db, 'SELECT * FROM outbound_messages WHERE id = ?', [id]);
  return row ? toOutbound(row) : undefined;
}

export async function getOutboundByProviderSid(db: Db, providerSid: string): Promise<OutboundMessage | undefined> {
  const row = await db<OutboundRow>('outbound_messages').where({ provider_sid: providerSid }).first();
  return row ? toOutbound(row) : undefined;
}

export async function attachLoans(db: Db, outboundId: number, loans: readonly { loanId: string; dueDate: CalendarDate }[]): Promise<void> {
  const rows = loans.map((loan) => ({ outbound_id: outboundId, loan_id: loan.loanId, due_date: loan.dueDate }));
  for (let start = 0; start < rows.length; start += 100) {
    await db('outbound_loans').insert(rows.slice(start, start + 100)).onConflict(['outbound_id', 'loan_id']).ignore();
  }
}

export interface NewOutboundWithLoans extends NewOutbound {
  readonly dedupeKey: string;
  /** The loans it speaks of, with their due date then (for the stale check before sending). */
  readonly loans: readonly { loanId: string; dueDate: CalendarDate }[];
}

/**
 * Stores many keyed messages at once (the daily reminders, a request's notices), each with its
 * loans: a message whose key is already stored is kept as it was. Returns every message of these
 * keys, new or earlier, in the order of the keys given.
 */
export async function insertOutboundMany(db: Db, messages: readonly NewOutboundWithLoans[], now: Date): Promise<OutboundMessage[]> {
  if (messages.length === 0) return [];
  const stamp = toStoredInstant(now);
  const byKey = new Map<string, OutboundMessage>();
  const inserted = new Map<string, number>();
  // As many rows per statement as the bound values allow; the new rows come back from the insert
  // itself (RETURNING), so only keys stored before are read back.
  const rows = messages.map((message) => outboundRow(message, now, stamp));
  const perStatement = rowsPerStatement(OUTBOUND_COLUMNS.length);
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    const values: unknown[] = [];
    for (const row of chunk) for (const column of OUTBOUND_COLUMNS) values.push(row[column]);
    const sql = `${insertValuesSql('outbound_messages', OUTBOUND_COLUMNS, chunk.length)} ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key`;
    for (const row of await bulkRowsOf<Pick<OutboundRow, 'id' | 'dedupe_key'>>(db, sql, values)) if (row.dedupe_key !== null) inserted.set(row.dedupe_key, Number(row.id));
  }
  // A new message is the row written with its id, the other columns as the table's defaults give
  // them: reading back every column (RETURNING *) cost more than the insert itself.
  for (const row of rows) {
    const id = row.dedupe_key === null ? undefined : inserted.get(row.dedupe_key);
    // Object.assign, not {...row, ...}: V8 copied two spreads into one object at ~15 µs a message.
    if (id !== undefined && !byKey.has(row.dedupe_key ?? '')) byKey.set(row.dedupe_key ?? '', toOutbound(Object.assign(row, UNTOUCHED_AT_WRITE, { id })));
  }
  const keys = [...new Set(messages.map((message) => message.dedupeKey))];
  const earlier = keys.filter((key) => !byKey.has(key));
  for (let start = 0; start < earlier.length; start += 500) {
    for (const row of await db<OutboundRow>('outbound_messages').whereIn('dedupe_key', earlier.slice(start, start + 500))) {
      if (row.dedupe_key !== null) byKey.set(row.dedupe_key, toOutbound(row));
    }
  }
  const stored = keys.flatMap((key) => byKey.get(key) ?? []);
  const loansByKey = new Map(messages.map((message) => [message.dedupeKey, message.loans]));
  const links: unknown[] = [];
  for (const message of stored) for (const loan of loansByKey.get(message.dedupeKey ?? '') ?? []) links.push(message.id, loan.loanId, loan.dueDate);
  const perLinks = rowsPerStatement(LINK_COLUMNS.length) * LINK_COLUMNS.length;
  for (let start = 0; start < links.length; start += perLinks) {
    const chunk = links.slice(start, start + perLinks);
    await bulkRowsOf(db, `${insertValuesSql('outbound_loans', LINK_COLUMNS, chunk.length / LINK_COLUMNS.length)} ON CONFLICT (outbound_id, loan_id) DO NOTHING`, chunk);
  }
  return stored;
}

const LINK_COLUMNS = ['outbound_id', 'loan_id', 'due_date'] as const;

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
    .select<{ id: string; due_date: string; title: string }[]>('l.id', 'l.due_date', 't.title');
  return rows.map((row) => ({ loanId: row.id, dueDate: parseCalendarDate(row.due_date), title: row.title }));
}

export async function countNamedLoans(db: Db, outboundId: number): Promise<number> {
  const row = await db('outbound_loans').where({ outbound_id: outboundId }).count({ n: '*' }).first();
  return Number(row?.n ?? 0);
}

/** Columns an update writes. */
type OutboundChanges = { readonly [K in keyof OutboundRow]?: OutboundRow[K] };

/**
 * The one way an outbound message's row changes: the transition's allowed starting statuses guard
 * the update (OUTBOUND_TRANSITIONS), so a message already sent, superseded or failed is never moved
 * by a late or repeated caller. True when the row changed.
 */
async function transition(db: Db, id: number, change: OutboundTransition, fields: OutboundChanges, now: Date, fence?: SendClaim): Promise<boolean> {
  const { sql, values } = guardedUpdate(id, change, fields, now, [], fence);
  return (await changesOf(db, sql, values)) === 1;
}

/**
 * The fence of a send attempt: the attempt count its claim left on the row. A later claim (another
 * process taking over a message whose sender went quiet) moves the count, so the first sender's
 * writes, guarded by it, change nothing once it has lost the message.
 */
export interface SendClaim {
  readonly attempts: number;
}

/**
 * The update of `transition`. `computed`: assignments worked out from the row itself
 * (`attempts = attempts + 1`), SQL text of forny's own, never input.
 */
function guardedUpdate(id: number, change: OutboundTransition, fields: OutboundChanges, now: Date, computed: readonly string[] = [], fence?: SendClaim) {
  const { from, to } = OUTBOUND_TRANSITIONS[change];
  const changes: Record<string, unknown> = { ...fields, ...(to === null ? {} : { status: to }), updated_at: toStoredInstant(now) };
  const columns = Object.keys(changes);
  const assignments = [...computed, ...columns.map((column) => `${column} = ?`)].join(', ');
  return {
    sql: `UPDATE outbound_messages SET ${assignments} WHERE id = ? AND status IN (${placeholders(from.length)})${fence ? ' AND attempts = ?' : ''}`,
    values: [...columns.map((column) => changes[column]), id, ...from, ...(fence ? [fence.attempts] : [])],
  };
}

/**
 * Takes a message for sending: only from `scheduled` or `queued`, so a message already sent,
 * superseded or failed is never sent again. Stamps the attempt; if the previous attempt's stamp is
 * still there, that attempt died mid-call and the outcome is marked uncertain for operators. With
 * `seen` (the row as the caller read it) the claim is made only if no other attempt claimed the
 * message since: a process paused between its read and its claim cannot claim over another's.
 */
export async function claimForSending(db: Db, id: number, now: Date, seen?: SendClaim): Promise<OutboundMessage | undefined> {
  // The attempt before this one left its stamp: it died mid-call. (A truth value in both databases.)
  const computed = ['attempts = attempts + 1', 'outcome_uncertain = (outcome_uncertain OR send_started_at IS NOT NULL)'];
  // `seen`: the attempt count the caller decided on; a claim made by another since then wins.
  const { sql, values } = guardedUpdate(id, 'claim', { send_started_at: toStoredInstant(now) }, now, computed, seen);
  // The claimed row comes back from the update itself: no second read.
  const row = await firstOf<OutboundRow>(db, `${sql} RETURNING *`, values);
  return row ? toOutbound(row) : undefined;
}

/**
 * Stamps the claim again, just before the message is handed to the provider, if this attempt still
 * holds it (the row queued under its fence): the stamp tells other processes the send is under way.
 * False when another attempt has taken the message over meanwhile.
 */
export async function renewClaim(db: Db, id: number, claim: SendClaim, now: Date): Promise<boolean> {
  const stamp = toStoredInstant(now);
  const sql = "UPDATE outbound_messages SET send_started_at = ?, updated_at = ? WHERE id = ? AND attempts = ? AND status = 'queued' AND send_started_at IS NOT NULL";
  return (await changesOf(db, sql, [stamp, stamp, id, claim.attempts])) === 1;
}

/** The provider took the message; `settled`: it was found there after an attempt died mid-call, so it left once after all. */
export async function markSent(db: Db, id: number, providerSid: string, now: Date, { settled, fence }: { settled: boolean; fence?: SendClaim } = { settled: false }): Promise<void> {
  await transition(
    db,
    id,
    'sent',
    {
      provider_sid: providerSid,
      sent_at: toStoredInstant(now),
      status_at: toStoredInstant(now),
      send_started_at: null,
      error_code: null,
      error_message: null,
      ...(settled ? { outcome_uncertain: false } : {}),
    },
    now,
    fence,
  );
}

/**
 * Records a failed attempt. `final` marks the message failed for good; otherwise it stays queued
 * for the next try. `certain` says the provider surely did not take it; when it may have (a
 * time-out mid-call), the outcome is marked uncertain and the next attempt asks the provider first.
 * Either way the attempt is over: its claim's stamp goes, so the next attempt need not wait for it.
 */
export async function recordSendFailure(
  db: Db,
  id: number,
  failure: { code: string | null; message: string; final: boolean; certain: boolean },
  now: Date,
  fence?: SendClaim,
): Promise<void> {
  await transition(
    db,
    id,
    failure.final ? 'fail' : 'attemptFailed',
    {
      ...(failure.final ? { status_at: toStoredInstant(now) } : {}),
      ...(failure.certain ? {} : { outcome_uncertain: true }),
      send_started_at: null,
      error_code: failure.code,
      error_message: failure.message.slice(0, 500),
    },
    now,
    fence,
  );
}

/** Puts a message back to wait for `sendAfter` (the window closed before it could leave). */
export async function reschedule(db: Db, id: number, sendAfter: Date, now: Date, fence?: SendClaim): Promise<void> {
  await transition(db, id, 'reschedule', { send_after: toStoredInstant(sendAfter), send_started_at: null }, now, fence);
}

/** A waiting SMS's new text (a reminder whose loans were partly renewed is recounted). */
export async function updateBody(db: Db, id: number, body: string, now: Date): Promise<void> {
  await transition(db, id, 'rewrite', { body }, now);
}

/** A waiting e-mail's new content (a reminder that now lists fewer loans). */
export async function rewriteEmail(db: Db, id: number, content: { subject: string; text: string; html: string }, now: Date): Promise<void> {
  await transition(db, id, 'rewrite', { subject: content.subject, body: content.text, html: content.html }, now);
}

/** Marks a waiting message as not to be sent; true if it was still waiting. */
export async function supersede(db: Db, id: number, now: Date, detail: { by?: number; reason: SupersedeReason }): Promise<boolean> {
  return transition(
    db,
    id,
    'supersede',
    { superseded_by: detail.by ?? null, superseded_reason: detail.reason, status_at: toStoredInstant(now), send_started_at: null },
    now,
  );
}

/** Points a superseded message at the one that took its place (written after it, in the same transaction). */
export async function recordSupersededBy(db: Db, id: number, by: number): Promise<void> {
  await db('outbound_messages').where({ id, status: 'superseded' }).update({ superseded_by: by });
}

/**
 * Puts a failed message back in the outbox to leave now (the send job still waits for the window).
 * Its attempts and last error stay: until it is sent (which clears the error), the row still says
 * why it had failed. True when the message was failed and is now queued.
 */
export async function requeueFailed(db: Db, id: number, now: Date): Promise<boolean> {
  const stamp = toStoredInstant(now);
  return transition(db, id, 'requeue', { send_after: stamp, send_started_at: null, status_at: stamp }, now);
}

/**
 * Gives a failed message up for good: `superseded` (`cancelled_by_operator`, naming the operator).
 * Its last error stays beside it. True when the message was failed and is now superseded.
 */
export async function cancelFailed(db: Db, id: number, operator: string, now: Date): Promise<boolean> {
  return transition(db, id, 'cancel', { superseded_reason: 'cancelled_by_operator', cancelled_by: operator.slice(0, 64), status_at: toStoredInstant(now) }, now);
}

/**
 * Applies a delivery receipt's status to the message the provider knows by `providerSid`, only
 * forward (receiptSources): delivered stays delivered, a late `sent` changes nothing.
 */
export async function applyReceiptStatus(db: Db, providerSid: string, status: OutboundStatus, errorCode: string | null, now: Date): Promise<boolean> {
  const changed = await db('outbound_messages')
    .where({ provider_sid: providerSid })
    .whereIn('status', receiptSources(status))
    .update({ status, status_at: toStoredInstant(now), ...(errorCode ? { error_code: errorCode } : {}), updated_at: toStoredInstant(now) });
  return touched(changed) === 1;
}

/** Only messages that have not left may be superseded by an operator or a fold; this one is still `scheduled`, and the same library's (SPEC §12). */
export async function findWaitingRenewAllReply(db: Db, to: string, libraryId: string): Promise<OutboundMessage | undefined> {
  const row = await firstOf<OutboundRow>(
    db,
    // The status as written, not bound: it is what lets both databases use the partial index of waiting replies.
    "SELECT * FROM outbound_messages WHERE status = 'scheduled' AND to_address = ? AND purpose = 'renew-all' AND channel = 'sms' AND library_id = ? ORDER BY id DESC LIMIT 1",
    [to, libraryId],
  );
  return row ? toOutbound(row) : undefined;
}

/** Waiting SMS reminders and notices to a number (superseded when it texts STOP). */
export async function waitingReminderIds(db: Db, to: string, libraryId?: string): Promise<number[]> {
  const query = db('outbound_messages').where({ channel: 'sms', to_address: to }).whereIn('kind', ['reminder', 'notice']).whereIn('status', UNFINISHED);
  const rows = await (libraryId === undefined ? query : query.andWhere({ library_id: libraryId })).select('id');
  return rows.map((row) => Number(row.id));
}

/** Replies written to a number since `since` (the guard against reply loops). */
export async function countRepliesTo(db: Db, to: string, since: Date): Promise<number> {
  const row = await firstOf<{ n: number | string }>(db, 'SELECT count(*) AS n FROM outbound_messages WHERE to_address = ? AND kind = ? AND created_at >= ?', [
    to,
    'reply',
    toStoredInstant(since),
  ]);
  return Number(row?.n ?? 0);
}

/** Unfinished messages after `afterId`, oldest first (reconciliation walks them in pages). */
export async function listUnfinishedOutbound(db: Db, afterId: number, limit: number): Promise<OutboundMessage[]> {
  const rows = await db<OutboundRow>('outbound_messages').whereIn('status', UNFINISHED).andWhere('id', '>', afterId).orderBy('id').limit(limit);
  return rows.map(toOutbound);
}

/** SMS waiting for the window to open (the dashboard's and the metrics' "waiting for 08:45"). */
export async function countSmsWaitingForWindow(db: Db, now: Date, library?: string): Promise<number> {
  const row = await db('outbound_messages')
    .where({ channel: 'sms', status: 'scheduled' })
    .where(inLibrary(library))
    .andWhere('send_after', '>', toStoredInstant(now))
    .count({ n: '*' })
    .first();
  return Number(row?.n ?? 0);
}

/** The loans of forny's tables a message speaks of: each item, the due date the message names, and the loan now. */
export async function linkedLoansOf(db: Db, outboundId: number): Promise<{ itemId: string; barcode: string; namedDueDate: string; dueDate: string; returnedOn: string | null }[]> {
  const rows = await db('outbound_loans as o')
    .join('loans as l', 'l.id', 'o.loan_id')
    .join('items as i', 'i.id', 'l.item_id')
    .where('o.outbound_id', outboundId)
    .select<{ item_id: string; barcode: string; named_due: string; due_date: string; returned_on: string | null }[]>('i.id as item_id', 'i.barcode', 'o.due_date as named_due', 'l.due_date', 'l.returned_on');
  return rows.map((row) => ({ itemId: row.item_id, barcode: row.barcode, namedDueDate: row.named_due, dueDate: row.due_date, returnedOn: row.returned_on }));
}
