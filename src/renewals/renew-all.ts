import {
  claimInbound,
  countAnsweredRenewAlls,
  finishInbound,
  getInbound,
  giveUpInbound,
  inboundIdsAnsweredBy,
  moveReplies,
  noteGiveUpCause,
  recordFailureReply,
  type InboundMessage,
} from '../../db/repositories/inbound.js';
import type { Patron } from '../../db/repositories/library.js';
import { findWaitingRenewAllReply, getOutbound, recordSupersededBy, supersede, type OutboundMessage } from '../../db/repositories/outbound.js';
import { insertRenewalResults, renewedActiveLoans, resultsOfInbound, type NewRenewalResult } from '../../db/repositories/renewals.js';
import type { Db } from '../../db/repositories/values.js';
import type { Deps } from '../deps.js';
import type { GiveUpCause } from '../domain/message-status.js';
import type { RenewAllCounts } from '../domain/reply-text.js';
import type { RenewAllProgress, RenewAllReport } from '../library/library-system.js';
import { LibrarySystemUnavailable } from '../library/library-system-unavailable.js';
import type { Library } from '../libraries.js';
import { answer, answerNotLinked, writeReply } from '../outbox/replies.js';
import { routeInbound, type Route } from '../commands/route.js';
import { deliverReply, placeInRateForReply } from '../outbox/deliver-reply.js';

/** Renew-alls answered per number in ten minutes; more are stored and ignored (SPEC: abuse limit). */
export const RENEW_ALLS_PER_WINDOW = 5;
export const RENEW_ALL_LIMIT_WINDOW_MS = 10 * 60 * 1000;

export type RenewAllOutcome =
  | { readonly state: 'renewed'; readonly counts: RenewAllCounts; readonly reply: OutboundMessage | null }
  | { readonly state: 'not-linked'; readonly reply: OutboundMessage | null }
  | { readonly state: 'ignored'; readonly reason: string }
  | { readonly state: 'already-processed'; readonly reply: OutboundMessage | null }
  | { readonly state: 'gave-up'; readonly reply: OutboundMessage | null };

/** The reply an outcome has for the patron, if any. */
const replyOf = (outcome: RenewAllOutcome): OutboundMessage | null => ('reply' in outcome ? outcome.reply : null);

export type RenewAllDeps = Pick<Deps, 'db' | 'groupCommit' | 'clock' | 'config' | 'logger' | 'queues' | 'libraries' | 'sms' | 'smsRate'>;

/**
 * Handles one `HBK FORNY ALLE`: claims the message, renews through the library system every
 * active loan of the number's patrons that it allows, records a result per loan and writes the
 * reply, in one transaction; then enqueues the reply. Running it twice for one message renews
 * nothing twice and writes no second reply: the second run finds the message claimed and only makes
 * sure its reply is on its way. Where the library system is asked is the port's one decision
 * (`renewsInJobTransaction`): embedded inside the transaction; SIP2 before it, its own records
 * making the ask safe to repeat (idempotent per request, SPEC §10).
 *
 * A request older than RENEW_ALL_GIVE_UP_MINUTES is never done (SPEC §4), nor finished once that
 * time passes while the library system is asked: it is given up and the patron told what was renewed.
 */
export async function handleRenewAll(deps: RenewAllDeps, inboundId: number): Promise<RenewAllOutcome> {
  const asked = someSystemOutsideTheDatabase(deps) ? await askLibrarySystem(deps, inboundId) : undefined;
  if (asked instanceof GivenUp) return giveUpRenewAll(deps, inboundId, asked.cause);
  // Read once the library system has answered (SIP2 may take minutes): what is recorded is when it happened.
  const now = deps.clock.now();
  const place = await placeInRateForReply(deps, asked?.library.id ?? (deps.libraries.several ? null : (deps.libraries.all[0]?.id ?? null)), now);
  const claimedAtWrite = place !== undefined;

  // Shares its commit with the renew-alls of the same moment (a burst), each in a savepoint of its own.
  const outcome = await deps.groupCommit.transaction(async (trx) => {
    const inbound = await claimInbound(trx, inboundId, now);
    if (!inbound) {
      const current = await getInbound(trx, inboundId);
      if (!current) throw new Error(`inbound message ${inboundId} does not exist`);
      const reply = current.replyId === null ? null : ((await getOutbound(trx, current.replyId)) ?? null);
      return { state: 'already-processed', reply } as const;
    }
    // Taken up too late: the claim is undone with this work's savepoint, and the request given up.
    // Renewals a system outside the database has made (`asked`) were made in time: they are answered.
    if (!asked && pastGiveUp(deps, inbound, now)) throw new TakenTooLate();
    return renewAllInTransaction(trx, deps, inbound, now, asked, claimedAtWrite);
  }).catch((error: unknown): GivenUp => {
    if (error instanceof TakenTooLate) return new GivenUp('too_late');
    throw error;
  });
  if (outcome instanceof GivenUp) return giveUpRenewAll(deps, inboundId, outcome.cause);
  // A message found already done may have its reply in flight from the run that did it: queued only.
  await deliverReply(deps, replyOf(outcome), { sendNow: outcome.state !== 'already-processed', place });
  // Every outcome is in the database (the dashboard's Fornyelser); at info a burst would write a line per patron.
  deps.logger.debug(
    { inboundId, state: outcome.state, ...(outcome.state === 'renewed' ? outcome.counts : {}), replyId: 'reply' in outcome ? outcome.reply?.id : undefined },
    'renew-all handled',
  );
  return outcome;
}

/** Thrown inside the transaction to undo the claim of a request taken up past its give-up time. */
class TakenTooLate extends Error {}

/** The request is to be given up, for this cause (found before, or instead of, renewing). */
class GivenUp {
  constructor(readonly cause: GiveUpCause) {}
}

/** Why a request whose last try failed with this error is given up. */
export function giveUpCauseOf(error: unknown): GiveUpCause {
  if (!(error instanceof LibrarySystemUnavailable)) return 'every_try_failed';
  return error.down === 'login refused' ? 'login_refused' : error.down === 'failing' ? 'failing' : 'not_answering';
}

/** True when a library's renewals are network calls, asked before the job's transaction (SIP2, FBS). */
function someSystemOutsideTheDatabase(deps: RenewAllDeps): boolean {
  return deps.libraries.all.some((library) => !library.system.renewsInJobTransaction);
}

/** What a library system outside the database renewed for the request, and which library it was. */
interface Asked {
  readonly library: Library;
  readonly report: RenewAllReport;
}

/**
 * Asks a library system outside forny's database (SIP2, FBS) to renew, before the transaction: its
 * own records make the ask safe to repeat (SPEC §10). Nothing to ask when the message is no longer
 * waiting, its library renews in forny's tables, its number is on none of that library's cards, or
 * it is over the limit; GivenUp past its give-up time, also when that time came while the system
 * was being asked (it then renews nothing more). Each library's system is its own: one that is
 * slow or away holds up only its own library's requests (SPEC §12).
 */
async function askLibrarySystem(deps: RenewAllDeps, inboundId: number): Promise<Asked | GivenUp | undefined> {
  const now = deps.clock.now();
  const inbound = await getInbound(deps.db, inboundId);
  if (!inbound) throw new Error(`inbound message ${inboundId} does not exist`);
  if (inbound.status !== 'received') return undefined;
  if (pastGiveUp(deps, inbound, now)) return new GivenUp('too_late');
  const route = await routeInbound(deps.db, deps.libraries, inbound);
  if (route.to !== 'library' || route.library.system.renewsInJobTransaction) return undefined;
  const { library, patrons } = route;
  if (patrons.length === 0 || (await rateLimited(deps.db, inbound, now))) return undefined;
  try {
    return { library, report: await library.system.renewAll({ db: deps.db, inboundId, patrons, now, deadline: giveUpAt(deps, inbound) }) };
  } catch (error) {
    // Unavailable or too slow until the give-up time: no retry could be in time, so give up now.
    if (error instanceof LibrarySystemUnavailable && pastGiveUp(deps, inbound, deps.clock.now())) return new GivenUp(giveUpCauseOf(error));
    // Kept with the request: should it be given up later for lack of time, this is why.
    if (error instanceof LibrarySystemUnavailable) await noteGiveUpCause(deps.db, inboundId, giveUpCauseOf(error));
    throw error;
  }
}

/** When the request is given up: RENEW_ALL_GIVE_UP_MINUTES after its arrival, or after an operator's retry. */
function giveUpAt(deps: RenewAllDeps, inbound: InboundMessage): Date {
  return new Date(Date.parse(inbound.retriedAt ?? inbound.receivedAt) + deps.config.jobs.renewAllGiveUpMs);
}

/** The request's give-up time has passed. */
function pastGiveUp(deps: RenewAllDeps, inbound: InboundMessage, now: Date): boolean {
  return now.getTime() >= giveUpAt(deps, inbound).getTime();
}

/** Renew-alls from this number answered in the last ten minutes reached the limit (SPEC §3). */
async function rateLimited(db: Db, inbound: InboundMessage, now: Date): Promise<boolean> {
  const since = new Date(now.getTime() - RENEW_ALL_LIMIT_WINDOW_MS);
  return (await countAnsweredRenewAlls(db, inbound.fromNumber, since, inbound.id)) >= RENEW_ALLS_PER_WINDOW;
}

/**
 * Gives a renew-all up (SPEC §4): the message is `failed`, nothing more is renewed, and the patron
 * gets one SMS saying so. What a library system outside the database had renewed before is
 * recorded with the message and counted in that SMS (`N af M lån`): never less than was done.
 * Only a message still waiting is given up; one done meanwhile is left alone.
 */
export async function giveUpRenewAll(deps: RenewAllDeps, inboundId: number, why: GiveUpCause): Promise<RenewAllOutcome> {
  const done = await doneBeforeGivingUp(deps, inboundId);
  const renewed = done.results.filter((result) => result.outcome === 'renewed').length;
  const now = deps.clock.now();
  let cause: GiveUpCause = why;
  const outcome = await deps.db.transaction(async (trx): Promise<RenewAllOutcome> => {
    const inbound = await getInbound(trx, inboundId);
    // Out of time: the cause is what made the earlier tries fail, if one was noted.
    const known = why === 'too_late' ? (inbound?.giveUpCause ?? why) : why;
    // A system that renewed some loans and then stopped answering was reached, but too slow.
    cause = known === 'not_answering' && renewed > 0 ? 'too_slow' : known;
    if (!inbound || !(await giveUpInbound(trx, inboundId, cause, now))) return { state: 'already-processed', reply: null };
    const route = await routeInbound(trx, deps.libraries, inbound);
    const patrons = route.to === 'library' ? route.patrons : [];
    const patronId = patrons[0]?.id ?? null;
    await insertRenewalResults(trx, await notYetRecorded(trx, inboundId, done.results), now);
    const reply = route.to !== 'library' || patrons.length === 0 ? null : await writeReply(
      trx,
      deps,
      inbound,
      {
        purpose: 'renew-all-failed',
        body: route.library.texts.renewAllGaveUp({ renewed, total: done.total }),
        patronId,
        libraryId: route.library.id,
        dedupeKey: `gave-up:in-${inbound.id}`,
      },
      now,
    );
    await recordFailureReply(trx, inboundId, reply?.id ?? null, patronId);
    return { state: 'gave-up', reply };
  });
  await deliverReply(deps, replyOf(outcome), { sendNow: true });
  if (outcome.state === 'gave-up') deps.logger.warn({ inboundId, cause, renewed, total: done.total }, 'renew-all given up; the patron is told what was renewed');
  return outcome;
}

/**
 * What the library system had done for a request about to be given up, read before the give-up's
 * transaction (the port reads with its own connection). Nothing for a message no longer waiting.
 */
async function doneBeforeGivingUp(deps: RenewAllDeps, inboundId: number): Promise<RenewAllProgress> {
  const inbound = await getInbound(deps.db, inboundId);
  if (!inbound || inbound.status !== 'received') return { results: [], total: 0 };
  const route = await routeInbound(deps.db, deps.libraries, inbound);
  if (route.to !== 'library') return { results: [], total: 0 };
  return route.library.system.doneSoFar({ inboundId, patrons: route.patrons });
}

/**
 * Results not yet recorded for the message. Only a request given up part-way and then retried by an
 * operator has some already: those recorded at the give-up stay, the rerun adds the rest.
 */
async function notYetRecorded(trx: Db, inboundId: number, results: readonly NewRenewalResult[]): Promise<readonly NewRenewalResult[]> {
  if (results.length === 0) return results;
  const recorded = new Set((await resultsOfInbound(trx, inboundId)).map((result) => result.loanId));
  return recorded.size === 0 ? results : results.filter((result) => !recorded.has(result.loanId));
}

async function renewAllInTransaction(
  trx: Db,
  deps: RenewAllDeps,
  inbound: InboundMessage,
  now: Date,
  asked: Asked | undefined,
  claimedAtWrite: boolean,
): Promise<RenewAllOutcome> {
  const route = await routeInbound(trx, deps.libraries, inbound);
  if (route.to === 'several') return whichLibrary(trx, deps, inbound, route, now, claimedAtWrite);
  if (route.to === 'nobody') return notLinked(trx, deps, inbound, undefined, now, claimedAtWrite);
  const { library, patrons } = route;
  if (patrons.length === 0) return notLinked(trx, deps, inbound, library, now, claimedAtWrite);
  if (asked && asked.library.id !== library.id) throw new Error(`inbound message ${inbound.id} changed library while the library system was being asked; trying again`);

  // Renewals the library system has already made are recorded and answered, limit or not.
  if (!asked && (await rateLimited(trx, inbound, now))) {
    await finishInbound(trx, inbound.id, { patronId: patrons[0]?.id ?? null, ignoredReason: 'rate_limited', libraryId: library.id });
    return { state: 'ignored', reason: 'rate_limited' };
  }

  const report = asked?.report ?? (await renewInTransaction(trx, deps, library, inbound, patrons, now));
  if (!report.patronKnown) return notLinked(trx, deps, inbound, library, now, claimedAtWrite);
  await insertRenewalResults(trx, inbound.retriedAt === null ? report.results : await notYetRecorded(trx, inbound.id, report.results), now);
  const renewed = report.results.filter((result) => result.outcome === 'renewed');
  const counts: RenewAllCounts = { renewed: renewed.length, total: report.results.length, provisional: renewed.filter((result) => result.provisional).length };
  const reply = await writeRenewAllReply(trx, deps, library, inbound, patrons, counts, now, claimedAtWrite);
  await finishInbound(trx, inbound.id, {
    patronId: patrons[0]?.id ?? null,
    replyId: reply?.id ?? null,
    libraryId: library.id,
    ...(reply ? {} : { ignoredReason: 'reply_budget' as const }),
  });
  return { state: 'renewed', counts, reply };
}

/**
 * The embedded system's renewals, in the job's transaction. A system that renews outside it is
 * never asked here: it was asked before (`asked`) or found nothing to ask; the message's number
 * or limit changed in between (a directory upsert, the window moving on), so the job tries again.
 */
async function renewInTransaction(trx: Db, deps: RenewAllDeps, library: Library, inbound: InboundMessage, patrons: readonly Patron[], now: Date): Promise<RenewAllReport> {
  if (!library.system.renewsInJobTransaction) throw new Error(`inbound message ${inbound.id} changed while the library system was being asked; trying again`);
  return library.system.renewAll({ db: trx, inboundId: inbound.id, patrons, now, deadline: giveUpAt(deps, inbound) });
}

async function notLinked(trx: Db, deps: RenewAllDeps, inbound: InboundMessage, library: Library | undefined, now: Date, claimedAtWrite: boolean): Promise<RenewAllOutcome> {
  const reply = await answerNotLinked(trx, deps, inbound, library, now, { claimedAtWrite });
  return reply ? { state: 'not-linked', reply } : { state: 'ignored', reason: 'throttled' };
}

/** `FORNY ALLE` with no keyword from a number several libraries know: one question naming their keywords, nothing renewed (SPEC §12). */
async function whichLibrary(
  trx: Db,
  deps: RenewAllDeps,
  inbound: InboundMessage,
  route: Extract<Route, { to: 'several' }>,
  now: Date,
  claimedAtWrite: boolean,
): Promise<RenewAllOutcome> {
  const body = deps.libraries.gatewayTexts.whichLibrary(route.libraries.map((library) => library.settings.keywords[0] ?? library.id));
  const reply = await answer(trx, deps, inbound, { purpose: 'help', body, patronId: null, libraryId: null, claimedAtWrite }, now);
  return reply ? { state: 'not-linked', reply } : { state: 'ignored', reason: 'reply_budget' };
}

/**
 * Writes the reply. When it has to wait for the window and an earlier renew-all reply to the same
 * number is still waiting, the two fold into one (SPEC §5): the waiting reply is superseded by one
 * counting every loan renewed by the night's requests, so the morning brings one clear answer.
 */
async function writeRenewAllReply(
  trx: Db,
  deps: RenewAllDeps,
  library: Library,
  inbound: InboundMessage,
  patrons: readonly Patron[],
  counts: RenewAllCounts,
  now: Date,
  claimedAtWrite: boolean,
): Promise<OutboundMessage | null> {
  const draft = { purpose: 'renew-all', patronId: patrons[0]?.id ?? null, libraryId: library.id, claimedAtWrite } as const;
  const waiting = await findWaitingRenewAllReply(trx, inbound.fromNumber, library.id);
  if (!waiting || !(await supersede(trx, waiting.id, now, { reason: 'folded_into_later_reply' }))) {
    return writeReply(trx, deps, inbound, { ...draft, body: library.texts.renewAllReply(counts) }, now);
  }
  const answered = [...(await inboundIdsAnsweredBy(trx, waiting.id)), inbound.id];
  const renewed = await renewedActiveLoans(trx, answered);
  const folded: RenewAllCounts = {
    renewed: renewed.length,
    total: counts.total,
    provisional: renewed.filter((loan) => loan.provisional).length,
  };
  const reply = await writeReply(trx, deps, inbound, { ...draft, body: library.texts.renewAllReply(folded) }, now);
  if (reply) {
    await recordSupersededBy(trx, waiting.id, reply.id);
    await moveReplies(trx, waiting.id, reply.id);
  }
  return reply;
}
