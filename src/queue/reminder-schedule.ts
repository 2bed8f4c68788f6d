import { DateTime } from 'luxon';
import { reminderScanFinished } from '../../db/repositories/reminder-scans.js';
import type { Deps } from '../deps.js';
import { dateIn } from '../domain/calendar-date.js';
import type { Queues } from './queues.js';

export const REMINDER_SCHEDULER_ID = 'daily-reminder-scan';

type ScheduleDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'queues' | 'libraries'>;

/** The cron pattern for REMINDER_SCAN_AT in the library's zone (BullMQ job scheduler, DST-aware). */
export async function ensureReminderSchedule(queues: Queues, config: ScheduleDeps['config']): Promise<void> {
  const { hour, minute } = config.reminders.scanAt;
  await queues.reminders.upsertJobScheduler(
    REMINDER_SCHEDULER_ID,
    { pattern: `0 ${minute} ${hour} * * *`, tz: config.timeZone },
    { name: 'scan', data: {} },
  );
}

/**
 * At start: if today's scan time has passed and today's scan has not run for every library (the process was down at
 * 07:00, or Redis lost the schedule), run it now. Returns whether a scan was enqueued.
 */
export async function catchUpReminderScan(deps: ScheduleDeps): Promise<boolean> {
  const now = DateTime.fromJSDate(deps.clock.now(), { zone: deps.config.timeZone });
  const scanTime = now.set({ ...deps.config.reminders.scanAt, second: 0, millisecond: 0 });
  if (now < scanTime) return false;
  const scanDate = dateIn(deps.clock.now(), deps.config.timeZone);
  const finished = await Promise.all(deps.libraries.all.map((library) => reminderScanFinished(deps.db, library.id, scanDate)));
  if (finished.every(Boolean)) return false;
  await deps.queues.reminders.add('scan', {}, { jobId: `scan-${scanDate}` });
  return true;
}
