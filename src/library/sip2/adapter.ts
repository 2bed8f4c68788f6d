import { readFileSync } from 'node:fs';
import type { Knex } from 'knex';
import {
  ilsChargedCount,
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
import type { LibrarySystemDown } from '../library-system.js';
import { LibrarySystemUnavailable } from '../library-system-unavailable.js';
import type { Sip2Encoding } from './codec.js';
import type { Sip2Connection } from './connection.js';
import { Sip2Error, type Sip2ErrorCode } from './errors.js';
import { Sip2Pool } from './pool.js';
import { Sip2UrlError, describeSip2, type Sip2Options } from './url.js';

export interface Sip2Loan {
  readonly itemId: string;
  readonly title: string | null;
  readonly outcome: 'renewed' | 'refused';
  readonly reason: 'ils_refused' | null;
  readonly systemMessage: string | null;
  /** `YYYY-MM-DD`, or the system's own text. */
  readonly oldDueDate: string | null;
  readonly newDueDate: string | null;
}

export interface Sip2RenewAllReport {
  /** `64` valid patron `BL` = `N` → false (the caller sends the unknown-number answer). */
  readonly patronKnown: boolean;
  readonly loans: readonly Sip2Loan[];
}

/** What a request has recorded for one card, without asking the system (for a request given up part-way). */
export interface Sip2Recorded {
  /** Items charged to the card when the system last listed them for this request; null if it never did. */
  readonly charged: number | null;
  /** Every item the request touched for the card, in order; `loan` is null while its Renew has no answer. */
  readonly items: readonly { readonly itemId: string; readonly loan: Sip2Loan | null }[];
}

export interface Sip2LibrarySystem {
  /**
   * Renews every item charged to the card, each at most once per inboundId however often this runs
   * (SPEC §10). No Renew leaves at or after `deadline`: it throws LibrarySystemUnavailable instead.
   */
  renewAll(request: { inboundId: number; cardNumber: string; deadline?: Date; /** forny's id of the card's patron, for the log. */ patronId?: string }): Promise<Sip2RenewAllReport>;
  /** What renewAll has recorded for the card and request so far; asks the system nothing. */
  recorded(inboundId: number, cardNumber: string): Promise<Sip2Recorded>;
  /** For the send-time stale check of reminders: the current due date of each item (null: not on loan / unknown). */
  dueDates(itemIds: readonly string[]): Promise<Map<string, string | null>>;
  /** For /readyz: can forny log in and ask the system's status? The reason names the system, never the password. */
  check(): Promise<{ ok: true } | { ok: false; code: Sip2ErrorCode; reason: string }>;
  close(): Promise<void>;
}

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
 * The library's own system over SIP2: `63` paged for the charged items, then per item `17` and
 * `29`. Exactly once: the intent is committed before each `29`; a rerun that finds an intent with
 * no outcome asks `17` first and sends `29` again only when the due date has not moved.
 */
export function createSip2LibrarySystem(
  options: Sip2Options,
  deps: { db: Knex; clock: Clock; logger: Logger },
  tuning: Sip2Tuning = {},
): Sip2LibrarySystem {
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
  const pastDeadline = (deadline: Date | undefined) => deadline !== undefined && clock.now().getTime() >= deadline.getTime();
  const tooLate = (itemId: string) =>
    new LibrarySystemUnavailable(`${describeSip2(options)}: the request's give-up time passed before the renewal of ${itemId}; nothing more renewed`);

  async function renewItem(
    connection: Sip2Connection,
    request: { inboundId: number; cardNumber: string; deadline: Date | undefined },
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

  return {
    async renewAll({ inboundId, cardNumber, deadline, patronId }) {
      // This card's rows only: another card on the same number has its own items and its own report.
      const earlier = new Map((await listIlsRenewals(db, inboundId, cardNumber)).map((row) => [row.itemId, row] as const));
      const report = await unavailableOnSip2Error(() =>
        pool.use(async (connection): Promise<Sip2RenewAllReport> => {
          const items = await chargedItems(connection, cardNumber);
          if (!Array.isArray(items)) {
            // Without this line the dashboard and the debug log read it as a number forny does not know.
            logger.warn({ inboundId, patronId, card: lastDigits(cardNumber) }, unknownCardLine(cardNumber, patronId, items.says));
            return { patronKnown: false, loans: [] };
          }
          await recordIlsListing(db, { inboundId, cardNumber, charged: items.length }, clock.now());
          const loans: Sip2Loan[] = [];
          for (const itemId of items) loans.push(await renewItem(connection, { inboundId, cardNumber, deadline }, itemId, earlier.get(itemId)));
          // Finished in an earlier run and no longer charged (returned since): still part of this SMS's answer.
          for (const row of earlier.values()) if (row.outcome !== null && !items.includes(row.itemId)) loans.push(fromRecord(row));
          return { patronKnown: true, loans };
        }, deadline ? { deadline } : {}),
      );
      logger.info(
        { inboundId, patronKnown: report.patronKnown, charged: report.loans.length, renewed: report.loans.filter((loan) => loan.outcome === 'renewed').length },
        'sip2: renew-all done',
      );
      return report;
    },

    async recorded(inboundId, cardNumber) {
      const [charged, rows] = await Promise.all([ilsChargedCount(db, inboundId, cardNumber), listIlsRenewals(db, inboundId, cardNumber)]);
      return { charged, items: rows.map((row) => ({ itemId: row.itemId, loan: row.outcome === null ? null : fromRecord(row) })) };
    },

    async dueDates(itemIds) {
      return unavailableOnSip2Error(() =>
        pool.use(async (connection) => {
          const dates = new Map<string, string | null>();
          for (const item of new Set(itemIds)) {
            const info = await connection.request({ kind: 'itemInformation', institution, item, at: clock.now() });
            dates.set(item, NOT_ON_LOAN.has(info.circulationStatus) ? null : info.dueDate);
          }
          return dates;
        }),
      );
    },

    async check() {
      try {
        await pool.use((connection) => connection.request({ kind: 'scStatus' }));
        return { ok: true };
      } catch (error) {
        if (error instanceof Sip2Error) return { ok: false, code: error.code, reason: error.message };
        throw error;
      }
    },

    async close() {
      pool.close();
    },
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

/** SIP2 failures become LibrarySystemUnavailable (retry later); anything else (the database) stays what it is. */
/** How the system is down, as operators act on it, for each kind of SIP2 failure. */
export function downOf(code: Sip2ErrorCode): LibrarySystemDown {
  return code === 'login_refused' ? 'login refused' : code === 'unsupported' || code === 'protocol' ? 'failing' : 'not answering';
}

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
