import type { Db } from './values.js';
import { toStoredInstant } from './values.js';

/** Why a number is opted out: its own STOP, or Twilio's 21610 (the handset blocked the sender). */
export type OptOutSource = 'stop' | '21610';

/**
 * Records that this number wants no reminders or notices (SPEC §3, §11: STOP belongs to the
 * number). A number already opted out keeps its first record; true when this call opted it out.
 */
export async function optOutNumber(db: Db, mobile: string, source: OptOutSource, now: Date): Promise<boolean> {
  const inserted = await db('sms_opt_outs').insert({ mobile, source, at: toStoredInstant(now) }).onConflict('mobile').ignore().returning('mobile');
  return inserted.length > 0;
}

/** START: the number takes reminders and notices again. */
export async function optInNumber(db: Db, mobile: string): Promise<void> {
  await db('sms_opt_outs').where({ mobile }).delete();
}

export async function isNumberOptedOut(db: Db, mobile: string): Promise<boolean> {
  return (await db('sms_opt_outs').where({ mobile }).first()) !== undefined;
}

/** The numbers among these that are opted out. */
export async function optedOutAmong(db: Db, mobiles: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  const unique = [...new Set(mobiles)];
  for (let start = 0; start < unique.length; start += 500) {
    for (const row of await db('sms_opt_outs').whereIn('mobile', unique.slice(start, start + 500)).select('mobile')) out.add(row.mobile);
  }
  return out;
}
