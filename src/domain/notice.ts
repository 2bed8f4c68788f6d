import type { CalendarDate } from './calendar-date.js';
import type { E164 } from './phone-number.js';

/** What the library system asks forny to tell a patron (SPEC §11). */
export const NOTICE_KINDS = ['reminder', 'overdue', 'recall', 'reservation_ready'] as const;
export type NoticeKind = (typeof NOTICE_KINDS)[number];

export interface NoticeLoan {
  /** The library system's item identifier (SIP2 `AB`); in the embedded mode an item's id or barcode. */
  readonly itemId: string;
  readonly title: string;
  /** Due date; for a recall, the new one. */
  readonly dueDate: CalendarDate;
}

export interface NoticeReservation {
  readonly title: string;
  readonly pickupBranch: string;
  /** The last day it can be collected. */
  readonly pickupBy: CalendarDate;
}

export interface NoticePatron {
  readonly cardNumber: string;
  readonly name: string;
  readonly mobile: E164 | null;
  readonly email: string | null;
  readonly smsOptIn: boolean;
  readonly emailOptIn: boolean;
}

/** One notice, checked and normalised (mobile in E.164, optional fields made null). */
export interface Notice {
  readonly id: string;
  readonly kind: NoticeKind;
  readonly patron: NoticePatron;
  readonly loans: readonly NoticeLoan[];
  readonly reservation: NoticeReservation | null;
}

/** What the texts need of a notice. */
export type NoticeContent = Pick<Notice, 'kind' | 'loans' | 'reservation'>;

/** The key of the one SMS and the one e-mail a notice writes (SPEC §11: one per notice id and channel). */
export const noticeDedupeKey = (noticeId: string, channel: 'sms' | 'email'): string => `notice:${noticeId}:${channel}`;

/** The notice a message was written for, read back from its key; null for a message no notice wrote. */
export function noticeIdOf(dedupeKey: string | null): string | null {
  const match = dedupeKey === null ? null : /^notice:(.+):(?:sms|email)$/s.exec(dedupeKey);
  return match?.[1] ?? null;
}
