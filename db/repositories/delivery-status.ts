import { receiptRank, type OutboundStatus } from '../../src/domain/message-status.js';
import { applyReceiptStatus, getOutboundByProviderSid } from './outbound.js';
import { rowsOf } from '../statement.js';
import { toStoredInstant, type Db } from './values.js';

/**
 * Twilio's message statuses mapped onto the outbox's. Everything up to Twilio handing the message
 * on counts as `sent` by us; `read` (RCS/WhatsApp) is delivered; `canceled` never left.
 */
export const TWILIO_STATUS: Readonly<Record<string, OutboundStatus>> = {
  accepted: 'sent',
  scheduled: 'sent',
  queued: 'sent',
  sending: 'sent',
  sent: 'sent',
  delivered: 'delivered',
  read: 'delivered',
  undelivered: 'undelivered',
  failed: 'failed',
  canceled: 'failed',
};

export type ReceiptResult = 'applied' | 'duplicate' | 'stale' | 'unknown-status' | 'pending';

/**
 * Records a delivery receipt once per (sid, status) and applies it when it moves the message on.
 * A receipt for a sid not yet written (the callback beat the API response) waits as `pending` and
 * is applied when the sid is recorded.
 */
export async function recordReceipt(db: Db, receipt: { providerSid: string; twilioStatus: string; errorCode: string | null }, now: Date): Promise<ReceiptResult> {
  const status = TWILIO_STATUS[receipt.twilioStatus];
  if (!status) return 'unknown-status';
  const inserted = await db('message_status_events')
    .insert({ provider_sid: receipt.providerSid, status: receipt.twilioStatus, error_code: receipt.errorCode, received_at: toStoredInstant(now) })
    .onConflict(['provider_sid', 'status'])
    .ignore()
    .returning('id');
  if (inserted.length === 0) return 'duplicate';
  if (!(await getOutboundByProviderSid(db, receipt.providerSid))) return 'pending';
  return (await applyReceiptStatus(db, receipt.providerSid, status, receipt.errorCode, now)) ? 'applied' : 'stale';
}

/** Applies receipts that arrived before the send recorded its sid, in order of progress. */
export async function applyPendingReceipts(db: Db, providerSid: string, now: Date): Promise<void> {
  const events = await rowsOf<{ status: string; error_code: string | null }>(db, 'SELECT status, error_code FROM message_status_events WHERE provider_sid = ?', [providerSid]);
  const ordered = events
    .map((event) => ({ status: TWILIO_STATUS[event.status], errorCode: event.error_code }))
    .filter((event): event is { status: OutboundStatus; errorCode: string | null } => event.status !== undefined)
    .sort((a, b) => receiptRank(a.status) - receiptRank(b.status));
  for (const event of ordered) await applyReceiptStatus(db, providerSid, event.status, event.errorCode, now);
}
