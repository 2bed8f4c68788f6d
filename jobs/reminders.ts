import { runReminderScan, type ReminderDeps, type ScanResult } from '../src/reminders/reminder-scan.js';

export function createReminderProcessor(deps: ReminderDeps) {
  return async (): Promise<ScanResult> => runReminderScan(deps);
}
