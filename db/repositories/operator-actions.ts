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
  /** The library the action was about (SPEC §12); `default` for a single library, null for the gateway's own (a queue job). */
  readonly libraryId?: string | null;
}

export async function recordAudit(db: Db, entry: Omit<AuditEntry, 'id' | 'at'>, now: Date): Promise<void> {
  await db('audit_log').insert({
    at: toStoredInstant(now),
    actor: entry.actor.slice(0, 100),
    action: entry.action,
    target: entry.target.slice(0, 100),
    detail: entry.detail,
    // NOT NULL: an action on no library's row (a failed job) is the default library's, as before there were several.
    library_id: entry.libraryId ?? 'default',
  });
}

/** The latest entries; of one library when `library` is given (SPEC §12). */
export async function recentAudit(db: Db, limit: number, library?: string): Promise<AuditEntry[]> {
  let query = db('audit_log').orderBy('id', 'desc').limit(limit);
  if (library !== undefined) query = query.where('library_id', library);
  const rows = await query;
  return rows.map((row) => ({ id: Number(row.id), at: row.at, actor: row.actor, action: row.action as AuditAction, target: row.target, detail: row.detail, libraryId: row.library_id }));
}
