import { FAILED_STATUSES } from './dashboard-queries.js';
import { toStoredInstant, touched, type Db } from './values.js';

/** What operators do to the outbox from the dashboard, and the audit log that records it. */

/**
 * Puts a failed message back in the outbox to leave now (the send job still waits for the window).
 * Its attempts and last error stay: until it is sent (which clears the error), the row still says
 * why it had failed. True when the message was failed and is now queued.
 */
export async function requeueFailedMessage(db: Db, id: number, now: Date): Promise<boolean> {
  const stamp = toStoredInstant(now);
  const changed = await db('outbound_messages')
    .where({ id })
    .whereIn('status', FAILED_STATUSES)
    .update({ status: 'queued', send_after: stamp, send_started_at: null, status_at: stamp, updated_at: stamp });
  return touched(changed) === 1;
}

/**
 * Gives a failed message up for good: `superseded`, with the reason where superseded messages keep
 * theirs. The error code stays. True when the message was failed and is now superseded.
 */
export async function cancelFailedMessage(db: Db, id: number, reason: string, now: Date): Promise<boolean> {
  const stamp = toStoredInstant(now);
  const changed = await db('outbound_messages')
    .where({ id })
    .whereIn('status', FAILED_STATUSES)
    .update({ status: 'superseded', error_message: reason.slice(0, 500), status_at: stamp, updated_at: stamp });
  return touched(changed) === 1;
}

export type AuditAction = 'message.retry' | 'message.cancel' | 'job.retry' | 'bull-board.change' | 'loan.ill-refused' | 'loan.ill-recalled';

export interface AuditEntry {
  readonly id: number;
  readonly at: string;
  readonly actor: string;
  readonly action: AuditAction;
  readonly target: string;
  readonly detail: string | null;
}

export async function recordAudit(db: Db, entry: Omit<AuditEntry, 'id' | 'at'>, now: Date): Promise<void> {
  await db('audit_log').insert({
    at: toStoredInstant(now),
    actor: entry.actor.slice(0, 100),
    action: entry.action,
    target: entry.target.slice(0, 100),
    detail: entry.detail,
  });
}

export async function recentAudit(db: Db, limit: number): Promise<AuditEntry[]> {
  const rows = await db('audit_log').orderBy('id', 'desc').limit(limit);
  return rows.map((row) => ({ id: Number(row.id), at: row.at, actor: row.actor, action: row.action as AuditAction, target: row.target, detail: row.detail }));
}
