import { toStoredInstant, type Db } from './values.js';

/**
 * Takes a per-key allowance of one use per `periodMs`: true when the key was not used within the
 * period (and marks it used now), false otherwise. One upsert, so concurrent callers cannot both win.
 */
export async function takeThrottle(db: Db, key: string, periodMs: number, now: Date): Promise<boolean> {
  const cutoff = toStoredInstant(new Date(now.getTime() - periodMs));
  const rows = await db('throttles')
    .insert({ key, last_at: toStoredInstant(now) })
    .onConflict('key')
    .merge(['last_at'])
    .where('throttles.last_at', '<=', cutoff)
    .returning('key');
  return rows.length === 1;
}
