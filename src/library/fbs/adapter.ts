import { readFileSync } from 'node:fs';
import type { Knex } from 'knex';
import {
  listIlsRenewals,
  recordIlsIntents,
  recordIlsListing,
  recordIlsOutcomes,
  restampIlsIntents,
  withdrawIlsIntents,
  type IlsIntent,
  type IlsRenewal,
  type IlsResult,
} from '../../../db/repositories/ils-renewals.js';
import { getPatron, type Patron } from '../../../db/repositories/library.js';
import { noticeTitlesOfPatron } from '../../../db/repositories/notices.js';
import { getOutbound } from '../../../db/repositories/outbound.js';
import type { NewRenewalResult, RenewalReason } from '../../../db/repositories/renewals.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../logger.js';
import type { LibrarySystem, RenewAllProgress, RenewAllReport } from '../library-system.js';
import { LibrarySystemUnavailable } from '../library-system-unavailable.js';
import { doneSoFarFromRecords, renewCardByCard, type CardReport as CardOutcome } from '../card-by-card.js';
import { FbsClient, FbsUnavailable, type FbsClientTuning, type FbsListedLoan, type FbsRenewal } from './client.js';
import { FbsUrlError, describeFbs, type FbsOptions } from './url.js';

/** One loan's outcome at FBS for one card, before it becomes the port's result. */
interface FbsOutcome {
  readonly loanId: string;
  readonly itemId: string;
  readonly title: string | null;
  readonly outcome: 'renewed' | 'refused';
  readonly reason: RenewalReason | null;
  readonly systemMessage: string | null;
  readonly oldDueDate: string | null;
  readonly newDueDate: string | null;
  readonly provisional: boolean;
}

type CardReport = CardOutcome<FbsOutcome>;

/** FBS's refusal statuses and the reason codes they mean (SPEC §13); every other is `ils_refused`. */
const REASONS: Readonly<Record<string, RenewalReason>> = {
  deniedReserved: 'on_reserve',
  deniedMaxRenewalsReached: 'too_many',
  deniedMaterialIsNotLoanable: 'not_renewable',
  deniedLoanerIsBlocked: 'patron_blocked',
};

/**
 * FBS's external API (SPEC §13) behind the port: per card on the texting number, the patron by card
 * number, its loans (M), and one renew call for every loan FBS did not already list as not renewable;
 * the renew answer is the rule (isRenewable true is not trusted). Idempotent per request as the port
 * defines it, with SIP2's table: every loan about to be renewed is recorded in `ils_renewals` before
 * the call; a rerun reports finished loans from there, and an intent with no outcome is settled by the
 * loan's due date now (moved: renewed; unchanged: asked again once no run can still await it).
 */
export function createFbsLibrarySystem(options: FbsOptions, deps: { db: Knex; clock: Clock; logger: Logger }, tuning: FbsClientTuning = {}): LibrarySystem {
  const { db, clock } = deps;
  const where = describeFbs(options);
  const logger = deps.logger.child({ librarySystem: where, agency: options.agency });
  const client = new FbsClient({ ...options, caPem: readCa(options.ca) }, clock, tuning);
  // A renew call older than this has had its answer or its time-out: up to the time-out for a slot,
  // two logins (a 401 on the way) and two tries of the call itself.
  const inFlightMs = 5 * options.timeoutMs;

  const pastDeadline = (deadline: Date) => clock.now().getTime() >= deadline.getTime();

  /** Renews the card's loans, each at most once per inboundId however often this runs. */
  async function renewCard(inboundId: number, patron: Patron, deadline: Date): Promise<CardReport> {
    const { cardNumber } = patron;
    const found = await client.patron(cardNumber);
    if (!found.known) {
      logger.warn({ inboundId, patronId: patron.id, card: lastDigits(cardNumber), authenticateStatus: found.status }, unknownCardLine(cardNumber, patron.id, found.status));
      return { patronKnown: false };
    }
    const { patronId } = found;
    let listed: FbsListedLoan[];
    try {
      listed = await client.loans(patronId);
    } catch (error) {
      // 404 "patron not found": the kept patronId is stale (a merged or deleted patron); ask anew next time.
      if (error instanceof FbsUnavailable && error.status === 404) client.forgetPatron(cardNumber);
      throw error;
    }
    await recordIlsListing(db, { inboundId, cardNumber, charged: listed.length }, clock.now());
    const earlier = new Map((await listIlsRenewals(db, inboundId, cardNumber)).map((row) => [row.itemId, row] as const));
    const titles = listed.some((loan) => loan.title === null) ? await noticeTitlesOfPatron(db, patron.id) : new Map<string, string>();
    const titleOf = (loan: FbsListedLoan) => loan.title ?? earlier.get(loan.materialItemNumber)?.title ?? titles.get(loan.materialItemNumber) ?? null;

    const done = new Map<string, FbsOutcome>();
    const fresh: IlsIntent[] = [];
    const settled: { itemId: string; result: IlsResult }[] = [];
    const again: FbsListedLoan[] = [];
    const ask: FbsListedLoan[] = [];
    const settle = (row: IlsRenewal, loan: FbsListedLoan | null, result: IlsResult) => {
      settled.push({ itemId: row.itemId, result });
      done.set(row.itemId, outcomeOf({ ...row, ...result, title: result.title ?? row.title, loanId: row.loanId ?? loan?.loanId ?? null }));
    };
    for (const loan of listed) {
      const itemId = loan.materialItemNumber;
      const row = earlier.get(itemId);
      const dueDate = dateOf(loan.dueDate);
      if (row && row.outcome !== null) {
        done.set(itemId, outcomeOf(row));
      } else if (row) {
        // A renew call went out (or was about to) and no answer was recorded: did it happen?
        if (row.oldDueDate === null) {
          logger.warn({ inboundId, itemId }, 'fbs: cannot tell whether an unanswered renewal happened; not renewing again');
          settle(row, loan, { outcome: 'refused', newDueDate: null, systemMessage: null, reason: 'ils_refused' });
        } else if (dueDate !== row.oldDueDate) {
          settle(row, loan, { outcome: 'renewed', newDueDate: dueDate, systemMessage: null, title: titleOf(loan), reason: null, provisional: isIll(loan) });
        } else if (clock.now().getTime() - Date.parse(row.intendedAt) < inFlightMs) {
          throw new LibrarySystemUnavailable(`${where}: the renewal of ${itemId} may still be awaiting its answer; trying again later`);
        } else {
          again.push(loan);
        }
      } else if (!loan.isRenewable && loan.renewalStatusList.length > 0) {
        // FBS's own evaluation says no, with its reasons: refused without asking. (Without reasons,
        // the listing says nothing useful, and the renew call decides.)
        const result = refusal(loan.renewalStatusList);
        fresh.push({ inboundId, cardNumber, itemId, loanId: loan.loanId, title: titleOf(loan), oldDueDate: dueDate, decided: result });
        done.set(itemId, { loanId: loan.loanId, itemId, title: titleOf(loan), oldDueDate: dueDate, ...required(result) });
      } else {
        fresh.push({ inboundId, cardNumber, itemId, loanId: loan.loanId, title: titleOf(loan), oldDueDate: dueDate });
        ask.push(loan);
      }
    }
    const listedItems = new Set(listed.map((loan) => loan.materialItemNumber));
    for (const row of earlier.values()) {
      if (listedItems.has(row.itemId)) continue;
      if (row.outcome !== null) {
        // Finished in an earlier run and no longer on loan (returned since): still part of this SMS's answer.
        done.set(row.itemId, outcomeOf(row));
      } else {
        // Asked, unanswered, and gone from the loans: whether it was renewed first cannot be told.
        logger.warn({ inboundId, itemId: row.itemId }, 'fbs: a loan with an unanswered renewal is no longer on loan; recorded not renewed');
        settle(row, null, { outcome: 'refused', newDueDate: null, systemMessage: null, reason: 'ils_refused' });
      }
    }

    // Committed before the renew call leaves: the intent survives a worker killed while it is on its way.
    await recordIlsIntents(db, fresh, clock.now());
    await recordIlsOutcomes(db, settled, inboundId, clock.now());
    await restampIlsIntents(db, inboundId, again.map((loan) => loan.materialItemNumber), clock.now());
    const calling = [...again, ...ask];
    if (calling.length > 0) {
      const freshIds = ask.map((loan) => loan.materialItemNumber);
      if (pastDeadline(deadline)) {
        // Fresh intents never went out; earlier ones keep saying that a call may have.
        await withdrawIlsIntents(db, inboundId, freshIds);
        throw new LibrarySystemUnavailable(`${where}: the request's give-up time passed before the renew call; nothing more renewed`);
      }
      let answer: FbsRenewal[];
      try {
        answer = await client.renew(patronId, calling.map((loan) => loan.loanId), { notAfter: deadline });
      } catch (error) {
        if (error instanceof FbsUnavailable && !error.sent) await withdrawIlsIntents(db, inboundId, freshIds);
        if (error instanceof FbsUnavailable && error.status === 404) client.forgetPatron(cardNumber);
        throw error;
      }
      const byLoan = new Map(answer.map((renewal) => [renewal.loan.loanId, renewal] as const));
      // A loan the answer leaves out: read again, so its due date says what happened.
      const missing = calling.filter((loan) => !byLoan.has(loan.loanId));
      const reread = missing.length > 0 ? new Map((await client.loans(patronId)).map((loan) => [loan.loanId, loan] as const)) : new Map<string, FbsListedLoan>();
      const outcomes: { itemId: string; result: IlsResult }[] = [];
      for (const loan of calling) {
        const renewal = byLoan.get(loan.loanId);
        const oldDueDate = dateOf(loan.dueDate);
        let result: IlsResult;
        if (renewal) {
          result = renewal.renewalStatus.includes('renewed')
            ? { outcome: 'renewed', newDueDate: dateOf(renewal.loan.dueDate), systemMessage: null, reason: null, provisional: isIll(renewal.loan) || isIll(loan) }
            : refusal(renewal.renewalStatus);
        } else {
          const now = reread.get(loan.loanId);
          const moved = now !== undefined && dateOf(now.dueDate) !== oldDueDate;
          logger.warn({ inboundId, itemId: loan.materialItemNumber, moved }, 'fbs: the renew answer left out a loan it was asked for; decided by its due date');
          result = moved
            ? { outcome: 'renewed', newDueDate: dateOf(now.dueDate), systemMessage: null, reason: null, provisional: isIll(loan) }
            : { outcome: 'refused', newDueDate: null, systemMessage: null, reason: 'ils_refused' };
        }
        const title = renewal?.loan.title ?? titleOf(loan);
        outcomes.push({ itemId: loan.materialItemNumber, result: { ...result, title } });
        done.set(loan.materialItemNumber, { loanId: loan.loanId, itemId: loan.materialItemNumber, title, oldDueDate, ...required(result) });
      }
      await recordIlsOutcomes(db, outcomes, inboundId, clock.now());
    }

    // The loans in FBS's order, then those finished earlier and returned since.
    const loans = [...listed.map((loan) => done.get(loan.materialItemNumber)!), ...[...done.values()].filter((loan) => !listedItems.has(loan.itemId))];
    logger.info(
      { inboundId, patronKnown: true, loans: loans.length, asked: calling.length, renewed: loans.filter((loan) => loan.outcome === 'renewed').length },
      'fbs: renew-all done',
    );
    return { patronKnown: true, loans };
  }

  return {
    kind: 'fbs',
    description: `${where} (agency ${options.agency})`,
    renewsInJobTransaction: false,

    renewAll: ({ inboundId, patrons, deadline }): Promise<RenewAllReport> =>
      renewCardByCard(patrons, (patron) => renewCard(inboundId, patron, deadline), (patron, loan) => resultOf(inboundId, patron, loan)),

    doneSoFar: ({ inboundId, patrons }): Promise<RenewAllProgress> => doneSoFarFromRecords(db, inboundId, patrons, (patron, row) => resultOf(inboundId, patron, outcomeOf(row))),

    // The card's loans at FBS: a loan gone (returned) or due later than the reminder says (renewed)
    // is no longer due. A reminder for a card FBS does not know keeps its loans: FBS cannot speak for them.
    async loansStillDue(_db, outboundId, loans) {
      const message = await getOutbound(db, outboundId);
      const patron = message?.patronId ? await getPatron(db, message.patronId) : undefined;
      if (!patron) return [...loans];
      const found = await client.patron(patron.cardNumber);
      if (!found.known) return [...loans];
      const current = new Map((await client.loans(found.patronId)).map((loan) => [loan.materialItemNumber, dateOf(loan.dueDate)] as const));
      return loans.filter((loan) => {
        const dueDate = current.get(loan.itemId);
        return dueDate !== undefined && dueDate <= loan.dueDate;
      });
    },

    async check() {
      try {
        await client.check();
        return { ok: true };
      } catch (error) {
        if (error instanceof LibrarySystemUnavailable) return { ok: false, down: error.down, reason: error.message };
        throw error;
      }
    },

    async close() {
      client.close();
    },
  };
}

/** A refusal from FBS's statuses: the first status's reason, every status in the system's words. */
function refusal(statuses: readonly string[]): IlsResult {
  const first = statuses[0];
  return {
    outcome: 'refused',
    newDueDate: null,
    systemMessage: statuses.length > 0 ? statuses.join(', ') : null,
    reason: (first !== undefined ? REASONS[first] : undefined) ?? 'ils_refused',
  };
}

const isIll = (loan: { readonly loanType: string }) => loan.loanType === 'interLibraryLoan';

/** `YYYY-MM-DD` from FBS's date, a time part dropped; anything else is kept as FBS's text. */
function dateOf(text: string): string {
  return /^\d{4}-\d{2}-\d{2}/.exec(text)?.[0] ?? text;
}

/** The fields of a result every outcome has, with the defaults a recorded one may omit. */
function required(result: IlsResult): Pick<FbsOutcome, 'outcome' | 'reason' | 'systemMessage' | 'newDueDate' | 'provisional'> {
  return {
    outcome: result.outcome,
    reason: result.outcome === 'renewed' ? null : (result.reason ?? 'ils_refused'),
    systemMessage: result.systemMessage,
    newDueDate: result.newDueDate,
    provisional: result.outcome === 'renewed' && (result.provisional ?? false),
  };
}

function outcomeOf(row: Pick<IlsRenewal, 'itemId' | 'loanId' | 'title' | 'oldDueDate' | 'newDueDate' | 'systemMessage' | 'reason' | 'provisional'> & { outcome: IlsRenewal['outcome'] }): FbsOutcome {
  const renewed = row.outcome === 'renewed';
  return {
    loanId: row.loanId ?? row.itemId,
    itemId: row.itemId,
    title: row.title,
    outcome: renewed ? 'renewed' : 'refused',
    reason: renewed ? null : (row.reason ?? 'ils_refused'),
    systemMessage: row.systemMessage,
    oldDueDate: row.oldDueDate,
    newDueDate: renewed ? row.newDueDate : null,
    provisional: renewed && row.provisional,
  };
}

/** One loan's outcome as the job records it: FBS's loanId is the loan's id, its materialItemNumber the item's (SPEC §13). */
function resultOf(inboundId: number, patron: Patron, loan: FbsOutcome): NewRenewalResult {
  return {
    inboundId,
    loanId: loan.loanId,
    patronId: patron.id,
    outcome: loan.outcome,
    reason: loan.reason,
    oldDueDate: loan.oldDueDate,
    newDueDate: loan.newDueDate,
    provisional: loan.provisional,
    itemId: loan.itemId,
    title: loan.title,
    systemMessage: loan.systemMessage,
  };
}

/** A card number as a log may show it: its last four characters (a Danish card is often a CPR number). */
function lastDigits(cardNumber: string): string {
  return cardNumber.length > 4 ? `…${cardNumber.slice(-4)}` : '…';
}

/** The operators' line for a card FBS does not know: what it said, and where to look. */
function unknownCardLine(cardNumber: string, patronId: string, status: string): string {
  return (
    `fbs: FBS does not know card ${lastDigits(cardNumber)} (patron ${patronId} in forny's directory; preauthenticated/v10 said ${JSON.stringify(status)}, not VALID); ` +
    'its loans are not renewed, and a number with no other card FBS knows gets the unknown-number answer; ' +
    'check the card number in the directory, or the card in FBS'
  );
}

function readCa(path: string | null): string | null {
  if (path === null) return null;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new FbsUrlError(`ca file ${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
