import type { Job } from 'bullmq';
import { claimInbound, countAnsweredRenewAlls, finishInbound, getInbound, inboundIdsAnsweredBy, moveReplies, type InboundMessage } from '../db/repositories/inbound.js';
import { activeLoansForRenewal, findPatronsByMobile, renewLoan, type Patron } from '../db/repositories/library.js';
import { findWaitingRenewAllReply, getOutbound, recordSupersededBy, supersede, type OutboundMessage } from '../db/repositories/outbound.js';
import { insertRenewalResults, renewedActiveLoans, type NewRenewalResult } from '../db/repositories/renewals.js';
import type { Db } from '../db/repositories/values.js';
import type { Deps } from '../src/deps.js';
import { isUnfinished } from '../src/domain/message-status.js';
import { dateIn } from '../src/domain/calendar-date.js';
import { decideRenewal } from '../src/domain/renewal-policy.js';
import type { RenewAllCounts } from '../src/domain/reply-text.js';
import { textsFor } from '../src/texts.js';
import { enqueueOutbound } from '../src/queue/enqueue.js';
import type { InboundJob } from '../src/queue/queues.js';
import { answerNotLinked, writeReply } from '../src/outbox/replies.js';

/** Renew-alls answered per number in ten minutes; more are stored and ignored (SPEC: abuse limit). */
export const RENEW_ALLS_PER_WINDOW = 5;
export const RENEW_ALL_LIMIT_WINDOW_MS = 10 * 60 * 1000;

export type RenewAllOutcome =
  | { readonly state: 'renewed'; readonly counts: RenewAllCounts; readonly reply: OutboundMessage | null }
  | { readonly state: 'not-linked'; readonly reply: OutboundMessage | null }
  | { readonly state: 'ignored'; readonly reason: string }
  | { readonly state: 'already-processed'; readonly reply: OutboundMessage | null };

type RenewAllDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'queues'>;

/**
 * Handles one `HBK FORNY ALLE`: claims the message, applies the rules to every active loan of the
 * number's patrons, records a result per loan and writes the reply, all in one transaction; then
 * enqueues the reply. Running it twice for one message renews nothing twice and writes no second
 * reply: the second run finds the message claimed and only makes sure its reply is on its way.
 */
export async function handleRenewAll(deps: RenewAllDeps, inboundId: number): Promise<RenewAllOutcome> {
  const now = deps.clock.now();
  const outcome = await deps.db.transaction(async (trx) => {
    if (!(await claimInbound(trx, inboundId, now))) {
      const inbound = await getInbound(trx, inboundId);
      if (!inbound) throw new Error(`inbound message ${inboundId} does not exist`);
      const reply = inbound.replyId === null ? null : ((await getOutbound(trx, inbound.replyId)) ?? null);
      return { state: 'already-processed', reply } as const;
    }
    const inbound = await getInbound(trx, inboundId);
    if (!inbound) throw new Error(`inbound message ${inboundId} does not exist`);
    return renewAllInTransaction(trx, deps, inbound, now);
  });

  if (outcome.state !== 'ignored' && outcome.reply && isUnfinished(outcome.reply.status)) {
    await enqueueOutbound(deps.queues, deps.clock, [outcome.reply]);
  }
  deps.logger.info(
    { inboundId, state: outcome.state, ...(outcome.state === 'renewed' ? outcome.counts : {}), replyId: 'reply' in outcome ? outcome.reply?.id : undefined },
    'renew-all handled',
  );
  return outcome;
}

async function renewAllInTransaction(trx: Db, deps: RenewAllDeps, inbound: InboundMessage, now: Date): Promise<RenewAllOutcome> {
  const patrons = await findPatronsByMobile(trx, inbound.fromNumber);
  if (patrons.length === 0) {
    const reply = await answerNotLinked(trx, deps.config, inbound, now);
    return reply ? { state: 'not-linked', reply } : { state: 'ignored', reason: 'throttled' };
  }

  const since = new Date(now.getTime() - RENEW_ALL_LIMIT_WINDOW_MS);
  if ((await countAnsweredRenewAlls(trx, inbound.fromNumber, since, inbound.id)) >= RENEW_ALLS_PER_WINDOW) {
    await finishInbound(trx, inbound.id, { patronId: patrons[0]?.id ?? null, ignoredReason: 'rate_limited' });
    return { state: 'ignored', reason: 'rate_limited' };
  }

  const counts = await renewLoans(trx, deps, inbound, patrons, now);
  const reply = await writeRenewAllReply(trx, deps, inbound, patrons, counts, now);
  await finishInbound(trx, inbound.id, {
    patronId: patrons[0]?.id ?? null,
    replyId: reply?.id ?? null,
    ...(reply ? {} : { ignoredReason: 'reply_budget' as const }),
  });
  return { state: 'renewed', counts, reply };
}

async function renewLoans(trx: Db, deps: RenewAllDeps, inbound: InboundMessage, patrons: readonly Patron[], now: Date): Promise<RenewAllCounts> {
  const today = dateIn(now, deps.config.timeZone);
  const loans = await activeLoansForRenewal(
    trx,
    patrons.map((patron) => patron.id),
  );
  const results: NewRenewalResult[] = [];
  for (const loan of loans) {
    const decision = decideRenewal(loan, today);
    const base = { inboundId: inbound.id, loanId: loan.id, patronId: loan.patronId, oldDueDate: loan.dueDate };
    if (decision.outcome === 'refused') {
      results.push({ ...base, outcome: 'refused', reason: decision.reason, newDueDate: null, provisional: false });
      continue;
    }
    const renewal = { id: loan.id, oldDueDate: loan.dueDate, newDueDate: decision.newDueDate, provisional: decision.provisional };
    // The rows were read in this transaction; a miss means a concurrent writer, and the job retries.
    if (!(await renewLoan(trx, renewal, now))) throw new Error(`loan ${loan.id} changed while it was being renewed`);
    results.push({ ...base, outcome: 'renewed', reason: null, newDueDate: decision.newDueDate, provisional: decision.provisional });
  }
  await insertRenewalResults(trx, results, now);
  const renewed = results.filter((result) => result.outcome === 'renewed');
  return { renewed: renewed.length, total: loans.length, provisional: renewed.filter((result) => result.provisional).length };
}

/**
 * Writes the reply. When it has to wait for the window and an earlier renew-all reply to the same
 * number is still waiting, the two fold into one (SPEC §5): the waiting reply is superseded by one
 * counting every loan renewed by the night's requests, so the morning brings one clear answer.
 */
async function writeRenewAllReply(
  trx: Db,
  deps: RenewAllDeps,
  inbound: InboundMessage,
  patrons: readonly Patron[],
  counts: RenewAllCounts,
  now: Date,
): Promise<OutboundMessage | null> {
  const draft = { purpose: 'renew-all', patronId: patrons[0]?.id ?? null } as const;
  const waiting = await findWaitingRenewAllReply(trx, inbound.fromNumber);
  if (!waiting || !(await supersede(trx, waiting.id, now, { reason: 'folded into a later renew-all reply' }))) {
    return writeReply(trx, deps.config, inbound, { ...draft, body: textsFor(deps.config).renewAllReply(counts) }, now);
  }
  const answered = [...(await inboundIdsAnsweredBy(trx, waiting.id)), inbound.id];
  const renewed = await renewedActiveLoans(trx, answered);
  const folded: RenewAllCounts = {
    renewed: renewed.length,
    total: counts.total,
    provisional: renewed.filter((loan) => loan.provisional).length,
  };
  const reply = await writeReply(trx, deps.config, inbound, { ...draft, body: textsFor(deps.config).renewAllReply(folded) }, now);
  if (reply) {
    await recordSupersededBy(trx, waiting.id, reply.id);
    await moveReplies(trx, waiting.id, reply.id);
  }
  return reply;
}

export function createRenewAllProcessor(deps: RenewAllDeps) {
  return async (job: Job<InboundJob>): Promise<string> => (await handleRenewAll(deps, job.data.inboundId)).state;
}
