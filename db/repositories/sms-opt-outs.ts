import type { Db } from './values.js';
import { toStoredInstant } from './values.js';

/** Why a number is opted out: its own STOP, or Twilio's 21610 (the handset blocked the sender). */
export type OptOutSource = 'stop' | '21610';

/** The scope of a STOP that names no library: every library on the short code (SPEC §12). */
export const EVERY_LIBRARY = '*';

/**
 * Records that this number wants no reminders or notices from one library, or (`*`) from any
 * (SPEC §3, §11, §12: STOP belongs to the number). A scope already stopped keeps its first record;
 * true when this call stopped something new.
 */
export async function optOutNumber(db: Db, mobile: string, scope: string, source: OptOutSource, now: Date): Promise<boolean> {
  const inserted = await db('sms_opt_outs')
    .insert({ mobile, library_id: scope, source, at: toStoredInstant(now) })
    .onConflict(['mobile', 'library_id'])
    .ignore()
    .returning('mobile');
  return inserted.length > 0;
}

/**
 * START: the number takes reminders and notices again, from every library (`*`) or from one. A
 * START naming one library after a STOP of all keeps the others stopped: the `*` row becomes one
 * row for each of `otherLibraries`.
 */
export async function optInNumber(db: Db, mobile: string, scope: string, otherLibraries: readonly string[] = []): Promise<void> {
  if (scope === EVERY_LIBRARY) {
    await db('sms_opt_outs').where({ mobile }).delete();
    return;
  }
  const everything = await db('sms_opt_outs').where({ mobile, library_id: EVERY_LIBRARY }).first();
  await db('sms_opt_outs').where({ mobile }).whereIn('library_id', [scope, EVERY_LIBRARY]).delete();
  if (!everything) return;
  const rows = otherLibraries.filter((id) => id !== scope).map((id) => ({ mobile, library_id: id, source: everything.source, at: everything.at }));
  if (rows.length > 0) await db('sms_opt_outs').insert(rows).onConflict(['mobile', 'library_id']).ignore();
}

/** True when this number stopped this library's SMS, or every library's. */
export async function isNumberOptedOut(db: Db, mobile: string, libraryId: string | null): Promise<boolean> {
  const scopes = libraryId === null ? [EVERY_LIBRARY] : [EVERY_LIBRARY, libraryId];
  return (await db('sms_opt_outs').where({ mobile }).whereIn('library_id', scopes).first()) !== undefined;
}

/** The numbers among these that stopped this library's SMS (or every library's). */
export async function optedOutAmong(db: Db, libraryId: string, mobiles: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  const unique = [...new Set(mobiles)];
  for (let start = 0; start < unique.length; start += 500) {
    const rows = await db('sms_opt_outs')
      .whereIn('mobile', unique.slice(start, start + 500))
      .whereIn('library_id', [EVERY_LIBRARY, libraryId])
      .select('mobile');
    for (const row of rows) out.add(row.mobile);
  }
  return out;
}
