/**
 * The message state machines, written once: every status list, and every change a message may go
 * through, with the statuses it may start from. The repositories apply these (no other code changes
 * a message's status); the API validates against the lists; the dashboard labels them.
 */

export const CHANNELS = ['sms', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];

export const DIRECTIONS = ['in', 'out'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** What forny writes: an answer to a patron's message, a reminder, or a notice (ILL decisions, the library system). */
export const OUTBOUND_KINDS = ['reply', 'reminder', 'notice'] as const;
export type OutboundKind = (typeof OUTBOUND_KINDS)[number];

/** Kinds as SPEC §7 lists them: an inbound message is a `command`. */
export const MESSAGE_KINDS = ['command', ...OUTBOUND_KINDS] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

/** Finer than kind: why this message was written. */
export const OUTBOUND_PURPOSES = ['renew-all', 'renew-all-failed', 'help', 'not-linked', 'stop', 'start', 'reminder', 'ill-refused', 'ill-recalled', 'overdue', 'recall', 'reservation-ready'] as const;
export type OutboundPurpose = (typeof OUTBOUND_PURPOSES)[number];

/** `failed`: a renew-all that could not be done in time (SPEC §4); nothing was renewed, the patron was told. */
export const INBOUND_STATUSES = ['received', 'processed', 'ignored', 'failed'] as const;
export type InboundStatus = (typeof INBOUND_STATUSES)[number];

export const OUTBOUND_STATUSES = ['scheduled', 'queued', 'sent', 'delivered', 'undelivered', 'failed', 'superseded'] as const;
export type OutboundStatus = (typeof OUTBOUND_STATUSES)[number];

/** Every status a message of either direction can have (the API's `status` filter). */
export const MESSAGE_STATUSES = [...new Set([...INBOUND_STATUSES, ...OUTBOUND_STATUSES])] as readonly (InboundStatus | OutboundStatus)[];
export type MessageStatus = InboundStatus | OutboundStatus;

/** Statuses in which an outbound message still has to leave. */
export const UNFINISHED = ['scheduled', 'queued'] as const satisfies readonly OutboundStatus[];

/** Statuses in which a message did not reach the patron and an operator may send it again. */
export const FAILED_STATUSES = ['failed', 'undelivered'] as const satisfies readonly OutboundStatus[];

export const isUnfinished = (status: OutboundStatus): boolean => (UNFINISHED as readonly OutboundStatus[]).includes(status);
export const isFailedStatus = (status: OutboundStatus): boolean => (FAILED_STATUSES as readonly OutboundStatus[]).includes(status);

interface Transition<S extends string> {
  readonly from: readonly S[];
  /** Where the message ends; null when the change keeps the status (a failed attempt that will be retried). */
  readonly to: S | null;
}

/** Each change of an inbound message, and the statuses it may start from. */
export const INBOUND_TRANSITIONS = {
  /** A job takes a stored message: exactly one caller wins, whatever runs twice. */
  claim: { from: ['received'], to: 'processed' },
  /** A taken message that needs no answer (throttled, rate-limited, no reply budget). */
  ignore: { from: ['processed'], to: 'ignored' },
  /** A renew-all that could not be done in time: given up before anything was renewed (SPEC §4). */
  giveUp: { from: ['received'], to: 'failed' },
  /** An operator asks for a given-up renew-all to be tried again. */
  retry: { from: ['failed'], to: 'received' },
} as const satisfies Record<string, Transition<InboundStatus>>;

/** Each change of an outbound message, and the statuses it may start from. */
export const OUTBOUND_TRANSITIONS = {
  /** A send attempt takes the message (only while it still has to leave). */
  claim: { from: UNFINISHED, to: 'queued' },
  /** The provider took it. */
  sent: { from: ['queued'], to: 'sent' },
  /** An attempt failed and another will follow. */
  attemptFailed: { from: UNFINISHED, to: null },
  /** The last attempt failed, or the failure is permanent. */
  fail: { from: UNFINISHED, to: 'failed' },
  /** The window closed before it could leave: wait for the next opening. */
  reschedule: { from: UNFINISHED, to: 'scheduled' },
  /** Its text changed before it left (a reminder recounted). */
  rewrite: { from: UNFINISHED, to: null },
  /** Not to be sent after all (stale reminder, folded reply, STOP). */
  supersede: { from: UNFINISHED, to: 'superseded' },
  /** An operator sends a failed message again. */
  requeue: { from: FAILED_STATUSES, to: 'queued' },
  /** An operator gives a failed message up. */
  cancel: { from: FAILED_STATUSES, to: 'superseded' },
} as const satisfies Record<string, Transition<OutboundStatus>>;

export type OutboundTransition = keyof typeof OUTBOUND_TRANSITIONS;

/**
 * Why a waiting message was superseded (not sent after all), stored as the code
 * (`outbound_messages.superseded_reason`); the dashboard has a Danish label for each.
 */
export const SUPERSEDE_REASONS = [
  /** A waiting renew-all reply folded into one answering a later request from the number (SPEC §5). */
  'folded_into_later_reply',
  /** A reminder none of whose loans is still due: renewed or returned since it was written. */
  'loans_settled',
  /** The library's directory says the patron wants no SMS. */
  'patron_sms_opt_out',
  /** The patron texted STOP. */
  'stop_from_patron',
  /** STOP holds for the number (a STOP from a number on no card, or Twilio's 21610). */
  'stop_from_number',
  /** An operator gave a failed message up (`cancelled_by` names the operator). */
  'cancelled_by_operator',
] as const;
export type SupersedeReason = (typeof SUPERSEDE_REASONS)[number];

/**
 * Why a renew-all was given up (SPEC §4), stored with the request (`inbound_messages.give_up_cause`):
 * - `login_refused`, `not_answering`, `failing`: the library system, as its last error said;
 * - `too_slow`: the system was reached and renewed some loans, but did not finish in time;
 * - `too_late`: the give-up time passed before the request could be taken up (workers or Redis away);
 * - `every_try_failed`: the tries ran out for a reason that was not the library system's.
 */
export const GIVE_UP_CAUSES = ['login_refused', 'not_answering', 'failing', 'too_slow', 'too_late', 'every_try_failed'] as const;
export type GiveUpCause = (typeof GIVE_UP_CAUSES)[number];

export const isGiveUpCause = (value: string | null): value is GiveUpCause => (GIVE_UP_CAUSES as readonly (string | null)[]).includes(value);

export const isSupersedeReason = (value: string | null): value is SupersedeReason => (SUPERSEDE_REASONS as readonly (string | null)[]).includes(value);

/**
 * How far a message has come by delivery receipts; a receipt moves a message only forward
 * (delivered stays delivered; a superseded message never left).
 */
const RECEIPT_RANK: Readonly<Record<OutboundStatus, number>> = {
  scheduled: 0,
  queued: 1,
  sent: 2,
  undelivered: 3,
  failed: 3,
  delivered: 4,
  superseded: 5,
};

/** The statuses a receipt saying `status` may move a message from (never `scheduled`: it has not left). */
export function receiptSources(status: OutboundStatus): OutboundStatus[] {
  return OUTBOUND_STATUSES.filter((other) => RECEIPT_RANK[other] < RECEIPT_RANK[status] && other !== 'scheduled');
}

/** Orders receipts that arrived together by how far they move a message. */
export const receiptRank = (status: OutboundStatus): number => RECEIPT_RANK[status];
