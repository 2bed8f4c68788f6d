import type { NoticeKind, NoticeLoan } from '../../src/domain/notice.js';
import type { NoticeRow } from '../tables.js';
import { bulkRowsOf, insertValuesSql, rowsPerStatement } from '../statement.js';
import { toCount, toStoredInstant, type Db, inLibrary } from './values.js';

/** A notice as stored: enough to recognise a repeat and to find what it wrote. */
export interface StoredNotice {
  readonly id: string;
  readonly kind: NoticeKind;
  readonly contentHash: string;
  readonly smsMessageId: number | null;
  readonly emailMessageId: number | null;
}

export interface NewNotice {
  /** Stored form (src/domain/library-ids.ts). */
  readonly id: string;
  readonly libraryId: string;
  readonly kind: NoticeKind;
  readonly cardNumber: string;
  readonly patronId: string;
  readonly contentHash: string;
  readonly loans: readonly NoticeLoan[];
  readonly smsMessageId: number | null;
  readonly emailMessageId: number | null;
}

const toStored = (row: Pick<NoticeRow, 'id' | 'kind' | 'content_hash' | 'sms_message_id' | 'email_message_id'>): StoredNotice => ({
  id: row.id,
  kind: row.kind as NoticeKind,
  contentHash: row.content_hash,
  smsMessageId: row.sms_message_id === null ? null : Number(row.sms_message_id),
  emailMessageId: row.email_message_id === null ? null : Number(row.email_message_id),
});

/** The notices already stored among these ids. */
export async function storedNotices(db: Db, ids: readonly string[]): Promise<Map<string, StoredNotice>> {
  const found = new Map<string, StoredNotice>();
  for (let start = 0; start < ids.length; start += 500) {
    const rows = await db('notices')
      .whereIn('id', ids.slice(start, start + 500))
      .select('id', 'kind', 'content_hash', 'sms_message_id', 'email_message_id');
    for (const row of rows) found.set(row.id, toStored(row));
  }
  return found;
}

/** Stores notices; the id is the primary key, so a notice is never stored twice. */
export async function insertNotices(db: Db, notices: readonly NewNotice[], now: Date): Promise<void> {
  const stamp = toStoredInstant(now);
  // As many notices per statement as the bound values allow.
  const perStatement = rowsPerStatement(NOTICE_COLUMNS.length);
  for (let start = 0; start < notices.length; start += perStatement) {
    const chunk = notices.slice(start, start + perStatement);
    const values: unknown[] = [];
    for (const notice of chunk) {
      values.push(notice.id, notice.libraryId, notice.kind, notice.cardNumber, notice.patronId, notice.contentHash, JSON.stringify(notice.loans), notice.smsMessageId, notice.emailMessageId, stamp);
    }
    await bulkRowsOf(db, insertValuesSql('notices', NOTICE_COLUMNS, chunk.length), values);
  }
}

const NOTICE_COLUMNS = [
  'id', 'library_id', 'kind', 'card_number', 'patron_id', 'content_hash', 'loans', 'sms_message_id', 'email_message_id', 'received_at',
] as const satisfies readonly (keyof NoticeRow)[];

/** The loans a stored notice names, or undefined when no notice has this id. */
export async function loansOfNotice(db: Db, noticeId: string): Promise<NoticeLoan[] | undefined> {
  const row = await db('notices').where({ id: noticeId }).first('loans');
  return row ? (JSON.parse(row.loans) as NoticeLoan[]) : undefined;
}

/**
 * The titles the patron's notices gave, by item id, the latest notice's where several name one item:
 * what a library system that lists loans without titles (FBS, SPEC §13) is shown with.
 */
export async function noticeTitlesOfPatron(db: Db, patronId: string): Promise<Map<string, string>> {
  // The latest 200: a patron's loans now were named by recent notices, not by years of them.
  const rows = await db('notices').where({ patron_id: patronId }).orderBy('received_at', 'desc').limit(200).select('loans');
  const titles = new Map<string, string>();
  for (const row of rows.reverse()) {
    for (const loan of JSON.parse(row.loans) as NoticeLoan[]) if (loan.title) titles.set(loan.itemId, loan.title);
  }
  return titles;
}

export interface NoticeCount {
  /** The library that sent the notice (SPEC §12). */
  readonly library: string;
  readonly kind: NoticeKind;

  readonly channel: 'sms' | 'email';
  /** The message's status, or `none` when the notice wrote no message on this channel (no number, opted out). */
  readonly status: string;
  readonly count: number;
}

/** Notices by library and kind, and per channel by the status of the message each wrote (the dashboard, the metrics); of one library when `library` is given. */
export async function noticeCounts(db: Db, library?: string): Promise<NoticeCount[]> {
  const counts: NoticeCount[] = [];
  for (const channel of ['sms', 'email'] as const) {
    const column = channel === 'sms' ? 'n.sms_message_id' : 'n.email_message_id';
    const rows = await db('notices as n')
      .leftJoin('outbound_messages as o', 'o.id', column)
      .where(inLibrary(library, 'n.library_id'))
      .groupBy('n.library_id', 'n.kind', 'o.status')
      .select('n.library_id', 'n.kind', 'o.status', db.raw('count(*) as n'));
    for (const row of rows as { library_id: string; kind: string; status: string | null; n: unknown }[]) counts.push({ library: row.library_id, kind: row.kind as NoticeKind, channel, status: (row.status) ?? 'none', count: toCount(row.n) });
  }
  return counts;
}
