import { INBOUND_TRANSITIONS, isGiveUpCause, type GiveUpCause, type InboundStatus } from '../../src/domain/message-status.js';
import type { Command } from '../../src/domain/sms-command.js';
import type { InboundRow } from '../tables.js';
import type { Knex } from 'knex';
import { ThisTurn } from '../../lib/this-turn.js';
import { changesOf, firstOf, placeholders, withSqliteConnection } from '../statement.js';
import { isSqlite, toStoredInstant, touched, type Db, inLibrary } from './values.js';

/** Why a valid message got no answer (or, `gave_up`, why a renew-all failed); shown to operators. */
export type IgnoredReason = 'not_a_phone_number' | 'rate_limited' | 'throttled' | 'reply_budget' | 'no_answer_needed' | 'gave_up';

export interface InboundMessage {
  readonly id: number;
  readonly messageSid: string;
  readonly fromNumber: string;
  readonly toNumber: string;
  readonly body: string;
  readonly command: Command;
  readonly status: InboundStatus;
  readonly ignoredReason: IgnoredReason | null;
  readonly patronId: string | null;
  readonly replyId: number | null;
  readonly receivedAt: string;
  readonly processedAt: string | null;
  /** When an operator last asked for a given-up renew-all to be tried again. */
  readonly retriedAt: string | null;
  /** Why a renew-all was given up; null for one that was not (or was given up before causes were kept). */
  readonly giveUpCause: GiveUpCause | null;
  /** The library the message is for (SPEC §12); null while no library is known (the gateway answers). */
  readonly libraryId: string | null;
}


const toInbound = (row: InboundRow): InboundMessage => ({
  id: Number(row.id),
  messageSid: row.message_sid,
  fromNumber: row.from_number,
  toNumber: row.to_number,
  body: row.body,
  command: row.command as Command,
  status: row.status as InboundStatus,
  ignoredReason: row.ignored_reason as IgnoredReason | null,
  patronId: row.patron_id,
  replyId: row.reply_id === null ? null : Number(row.reply_id),
  receivedAt: row.received_at,
  processedAt: row.processed_at,
  retriedAt: row.retried_at,
  giveUpCause: isGiveUpCause(row.give_up_cause) ? row.give_up_cause : null,
  libraryId: row.library_id,
});

export interface NewInbound {
  readonly messageSid: string;
  readonly accountSid: string | null;
  readonly fromNumber: string;
  readonly toNumber: string;
  readonly body: string;
  readonly command: Command;
  /** `ignored` for a message that needs no work (a sender that is not a phone number). */
  readonly status: 'received' | 'ignored';
  readonly ignoredReason?: IgnoredReason;
  /** The library its keyword names, or the only library; null when the job must find it (SPEC §12). */
  readonly libraryId: string | null;
}

/** The columns a webhook stores, in the order of the prepared insert below. */
function inboundValues(message: NewInbound, now: Date) {
  return {
    message_sid: message.messageSid,
    account_sid: message.accountSid,
    from_number: message.fromNumber,
    to_number: message.toNumber,
    body: message.body,
    command: message.command,
    status: message.status,
    ignored_reason: message.ignoredReason ?? null,
    received_at: toStoredInstant(now),
    processed_at: message.status === 'ignored' ? toStoredInstant(now) : null,
    library_id: message.libraryId,
  };
}

type InboundValues = ReturnType<typeof inboundValues>;

const SQLITE_INSERT =
  'INSERT INTO inbound_messages (message_sid, account_sid, from_number, to_number, body, command, status, ignored_reason, received_at, processed_at, library_id) ' +
  'VALUES (@message_sid, @account_sid, @from_number, @to_number, @body, @command, @status, @ignored_reason, @received_at, @processed_at, @library_id) ' +
  'ON CONFLICT (message_sid) DO NOTHING RETURNING id';

interface SqliteStatement {
  /**
   * Never `get()` for this write: it stops after the RETURNING row and resets the statement, and
   * outside a transaction the commit happens at that reset, whose error (SQLITE_FULL on a full
   * disk) better-sqlite3 drops, so a message not stored looked stored. `all()` steps to the end,
   * where the commit's error is thrown.
   */
  all(values: InboundValues): { id: number | bigint }[];
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  transaction<T>(work: () => T): { immediate(): T };
  pragma(sql: string, options?: { simple: boolean }): unknown;
}

interface PendingInsert {
  readonly values: InboundValues;
  resolve(id: number | undefined): void;
  reject(error: unknown): void;
}

/** The webhook inserts of one database waiting for its next group commit (made by db/group-commit, once per database). */
export type InboundInserts = ThisTurn<PendingInsert>;

export function groupedInboundInserts(db: Knex): InboundInserts {
  const inserts: InboundInserts = new ThisTurn<PendingInsert>((batch) => commitInserts(db, inserts, batch));
  return inserts;
}

/** While another process holds the write lock, a group asks again this often without blocking the event loop… */
const LOCK_RETRY_MS = 2;
/** …for this long; then it waits for the lock the blocking way (the connection's busy timeout). */
const LOCK_RETRY_FOR_MS = 5_000;

/**
 * The webhook's insert on SQLite, group-committed: the inserts of every webhook that arrived in
 * the same turn of the event loop are written in one transaction on knex's own connection (so they
 * wait their turn behind any open transaction like every other query), each returning only its id.
 * A commit per message wrote the same table and index pages to the WAL again for each message, and
 * with a worker process on the same file each one waited for the write lock on its own.
 */
function insertInboundSqlite(inserts: InboundInserts, values: InboundValues): Promise<number | undefined> {
  return new Promise((resolve, reject) => inserts.add({ values, resolve, reject }));
}

const isBusy = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === 'SQLITE_BUSY';

/**
 * Writes the waiting group. When a worker process holds the write lock, SQLite's own wait would
 * sleep inside this call and stall every request of this process; instead the group steps aside
 * and asks again shortly, gathering the webhooks that arrive meanwhile.
 */
async function commitInserts(db: Knex, inserts: InboundInserts, batch: PendingInsert[], busySince?: number): Promise<void> {
  if (batch.length === 0) return;
  let retry: boolean;
  try {
    retry = await withSqliteConnection<boolean, SqliteConnection>(db, (connection) => insertGroup(connection, batch, busySince));
  } catch (error) {
    for (const insert of batch) insert.reject(error);
    return;
  }
  if (retry) {
    inserts.putBack(batch);
    setTimeout(() => void commitInserts(db, inserts, inserts.take(), busySince ?? Date.now()), LOCK_RETRY_MS);
  }
}

/** Inserts the group in one transaction and settles each insert; true when the write lock was taken and the group must ask again. */
function insertGroup(connection: SqliteConnection, batch: readonly PendingInsert[], busySince: number | undefined): boolean {
  // The connection keeps it prepared (db/knexfile).
  const insert = connection.prepare(SQLITE_INSERT);
  const idOf = ([row]: { id: number | bigint }[]) => (row ? Number(row.id) : undefined);
  const patient = busySince !== undefined && Date.now() - busySince >= LOCK_RETRY_FOR_MS;
  const busyTimeout = patient ? undefined : connection.pragma('busy_timeout', { simple: true });
  let failed = false;
  try {
    if (!patient) connection.pragma('busy_timeout = 0');
    const ids = connection.transaction(() => batch.map((pending) => idOf(insert.all(pending.values)))).immediate();
    batch.forEach((pending, index) => pending.resolve(ids[index]));
  } catch (error) {
    if (isBusy(error) && !patient) return true;
    failed = true;
  } finally {
    if (busyTimeout !== undefined) connection.pragma(`busy_timeout = ${Number(busyTimeout)}`);
  }
  // Something in the group failed as a whole: each message on its own, so one bad row fails only its own webhook.
  for (const pending of failed ? batch : []) {
    try {
      pending.resolve(idOf(insert.all(pending.values)));
    } catch (single) {
      pending.reject(single);
    }
  }
  return false;
}

/**
 * Stores a webhook's message unless its MessageSid is already stored: one statement, insert or
 * nothing, so twenty concurrent retries of one webhook store it once. A new message is returned
 * as written (nothing is read back); a repeat is read by its sid. `grouped`: the database's group
 * of webhook inserts (the webhook passes it through its GroupCommit); without it the insert is
 * knex's, on its own.
 */
export async function insertInbound(db: Db, message: NewInbound, now: Date, grouped?: InboundInserts): Promise<{ message: InboundMessage; inserted: boolean }> {
  const values = inboundValues(message, now);
  let id: number | undefined;
  if (grouped && isSqlite(db) && !db.isTransaction) {
    id = await insertInboundSqlite(grouped, values);
  } else {
    const rows: { id: number | string }[] = await db('inbound_messages').insert(values).onConflict('message_sid').ignore().returning('id');
    id = rows[0] === undefined ? undefined : Number(rows[0].id);
  }
  if (id !== undefined) {
    return {
      inserted: true,
      message: {
        id,
        messageSid: values.message_sid,
        fromNumber: values.from_number,
        toNumber: values.to_number,
        body: values.body,
        command: message.command,
        status: message.status,
        ignoredReason: message.ignoredReason ?? null,
        patronId: null,
        replyId: null,
        receivedAt: values.received_at,
        processedAt: values.processed_at,
        retriedAt: null,
        giveUpCause: null,
        libraryId: message.libraryId,
      },
    };
  }
  const row = await db<InboundRow>('inbound_messages').where({ message_sid: message.messageSid }).first();
  if (!row) throw new Error(`inbound message ${message.messageSid} vanished after insert`);
  return { message: toInbound(row), inserted: false };
}

export async function getInbound(db: Db, id: number): Promise<InboundMessage | undefined> {
  const row = await firstOf<InboundRow>(db, 'SELECT * FROM inbound_messages WHERE id = ?', [id]);
  return row ? toInbound(row) : undefined;
}

export async function getInboundBySid(db: Db, messageSid: string): Promise<InboundMessage | undefined> {
  const row = await db<InboundRow>('inbound_messages').where({ message_sid: messageSid }).first();
  return row ? toInbound(row) : undefined;
}

const CLAIM_INBOUND = `UPDATE inbound_messages SET status = ?, processed_at = ? WHERE id = ? AND status IN (${placeholders(INBOUND_TRANSITIONS.claim.from.length)}) RETURNING *`;

/**
 * Claims a received message for processing: the message as claimed for exactly one caller,
 * whatever runs twice, read back by the claim itself; undefined for every other caller.
 */
export async function claimInbound(db: Db, id: number, now: Date): Promise<InboundMessage | undefined> {
  const { from, to } = INBOUND_TRANSITIONS.claim;
  const row = await firstOf<InboundRow>(db, CLAIM_INBOUND, [to, toStoredInstant(now), id, ...from]);
  return row ? toInbound(row) : undefined;
}

/** Records what a claimed message came to: its patron, its reply, or why it was ignored. */
export async function finishInbound(
  db: Db,
  id: number,
  fields: { patronId?: string | null; replyId?: number | null; ignoredReason?: IgnoredReason; libraryId?: string | null },
): Promise<void> {
  const { from, to } = INBOUND_TRANSITIONS.ignore;
  const columns: string[] = [];
  const values: unknown[] = [];
  const set = (column: string, value: unknown) => {
    columns.push(`${column} = ?`);
    values.push(value);
  };
  if (fields.patronId !== undefined) set('patron_id', fields.patronId);
  if (fields.replyId !== undefined) set('reply_id', fields.replyId);
  // The library the job found for a message that named none (SPEC §12: the number's only directory).
  if (fields.libraryId !== undefined) set('library_id', fields.libraryId);
  if (fields.ignoredReason) {
    set('status', to);
    set('ignored_reason', fields.ignoredReason);
  }
  if (columns.length === 0) return;
  await changesOf(db, `UPDATE inbound_messages SET ${columns.join(', ')} WHERE id = ? AND status IN (${placeholders(from.length)})`, [...values, id, ...from]);
}

/** Renew-alls from this number answered since `since` (the per-number abuse limit). */
export async function countAnsweredRenewAlls(db: Db, fromNumber: string, since: Date, exceptId: number): Promise<number> {
  const row = await firstOf<{ n: number | string }>(
    db,
    'SELECT count(*) AS n FROM inbound_messages WHERE from_number = ? AND command = ? AND status = ? AND received_at >= ? AND id <> ?',
    [fromNumber, 'renew-all', 'processed', toStoredInstant(since), exceptId],
  );
  return Number(row?.n ?? 0);
}

/** Messages stored but not yet handled: what reconciliation hands to the queues again. */
export async function listUnprocessedInbound(db: Db, limit: number): Promise<InboundMessage[]> {
  const rows = await db<InboundRow>('inbound_messages').where({ status: 'received' }).orderBy('id').limit(limit);
  return rows.map(toInbound);
}

/** Moves every message answered by one reply onto another (a night's renew-alls folded into one answer). */
export async function moveReplies(db: Db, fromReplyId: number, toReplyId: number): Promise<void> {
  await db('inbound_messages').where({ reply_id: fromReplyId }).update({ reply_id: toReplyId });
}

export async function inboundIdsAnsweredBy(db: Db, replyId: number): Promise<number[]> {
  const rows = await db('inbound_messages').where({ reply_id: replyId }).select('id');
  return rows.map((row) => Number(row.id));
}

/**
 * Gives up a renew-all that could not be done in time (SPEC §4): `failed`, nothing renewed. Only
 * from `received`, so a request that was done meanwhile is never marked failed. True when it changed.
 */
export async function giveUpInbound(db: Db, id: number, cause: GiveUpCause, now: Date): Promise<boolean> {
  const { from, to } = INBOUND_TRANSITIONS.giveUp;
  const changed = await db('inbound_messages').where({ id }).whereIn('status', from).update({ status: to, ignored_reason: 'gave_up', give_up_cause: cause, processed_at: toStoredInstant(now) });
  return touched(changed) === 1;
}

/** Records the answer to a given-up request (the SMS saying nothing was renewed). */
export async function recordFailureReply(db: Db, id: number, replyId: number | null, patronId: string | null): Promise<void> {
  await db('inbound_messages').where({ id, status: INBOUND_TRANSITIONS.giveUp.to }).update({ reply_id: replyId, patron_id: patronId });
}

/** Notes, on a request still waiting, why it would be given up should its time run out (the last try's cause). */
export async function noteGiveUpCause(db: Db, id: number, cause: GiveUpCause): Promise<void> {
  await db('inbound_messages').where({ id, status: 'received' }).update({ give_up_cause: cause });
}

/** An operator's retry of a given-up renew-all: `received` again, its give-up time counted from now. */
export async function retryFailedInbound(db: Db, id: number, now: Date): Promise<boolean> {
  const { from, to } = INBOUND_TRANSITIONS.retry;
  const changed = await db('inbound_messages')
    .where({ id })
    .whereIn('status', from)
    .update({ status: to, ignored_reason: null, give_up_cause: null, processed_at: null, retried_at: toStoredInstant(now) });
  return touched(changed) === 1;
}

/** Renew-alls given up, newest first (the dashboard's failures). */
export async function failedInbound(db: Db, limit: number, library?: string): Promise<InboundMessage[]> {
  const rows = await db('inbound_messages')
    .where({ status: INBOUND_TRANSITIONS.giveUp.to })
    .where(inLibrary(library))
    .orderBy('id', 'desc')
    .limit(limit);
  return rows.map(toInbound);
}
