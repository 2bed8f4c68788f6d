import type { Channel } from '../../src/domain/message-status.js';
import type { Db } from './values.js';

/** One line of the message flow, either direction, as the operators' API and dashboard list it. */
export interface LoggedMessage {
  readonly direction: 'in' | 'out';
  readonly id: number;
  readonly channel: 'sms' | 'email';
  readonly to: string;
  readonly from: string;
  readonly body: string;
  readonly kind: string;
  readonly purpose: string | null;
  readonly status: string;
  readonly sendAfter: string | null;
  readonly sentAt: string | null;
  readonly providerSid: string | null;
  readonly createdAt: string;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  /** Why an outgoing message was superseded (a SUPERSEDE_REASONS code), and by which operator if one gave it up. */
  readonly supersededReason: string | null;
  readonly cancelledBy: string | null;
  readonly patronId: string | null;
  /** The library the message is about (SPEC §12); null for the gateway's own answers. */
  readonly libraryId: string | null;
}

export interface MessageFilter {
  readonly direction?: 'in' | 'out';
  readonly channel?: 'sms' | 'email';
  readonly to?: string;
  readonly status?: string;
  readonly kind?: string;
  /** One library's messages only (SPEC §12); every message, the gateway's own too, when absent. */
  readonly library?: string;
  /** A number or address on either end: a patron's whole conversation. */
  readonly party?: string;
  readonly limit: number;
  readonly offset: number;
  /** Cursor: only inbound rows with an id below this (the last page's oldest shown). */
  readonly beforeInbound?: number;
  /** Cursor: only outbound rows with an id below this. */
  readonly beforeOutbound?: number;
}

/** The deepest offset a page may ask for: beyond it, page with the cursor. */
export const MAX_OFFSET = 10_000;

/**
 * Newest first across both tables. Each side is read with the same filters, newest first, at most
 * offset + limit rows, and the two are merged, so a page costs two index scans, not a union of all.
 * The offset is capped (MAX_OFFSET) so a page never reads more than that many rows a side; deeper
 * pages go by the cursor (`beforeInbound`/`beforeOutbound`), which costs the same at any depth.
 */
export async function listMessages(db: Db, filter: MessageFilter): Promise<LoggedMessage[]> {
  const wanted = filter.offset + filter.limit;
  const inbound: LoggedMessage[] = [];
  const outbound: LoggedMessage[] = [];

  const inboundMatches = filter.direction !== 'out' && filter.channel !== 'email' && (filter.kind === undefined || filter.kind === 'command');
  if (inboundMatches) {
    let query = db('inbound_messages').orderBy('id', 'desc').limit(wanted);
    if (filter.beforeInbound !== undefined) query = query.where('id', '<', filter.beforeInbound);
    if (filter.library !== undefined) query = query.where('library_id', filter.library);
    if (filter.to) query = query.where('to_number', filter.to);
    if (filter.status) query = query.where('status', filter.status);
    if (filter.party) query = query.where((q) => q.where('from_number', filter.party).orWhere('to_number', filter.party));
    for (const row of await query) {
      inbound.push({
        direction: 'in',
        id: Number(row.id),
        channel: 'sms',
        to: row.to_number,
        from: row.from_number,
        body: row.body,
        kind: 'command',
        purpose: row.command,
        status: row.status,
        sendAfter: null,
        sentAt: null,
        providerSid: row.message_sid,
        createdAt: row.received_at,
        errorCode: null,
        errorMessage: row.ignored_reason,
        supersededReason: null,
        cancelledBy: null,
        patronId: row.patron_id,
        libraryId: row.library_id,
      });
    }
  }

  if (filter.direction !== 'in' && filter.kind !== 'command') {
    let query = db('outbound_messages').orderBy('id', 'desc').limit(wanted);
    if (filter.beforeOutbound !== undefined) query = query.where('id', '<', filter.beforeOutbound);
    if (filter.library !== undefined) query = query.where('library_id', filter.library);
    if (filter.channel) query = query.where('channel', filter.channel);
    if (filter.to) query = query.where('to_address', filter.to);
    if (filter.status) query = query.where('status', filter.status);
    if (filter.kind) query = query.where('kind', filter.kind);
    if (filter.party) query = query.where((q) => q.where('to_address', filter.party).orWhere('from_address', filter.party));
    for (const row of await query) {
      outbound.push({
        direction: 'out',
        id: Number(row.id),
        channel: row.channel as Channel,
        to: row.to_address,
        from: row.from_address,
        body: row.body,
        kind: row.kind,
        purpose: row.purpose,
        status: row.status,
        sendAfter: row.send_after,
        sentAt: row.sent_at,
        providerSid: row.provider_sid,
        createdAt: row.created_at,
        errorCode: row.error_code,
        errorMessage: row.error_message,
        supersededReason: row.superseded_reason,
        cancelledBy: row.cancelled_by,
        patronId: row.patron_id,
        libraryId: row.library_id,
      });
    }
  }

  // Same instant: the reply is shown above the message it answers (it was written after it).
  const merged = [...inbound, ...outbound].sort(
    (a, b) => b.createdAt.localeCompare(a.createdAt) || (a.direction === b.direction ? b.id - a.id : a.direction === 'out' ? -1 : 1),
  );
  return merged.slice(filter.offset, wanted);
}
