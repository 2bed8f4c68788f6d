import type { Patron } from '../../db/repositories/library.js';
import type { NewRenewalResult } from '../../db/repositories/renewals.js';
import type { Db } from '../../db/repositories/values.js';
import type { LoansStillDue } from './loans-still-due.js';

/**
 * The library system loans are renewed in (SPEC §10), as the renew-all job sees it: forny's own
 * tables and rules (`embedded`), the library's own system over SIP2, or FBS's external API (SPEC
 * §13). One adapter per system,
 * built in createDeps; the job does not know which, except for `renewsInJobTransaction`.
 *
 * **Idempotent per request.** A request is one inbound message (`inboundId`); a job may run
 * `renewAll` for it any number of times (retries, a crash, a second worker, an operator's retry), and
 * an adapter whose renewals do not commit with the job's transaction must make that safe by itself:
 * - It never renews a loan twice for one request, however many runs, and whichever run lost its answer.
 * - A second run reports what earlier runs did: a loan renewed or refused before is in the report
 *   with that outcome (read from the adapter's records, not asked again), also when it is no longer
 *   on loan; the report of a run that completes covers every loan of the request once.
 * - It records its intent (request, card, loan, the due date before) in forny's database, committed,
 *   before the call that renews; and the outcome as soon as the answer comes.
 * - An intent with no outcome means the answer was lost (or a run is still waiting for it): the
 *   adapter reads the loan's state at the system and decides. Due date moved: renewed, record it.
 *   Unchanged, and no run can still be waiting: renew under the same intent. Cannot tell: do not
 *   renew, record it refused. While a run may still be waiting: throw LibrarySystemUnavailable.
 * - Past `deadline` it sends no renewal (withdrawing an intent whose call never left) and throws
 *   LibrarySystemUnavailable; `doneSoFar` then reads its records, asking the system nothing.
 * SIP2 (src/library/sip2/adapter.ts) and FBS (src/library/fbs/adapter.ts) do this with `ils_renewals`.
 */
export interface LibrarySystem {
  readonly kind: 'embedded' | 'sip2' | 'fbs';
  /** One line for people: what it is and where (never a password). */
  readonly description: string;
  /**
   * Where `renewAll` runs, the one decision the job makes on the system's behalf. True (embedded):
   * renewals are writes in forny's database, so `renewAll` runs inside the job's transaction and the
   * claim, renewals, results and reply commit together or not at all; a rerun finds the loans as they
   * were, or the message claimed. Run before the transaction, a crash after the renewals committed
   * would leave loans renewed with no record of the request, and the rerun would renew them again.
   * False (SIP2, FBS): renewals are network calls, never held inside a database transaction (it
   * would hold SQLite's write lock for minutes); `renewAll` runs before it, on the database itself,
   * and is idempotent per request as above.
   */
  readonly renewsInJobTransaction: boolean;
  /**
   * Renews every active loan of these patrons (the cards on the texting number) that the system
   * allows, once per request (`inboundId`, see above). Throws LibrarySystemUnavailable when it cannot be asked.
   */
  renewAll(request: RenewAllRequest): Promise<RenewAllReport>;
  /**
   * For a request being given up (SPEC §4): what renewAll had already done for it, from the
   * system's records in forny's database, asking the system nothing (it may be the reason). Nothing
   * when `renewsInJobTransaction`: its renewals commit with the answer or not at all.
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
  /** The job's transaction when `renewsInJobTransaction`, else the database itself. */
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
