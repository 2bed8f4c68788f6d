import { readFileSync } from 'node:fs';
import type { Knex } from 'knex';
import type { Patron } from '../../../db/repositories/library.js';
import type { NewRenewalResult } from '../../../db/repositories/renewals.js';
import {
  listIlsRenewals,
  recordIlsIntent,
  recordIlsListing,
  recordIlsOutcome,
  restampIlsIntent,
  withdrawIlsIntent,
  type IlsRenewal,
} from '../../../db/repositories/ils-renewals.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { LibrarySystem, LibrarySystemDown, RenewAllProgress, RenewAllReport } from '../library-system.js';
import { LibrarySystemUnavailable } from '../library-system-unavailable.js';
import { doneSoFarFromRecords, renewCardByCard, type CardReport as CardOutcome } from '../card-by-card.js';
import type { Sip2Encoding } from './codec.js';
import type { Sip2Connection } from './connection.js';
import { Sip2Error, type Sip2ErrorCode } from './errors.js';
import { Sip2Pool } from './pool.js';
import { Sip2UrlError, describeSip2, type Sip2Options } from './url.js';

/** One item's outcome at the system for one card, before it becomes the port's result. */
interface Sip2Loan {
  readonly itemId: string;
  readonly title: string | null;
  readonly outcome: 'renewed' | 'refused';
  readonly reason: 'ils_refused' | null;
  readonly systemMessage: string | null;
  /** `YYYY-MM-DD`, or the system's own text. */
  readonly oldDueDate: string | null;
  readonly newDueDate: string | null;
}

/** One card's answer: `64` valid patron `BL` = `N` → not known, nothing renewed. */
type CardReport = CardOutcome<Sip2Loan>;

/** Knobs the URL does not carry; tests shorten them. */
export interface Sip2Tuning {
  /** Charged items asked per `63` (BP..BQ); the system may send fewer. */
  readonly pageSize?: number;
  /** The pool's reconnect backoff; DEFAULT_BACKOFF (1 s doubling, at most 5 s) unless given. */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

/** Circulation statuses (18) that mean the item is on no one's loan, whatever AH says. */
const NOT_ON_LOAN = new Set(['02', '03', '09', '10']);

/**
 * The library's own system over SIP2 (SPEC §10) behind the port: each card on the texting number is
 * asked in turn, `63` paged for its charged items (the patron's active loans), then per item `17`
 * and `29`; the system's answer is the rule (a refusal is `ils_refused`, its words kept beside it).
 * Idempotent per request as the port defines it: the intent is committed in `ils_renewals` before
 * each `29`; a rerun reports finished items from that table, and one that finds an intent with no
 * outcome asks `17` first and sends `29` again only when the due date has not moved.
 */
export function createSip2LibrarySystem(
  options: Sip2Options,
  deps: { db: Knex; clock: Clock; logger: Logger },
  tuning: Sip2Tuning = {},
): LibrarySystem {
  const { db, clock } = deps;
  const logger = deps.logger.child({ librarySystem: describeSip2(options) });
  const pageSize = tuning.pageSize ?? 50;
  // Once per pool: a wrong encoding garbles every answer, and one line says it as well as a thousand.
  let warnedEncoding = false;
  const onWrongEncoding = (looksLike: Sip2Encoding, code: string) => {
    if (warnedEncoding) return;
    warnedEncoding = true;
    logger.warn({ code, encoding: options.encoding, looksLike }, wrongEncodingLine(options.encoding, looksLike));
  };
  const pool = new Sip2Pool({ ...options, caPem: readCa(options.ca), onWrongEncoding, ...(tuning.backoff ? { backoff: tuning.backoff } : {}) }, clock);
  const institution = options.institution;
  // A Renew older than this has had its answer or its time-out: no run is still waiting for it.
  const inFlightMs = 2 * options.timeoutMs;

  /** The items charged to the card, in the system's order; or that the system does not know the patron, in its words. */
  async function chargedItems(connection: Sip2Connection, cardNumber: string): Promise<string[] | { readonly unknown: true; readonly says: string | null }> {
    const items: string[] = [];
    const seen = new Set<string>();
    const take = (ids: readonly string[]) => ids.filter((id) => !seen.has(id)).forEach((id) => (seen.add(id), items.push(id)));
    const first = await connection.request({ kind: 'patronInformation', institution, patron: cardNumber, at: clock.now(), start: 1, end: pageSize });
    if (first.valid === false) return { unknown: true, says: first.screenMessage };
    take(first.chargedItems);
    while (items.length < first.chargedCount) {
      const before = items.length;
      const page = await connection.request({
        kind: 'patronInformation',
        institution,
        patron: cardNumber,
        at: clock.now(),
        start: before + 1,
        end: before + pageSize,
      });
      take(page.chargedItems);
      if (items.length === before) {
        // The count promised more than the list holds; the list is what can be renewed.
        logger.warn({ charged: first.chargedCount, listed: items.length }, 'sip2: fewer charged items listed than counted');
        break;
      }
    }
    return items;
  }

  /** The request's deadline has passed, by the clock read now: the system may have taken minutes since the job began. */
  const pastDeadline = (deadline: Date) => clock.now().getTime() >= deadline.getTime();
  const tooLate = (itemId: string) =>
    new LibrarySystemUnavailable(`${describeSip2(options)}: the request's give-up time passed before the renewal of ${itemId}; nothing more renewed`);

  async function renewItem(
    connection: Sip2Connection,
    request: { inboundId: number; cardNumber: string; deadline: Date },
    itemId: string,
    earlier: IlsRenewal | undefined,
  ): Promise<Sip2Loan> {
    const { inboundId, cardNumber, deadline } = request;
    if (earlier && earlier.outcome !== null) return fromRecord(earlier);
    const info = await connection.request({ kind: 'itemInformation', institution, item: itemId, at: clock.now() });
    const title = info.title ?? earlier?.title ?? null;
    const key = { inboundId, itemId };
    if (earlier) {
      // A Renew went out (or was about to) and no answer was recorded: did it happen?
      if (earlier.oldDueDate === null || info.dueDate === null) {
        // Without a due date before and now there is no telling; a second Renew could renew twice.
        logger.warn({ inboundId, itemId }, 'sip2: cannot tell whether an unanswered renewal happened; not renewing again');
        await recordIlsOutcome(db, key, { outcome: 'refused', newDueDate: null, systemMessage: null, title }, clock.now());
        return { itemId, title, outcome: 'refused', reason: 'ils_refused', systemMessage: null, oldDueDate: earlier.oldDueDate, newDueDate: null };
      }
      if (info.dueDate !== earlier.oldDueDate) {
        await recordIlsOutcome(db, key, { outcome: 'renewed', newDueDate: info.dueDate, systemMessage: null, title }, clock.now());
        return { itemId, title, outcome: 'renewed', reason: null, systemMessage: null, oldDueDate: earlier.oldDueDate, newDueDate: info.dueDate };
      }
      // Unchanged: the renewal has not happened. If the Renew may still be on its way (another run
      // of this request waiting for its answer), wait; past that, ask again under the same intent.
      const sentAgo = clock.now().getTime() - Date.parse(earlier.intendedAt);
      if (sentAgo < inFlightMs) {
        throw new LibrarySystemUnavailable(`${describeSip2(options)}: the renewal of ${itemId} may still be awaiting its answer; trying again later`);
      }
      await restampIlsIntent(db, key, clock.now());
    } else {
      await recordIlsIntent(db, { inboundId, cardNumber, itemId, title, oldDueDate: info.dueDate }, clock.now());
    }
    // As the Renew is about to leave, after the write above (which may have waited for the database).
    if (pastDeadline(deadline)) {
      // A fresh intent never went out; an earlier one keeps saying that a Renew may have.
      if (!earlier) await withdrawIlsIntent(db, key);
      throw tooLate(itemId);
    }
    const answer = await connection.request({ kind: 'renew', institution, patron: cardNumber, item: itemId, at: clock.now() });
    const renewed = answer.ok && answer.renewalOk;
    const loan: Sip2Loan = {
      itemId,
      title: title ?? answer.title,
      outcome: renewed ? 'renewed' : 'refused',
      reason: renewed ? null : 'ils_refused',
      systemMessage: answer.screenMessage,
      oldDueDate: info.dueDate,
      newDueDate: renewed ? answer.dueDate : null,
    };
    await recordIlsOutcome(db, key, { outcome: loan.outcome, newDueDate: loan.newDueDate, systemMessage: loan.systemMessage, title: loan.title }, clock.now());
    return loan;
  }

  /** Renews every item charged to one card, each at most once per inboundId however often this runs. */
  async function renewCard(inboundId: number, patron: Patron, deadline: Date): Promise<CardReport> {
    const { cardNumber } = patron;
    // This card's rows only: another card on the same number has its own items and its own report.
    const earlier = new Map((await listIlsRenewals(db, inboundId, cardNumber)).map((row) => [row.itemId, row] as const));
    const report = await unavailableOnSip2Error(() =>
      pool.use(async (connection): Promise<CardReport> => {
        const items = await chargedItems(connection, cardNumber);
        if (!Array.isArray(items)) {
          // Without this line the dashboard and the debug log read it as a number forny does not know.
          logger.warn({ inboundId, patronId: patron.id, card: lastDigits(cardNumber) }, unknownCardLine(cardNumber, patron.id, items.says));
          return { patronKnown: false };
        }
        await recordIlsListing(db, { inboundId, cardNumber, charged: items.length }, clock.now());
        const loans: Sip2Loan[] = [];
        for (const itemId of items) loans.push(await renewItem(connection, { inboundId, cardNumber, deadline }, itemId, earlier.get(itemId)));
        // Finished in an earlier run and no longer charged (returned since): still part of this SMS's answer.
        for (const row of earlier.values()) if (row.outcome !== null && !items.includes(row.itemId)) loans.push(fromRecord(row));
        return { patronKnown: true, loans };
      }, { deadline }),
    );
    const loans = report.patronKnown ? report.loans : [];
    logger.info(
      { inboundId, patronKnown: report.patronKnown, charged: loans.length, renewed: loans.filter((loan) => loan.outcome === 'renewed').length },
      'sip2: renew-all done',
    );
    return report;
  }

  return {
    kind: 'sip2',
    description: describeSip2(options),
    renewsInJobTransaction: false,

    renewAll: ({ inboundId, patrons, deadline }): Promise<RenewAllReport> =>
      renewCardByCard(patrons, (patron) => renewCard(inboundId, patron, deadline), (patron, loan) => resultOf(inboundId, patron, loan)),

    doneSoFar: ({ inboundId, patrons }): Promise<RenewAllProgress> => doneSoFarFromRecords(db, inboundId, patrons, (patron, row) => resultOf(inboundId, patron, fromRecord(row))),

    // Item Information per item: a loan whose due date moved (renewed) or that is on no one's loan
    // (returned) is no longer due on the date the reminder names.
    async loansStillDue(_db, _outboundId, loans) {
      const current = await unavailableOnSip2Error(() =>
        pool.use(async (connection) => {
          const dates = new Map<string, string | null>();
          for (const item of new Set(loans.map((loan) => loan.itemId))) {
            const info = await connection.request({ kind: 'itemInformation', institution, item, at: clock.now() });
            dates.set(item, NOT_ON_LOAN.has(info.circulationStatus) ? null : info.dueDate);
          }
          return dates;
        }),
      );
      return loans.filter((loan) => current.get(loan.itemId) === loan.dueDate);
    },

    // For /readyz and the start check: can forny log in and ask the system's status?
    async check() {
      try {
        await pool.use((connection) => connection.request({ kind: 'scStatus' }));
        return { ok: true };
      } catch (error) {
        if (error instanceof Sip2Error) return { ok: false, down: downOf(error.code), reason: error.message };
        throw error;
      }
    },

    async close() {
      pool.close();
    },
  };
}

/** One item's outcome at the system as the job records it: the SIP2 item id is the loan's id (SPEC §10). */
function resultOf(inboundId: number, patron: Patron, loan: Sip2Loan): NewRenewalResult {
  return {
    inboundId,
    loanId: loan.itemId,
    patronId: patron.id,
    outcome: loan.outcome,
    reason: loan.reason,
    oldDueDate: loan.oldDueDate,
    newDueDate: loan.newDueDate,
    provisional: false,
    itemId: loan.itemId,
    title: loan.title,
    systemMessage: loan.systemMessage,
  };
}

/** A card number as a log may show it: its last four characters (a Danish card is often a CPR number). */
function lastDigits(cardNumber: string): string {
  return cardNumber.length > 4 ? `…${cardNumber.slice(-4)}` : '…';
}

/** The operators' line for a `64` with BL N: the directory's card is one the system does not know. */
function unknownCardLine(cardNumber: string, patronId: string | undefined, says: string | null): string {
  const whose = patronId === undefined ? '' : `patron ${patronId} in forny's directory; `;
  const words = says === null ? '' : `; the system says ${JSON.stringify(says)}`;
  return (
    `sip2: the library system does not know card ${lastDigits(cardNumber)} (${whose}64 BL N: not a valid patron${words}); ` +
    'its loans are not renewed, and a number with no other card the system knows gets the unknown-number answer; ' +
    'check the card number in the directory, or the card in the library system'
  );
}

/** The warning for answers that cannot be in the URL's encoding, naming the one they look like and the fix. */
function wrongEncodingLine(configured: Sip2Encoding, looksLike: Sip2Encoding): string {
  if (configured === 'utf8') {
    return `sip2: the library system's answers are not valid UTF-8, which LIBRARY_SYSTEM_URL says (encoding=utf8, the default); they look like ${looksLike}: set encoding=${looksLike} in LIBRARY_SYSTEM_URL, or titles and names show � for æ, ø, å`;
  }
  return `sip2: the library system's answers look like UTF-8, but LIBRARY_SYSTEM_URL says encoding=${configured}: remove encoding=${configured} (utf8 is the default), or titles and names show Ã¸ for ø`;
}

function fromRecord(row: IlsRenewal): Sip2Loan {
  const renewed = row.outcome === 'renewed';
  return {
    itemId: row.itemId,
    title: row.title,
    outcome: renewed ? 'renewed' : 'refused',
    reason: renewed ? null : 'ils_refused',
    systemMessage: row.systemMessage,
    oldDueDate: row.oldDueDate,
    newDueDate: row.newDueDate,
  };
}

/** How the system is down, as operators act on it, for each kind of SIP2 failure. */
function downOf(code: Sip2ErrorCode): LibrarySystemDown {
  return code === 'login_refused' ? 'login refused' : code === 'unsupported' || code === 'protocol' ? 'failing' : 'not answering';
}

/** SIP2 failures become LibrarySystemUnavailable (retry later); anything else (the database) stays what it is. */
async function unavailableOnSip2Error<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof Sip2Error) throw new LibrarySystemUnavailable(error.message, { cause: error, down: downOf(error.code) });
    throw error;
  }
}

function readCa(path: string | null): string | null {
  if (path === null) return null;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Sip2UrlError(`ca file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
