import type { Patron } from '../../db/repositories/library.js';
import type { NewRenewalResult } from '../../db/repositories/renewals.js';
import type { Db } from '../../db/repositories/values.js';
import type { LoansStillDue } from './loans-still-due.js';

/**
 * The library system loans are renewed in (SPEC §10), as the renew-all job sees it: forny's own
 * tables and rules (`embedded`), or the library's own system over SIP2. The job does not know which.
 */
export interface LibrarySystem {
  readonly kind: 'embedded' | 'sip2';
  /** One line for people: what it is and where (never a password). */
  readonly description: string;
  /**
   * True when renewals happen in forny's database: `renewAll` then runs inside the job's
   * transaction (claim, renewals, results and reply commit together). Otherwise it runs before that
   * transaction, and its own records make a rerun for the same request renew nothing twice.
   */
  readonly transactional: boolean;
  /**
   * Renews every active loan of these patrons (the cards on the texting number) that the system
   * allows, once per request (`inboundId`). Throws LibrarySystemUnavailable when it cannot be asked.
   */
  renewAll(request: RenewAllRequest): Promise<RenewAllReport>;
  /**
   * For a request being given up (SPEC §4): what renewAll had already done for it, from the
   * system's records in forny's database, asking the system nothing (it may be the reason). Nothing
   * for a transactional system: its renewals commit with the answer or not at all.
   */
  doneSoFar(request: Pick<RenewAllRequest, 'inboundId' | 'patrons'>): Promise<RenewAllProgress>;
  /**
   * The send-time check of a reminder (SPEC §4, §10): which of the loans it names are still due on
   * the date it names. Loans the system cannot speak for are kept.
   */
  loansStillDue: LoansStillDue;
  /**
   * For /readyz and the dashboard: whether it can be asked now; if not, the kind of failure (what
   * /readyz shows) and the system's own reason (for the log: it may name the host, never a password).
   */
  check(): Promise<{ ok: true } | { ok: false; down: LibrarySystemDown; reason: string }>;
  close(): Promise<void>;
}

/** How the library system is down, as an operator can act on it (SPEC §7: no host, no credentials). */
export type LibrarySystemDown = 'not answering' | 'login refused' | 'failing';

export interface RenewAllRequest {
  /** The job's transaction when the system is transactional, else the database itself. */
  readonly db: Db;
  readonly inboundId: number;
  readonly patrons: readonly Patron[];
  readonly now: Date;
  /**
   * The request's give-up time (SPEC §4). A system outside forny's database sends no renewal after
   * it, whatever it is waiting for: it stops and throws LibrarySystemUnavailable, and the job gives
   * the request up.
   */
  readonly deadline: Date;
}

export interface RenewAllProgress {
  /** The loans decided so far, renewed or refused; recorded by the job with the given-up request. */
  readonly results: readonly NewRenewalResult[];
  /** The patrons' active loans as far as the system had listed them (M); at least `results.length`. */
  readonly total: number;
}

export interface RenewAllReport {
  /** False when the library system knows none of these cards (the unknown-number answer of SPEC §3). */
  readonly patronKnown: boolean;
  /** One result per active loan, renewed or refused with its reason; recorded by the job. */
  readonly results: readonly NewRenewalResult[];
}
