import type { IgnoredReason } from '../../../db/repositories/inbound.js';
import type { AuditAction } from '../../../db/repositories/operator-actions.js';
import type { RenewalReason } from '../../../db/repositories/renewals.js';
import { isSupersedeReason, type Channel, type Direction, type MessageKind, type MessageStatus, type OutboundKind, type OutboundPurpose, type SupersedeReason } from '../../domain/message-status.js';
import type { NoticeKind } from '../../domain/notice.js';
import type { Command } from '../../domain/sms-command.js';
import type { QueueName } from '../../queue/queues.js';
import type { GiveUpCause } from './give-up-cause.js';
import type { JobState } from '../queue-reads.js';

/** The dashboard's Danish words for the codes stored in the database (code stays English). */

export const REASON_TEXT: Readonly<Record<RenewalReason, string>> = {
  not_renewable: 'materialet kan ikke fornys (udlånsbegrænsning)',
  recalled: 'fjernlånet er kaldt hjem af ejerbiblioteket',
  ill_refused: 'ejerbiblioteket har afvist fornyelse af fjernlånet',
  too_late: 'fjernlån skal fornys rettidigt',
  too_soon: 'kan først fornys 7 dage før afleveringsfristen',
  too_many: 'fornyet det højeste antal gange',
  on_reserve: 'reserveret af en anden låner',
  ils_refused: 'bibliotekssystemet afviste fornyelsen',
  patron_blocked: 'låneren er spærret i bibliotekssystemet',
};

export const STATUS_TEXT: Readonly<Record<MessageStatus, string>> = {
  received: 'modtaget',
  processed: 'behandlet',
  ignored: 'ignoreret',
  scheduled: 'planlagt',
  queued: 'i kø',
  sent: 'sendt',
  delivered: 'leveret',
  undelivered: 'ikke leveret',
  failed: 'fejlet',
  superseded: 'bortfaldet',
};

export const KIND_TEXT: Readonly<Record<MessageKind, string>> = {
  command: 'kommando',
  reply: 'svar',
  reminder: 'påmindelse',
  notice: 'meddelelse',
};

/** Outbound kinds in the plural, as the overview's "Kø af SMS" counts them. */
export const KIND_PLURAL_TEXT: Readonly<Record<OutboundKind, string>> = {
  reply: 'svar',
  reminder: 'påmindelser',
  notice: 'meddelelser',
};

export const NOTICE_KIND_TEXT: Readonly<Record<NoticeKind, string>> = {
  reminder: 'påmindelse',
  overdue: 'overskredet frist',
  recall: 'kaldt hjem',
  reservation_ready: 'reservering klar',
};

export const DIRECTION_TEXT: Readonly<Record<Direction, string>> = { in: 'ind', out: 'ud' };

export const CHANNEL_TEXT: Readonly<Record<Channel, string>> = { sms: 'SMS', email: 'e-mail' };

export const COMMAND_TEXT: Readonly<Record<Command, string>> = {
  'renew-all': 'FORNY ALLE',
  stop: 'STOP',
  start: 'START',
  help: 'HJÆLP',
  unknown: 'ukendt tekst',
};

export const PURPOSE_TEXT: Readonly<Record<OutboundPurpose, string>> = {
  'renew-all': 'svar på FORNY ALLE',
  'renew-all-failed': 'FORNY ALLE kunne ikke udføres',
  help: 'hjælpetekst',
  'not-linked': 'ukendt nummer',
  stop: 'afmelding bekræftet',
  start: 'tilmelding bekræftet',
  reminder: 'påmindelse',
  'ill-refused': 'fjernlån afvist',
  'ill-recalled': 'fjernlån kaldt tilbage',
  overdue: 'overskredet frist',
  recall: 'lån kaldt hjem',
  'reservation-ready': 'reservering klar',
};

export const IGNORED_TEXT: Readonly<Record<IgnoredReason, string>> = {
  not_a_phone_number: 'afsenderen er ikke et telefonnummer',
  rate_limited: 'for mange FORNY ALLE på kort tid',
  throttled: 'allerede besvaret inden for et døgn',
  reply_budget: 'nummeret har fået det højeste antal svar i døgnet',
  no_answer_needed: 'kræver intet svar',
  gave_up: 'opgivet: kunne ikke udføres i tide',
};

/** Why a renew-all was given up (give-up-cause.ts), as the Fornyelser list says it after "opgivet –". */
export const GIVE_UP_TEXT: Readonly<Record<GiveUpCause, string>> = {
  login_refused: 'bibliotekssystemet afviste login',
  not_answering: 'bibliotekssystemet svarede ikke',
  failing: 'bibliotekssystemet svarede med en fejl',
  too_slow: 'bibliotekssystemet nåede ikke at forny alle lån i tide',
  too_late: 'ikke udført i tide',
  every_try_failed: 'hvert forsøg på at forny fejlede',
};

export const JOB_STATE_TEXT: Readonly<Record<JobState, string>> = {
  waiting: 'venter',
  active: 'i gang',
  delayed: 'udskudt',
  failed: 'fejlet',
  completed: 'fuldført',
};

/**
 * The queues by what they do. The technical name stays beside it, small (`queueName` in parts.ts):
 * it is what the log, Bull Board, the metrics and the alert rules say.
 */
export const QUEUE_TEXT: Readonly<Record<QueueName, string>> = {
  'renew-all': 'Fornyelser (FORNY ALLE)',
  'sms-command': 'Andre SMS-kommandoer',
  'send-sms': 'SMS der sendes',
  'send-email': 'E-mails der sendes',
  reminders: 'Påmindelser (daglig kørsel)',
};

/** A code's Danish text, or the code itself when there is none (a value written by a newer version). */
export const label = (texts: Readonly<Record<string, string>>, code: string | null): string => (code === null ? '' : (texts[code] ?? code));

export const AUDIT_TEXT: Readonly<Record<AuditAction, string>> = {
  'message.retry': 'sendte en besked igen',
  'message.cancel': 'annullerede en besked',
  'inbound.retry': 'prøvede en opgivet FORNY ALLE igen',
  'job.retry': 'kørte et job igen',
  'bull-board.change': 'ændrede i Bull Board',
  'loan.ill-refused': 'registrerede at ejerbiblioteket afviste en fornyelse af et fjernlån',
  'loan.ill-recalled': 'registrerede at ejerbiblioteket kaldte et fjernlån hjem',
};

/** Why a message was superseded (its stored code), in Danish. */
export const SUPERSEDED_TEXT: Readonly<Record<SupersedeReason, string>> = {
  folded_into_later_reply: 'lagt sammen med et senere svar på FORNY ALLE',
  loans_settled: 'alle lånene i beskeden er fornyet eller afleveret',
  patron_sms_opt_out: 'låneren har frameldt sig SMS',
  stop_from_patron: 'låneren har frameldt sig SMS (STOP)',
  stop_from_number: 'nummeret har frameldt sig SMS (STOP)',
  cancelled_by_operator: 'annulleret af en operatør',
};

/** The Danish reason a superseded message carries (naming the operator who gave it up), or undefined for none. */
export function supersededReason(message: { readonly supersededReason: string | null; readonly cancelledBy: string | null }): string | undefined {
  if (!isSupersedeReason(message.supersededReason)) return undefined;
  if (message.supersededReason === 'cancelled_by_operator' && message.cancelledBy) return `annulleret af operatøren ${message.cancelledBy}`;
  return SUPERSEDED_TEXT[message.supersededReason];
}

/** Every table of Danish words the dashboard shows, for checks that none of them is English. */
export const ALL_LABELS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  REASON_TEXT,
  STATUS_TEXT,
  KIND_TEXT,
  DIRECTION_TEXT,
  CHANNEL_TEXT,
  COMMAND_TEXT,
  PURPOSE_TEXT,
  IGNORED_TEXT,
  GIVE_UP_TEXT,
  JOB_STATE_TEXT,
  QUEUE_TEXT,
  AUDIT_TEXT,
  SUPERSEDED_TEXT,
};
