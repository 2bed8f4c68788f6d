import type { CalendarDate } from '../../src/domain/calendar-date.js';
import { toStoredInstant, type Db } from './values.js';

/** Marks a library's scan of the day as started (once: a second scan the same day keeps the first start). */
export async function startReminderScan(db: Db, libraryId: string, scanDate: CalendarDate, dueDate: CalendarDate, now: Date): Promise<void> {
  await db('reminder_scans')
    .insert({ library_id: libraryId, scan_date: scanDate, due_date: dueDate, started_at: toStoredInstant(now) })
    .onConflict(['library_id', 'scan_date'])
    .ignore();
}

export async function finishReminderScan(db: Db, libraryId: string, scanDate: CalendarDate, messages: number, now: Date): Promise<void> {
  await db('reminder_scans').where({ library_id: libraryId, scan_date: scanDate }).update({ finished_at: toStoredInstant(now), messages });
}

/** True when the library's scan of `scanDate` ran to its end. */
export async function reminderScanFinished(db: Db, libraryId: string, scanDate: CalendarDate): Promise<boolean> {
  return (await db('reminder_scans').where({ library_id: libraryId, scan_date: scanDate }).whereNotNull('finished_at').first('scan_date')) !== undefined;
}
