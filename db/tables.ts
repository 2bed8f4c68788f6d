/*
 * The tables as the database hands their rows back, one interface each, registered with knex so
 * that `db('outbound_messages')` is typed wherever it is written. Repositories map these rows to the
 * application's types; nothing else reads a row. Migrations are the schema; this file is its shape.
 */

/** SQLite hands booleans back as 0/1, PostgreSQL as true/false (read them with `toBool`). */
export type DbBool = boolean | number;

export interface PatronRow {
  /** The library the row belongs to (SPEC §12); `default` for a single library. */
  library_id: string;
  id: string;
  card_number: string;
  name: string;
  mobile: string | null;
  sms_opt_in: DbBool;
  email: string | null;
  email_opt_in: DbBool;
  created_at: string;
  updated_at: string;
}

export interface TitleRow {
  /** The library the row belongs to (SPEC §12); `default` for a single library. */
  library_id: string;
  id: string;
  title: string;
  renewable: DbBool;
}

export interface ItemRow {
  /** The library the row belongs to (SPEC §12); `default` for a single library. */
  library_id: string;
  id: string;
  title_id: string;
  barcode: string;
  renewable: DbBool;
}

export interface LoanRow {
  /** The library the row belongs to (SPEC §12); `default` for a single library. */
  library_id: string;
  id: string;
  patron_id: string;
  item_id: string;
  kind: string;
  loan_period_days: number;
  borrowed_on: string;
  due_date: string;
  renewals: number;
  owning_library: string | null;
  returned_on: string | null;
  provisional: DbBool;
  previous_due_date: string | null;
  /** The owning library recalled this interlibrary loan (rule 2). */
  recalled_on: string | null;
  /** The owning library refused its last renewal (rule 3). */
  ill_refused_on: string | null;
  updated_at: string;
}

export interface ReservationRow {
  /** The library the row belongs to (SPEC §12); `default` for a single library. */
  library_id: string;
  id: string;
  patron_id: string;
  title_id: string;
  created_at: string;
}

export interface InboundRow {
  /** The library the message is about (SPEC §12); null for the gateway's own answers. */
  library_id: string | null;
  id: number;
  message_sid: string;
  account_sid: string | null;
  from_number: string;
  to_number: string;
  body: string;
  command: string;
  status: string;
  ignored_reason: string | null;
  give_up_cause: string | null;
  patron_id: string | null;
  reply_id: number | null;
  received_at: string;
  processed_at: string | null;
  /** An operator's retry of a renew-all that had been given up: its give-up time counts from here. */
  retried_at: string | null;
}

export interface RenewalResultRow {
  id: number;
  inbound_id: number | null;
  /** forny's loan id (embedded), or the library system's item id (SIP2 `AB`). */
  loan_id: string;
  patron_id: string;
  outcome: string;
  reason: string | null;
  /** `YYYY-MM-DD`, or the library system's own text; null when the system gave none. */
  old_due_date: string | null;
  new_due_date: string | null;
  provisional: DbBool;
  created_at: string;
  /** Kept for results from the library's own system (SPEC §10): the item, its title, its words. */
  item_id: string | null;
  title: string | null;
  system_message: string | null;
}

export interface OutboundRow {
  /** The library the message is about (SPEC §12); null for the gateway's own answers. */
  library_id: string | null;
  id: number;
  channel: string;
  kind: string;
  purpose: string;
  patron_id: string | null;
  inbound_id: number | null;
  to_address: string;
  from_address: string;
  subject: string | null;
  body: string;
  html: string | null;
  status: string;
  send_after: string;
  dedupe_key: string | null;
  provider_sid: string | null;
  attempts: number;
  send_started_at: string | null;
  outcome_uncertain: DbBool;
  sent_at: string | null;
  status_at: string | null;
  error_code: string | null;
  error_message: string | null;
  superseded_by: number | null;
  superseded_reason: string | null;
  cancelled_by: string | null;
  created_at: string;
  updated_at: string;
}

export interface OutboundLoanRow {
  outbound_id: number;
  loan_id: string;
  due_date: string;
}

export interface StatusEventRow {
  id: number;
  provider_sid: string;
  status: string;
  error_code: string | null;
  received_at: string;
}

export interface ThrottleRow {
  key: string;
  last_at: string;
}

export interface ReminderScanRow {
  library_id: string;
  scan_date: string;
  due_date: string;
  started_at: string;
  finished_at: string | null;
  messages: number;
}

export interface IlsRenewalRow {
  id: number;
  inbound_id: number;
  item_id: string;
  /** The card it was renewed for; null on rows written before 009-ils-renewal-cards. */
  card_number: string | null;
  title: string | null;
  old_due_date: string | null;
  outcome: string | null;
  new_due_date: string | null;
  system_message: string | null;
  intended_at: string;
  finished_at: string | null;
  /** FBS's loanId when it is not the item id (013-fbs-renewals); null for SIP2. */
  loan_id: string | null;
  /** The refusal's reason code when it is not `ils_refused`; null for SIP2. */
  reason: string | null;
  provisional: DbBool;
}

export interface IlsRenewalCardRow {
  id: number;
  inbound_id: number;
  card_number: string;
  charged: number;
  listed_at: string;
}

export interface AuditRow {
  /** The library the row belongs to (SPEC §12); `default` for a single library. */
  library_id: string;
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string;
  detail: string | null;
}

export interface NoticeRow {
  /** The library the row belongs to (SPEC §12); `default` for a single library. */
  library_id: string;
  id: string;
  kind: string;
  card_number: string;
  patron_id: string;
  content_hash: string;
  /** The notice's loans, JSON: `[{itemId, title, dueDate}]`. */
  loans: string;
  sms_message_id: number | null;
  email_message_id: number | null;
  received_at: string;
}

export interface SmsOptOutRow {
  /** A library's id, or `*` for every library on the short code. */
  library_id: string;
  mobile: string;
  source: string;
  at: string;
}

declare module 'knex/types/tables.js' {
  interface Tables {
    patrons: PatronRow;
    titles: TitleRow;
    items: ItemRow;
    loans: LoanRow;
    reservations: ReservationRow;
    inbound_messages: InboundRow;
    renewal_results: RenewalResultRow;
    outbound_messages: OutboundRow;
    outbound_loans: OutboundLoanRow;
    message_status_events: StatusEventRow;
    throttles: ThrottleRow;
    reminder_scans: ReminderScanRow;
    audit_log: AuditRow;
    ils_renewals: IlsRenewalRow;
    ils_renewal_cards: IlsRenewalCardRow;
    notices: NoticeRow;
    sms_opt_outs: SmsOptOutRow;
  }
}
