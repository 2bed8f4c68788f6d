import { toStoredInstant, type Db } from './values.js';

/** The audit log: what operators did, and to what. */

export type AuditAction = 'message.retry' | 'message.cancel' | 'inbound.retry' | 'job.retry' | 'bull-board.change' | 'loan.ill-refused' | 'loan.ill-recalled';

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
