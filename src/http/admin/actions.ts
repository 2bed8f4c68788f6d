import { getInbound, retryFailedInbound } from '../../../db/repositories/inbound.js';
import { recordAudit } from '../../../db/repositories/operator-actions.js';
import { cancelFailed, getOutbound, requeueFailed, type OutboundMessage } from '../../../db/repositories/outbound.js';
import { isFailedStatus } from '../../domain/message-status.js';
import { toStoredInstant } from '../../../db/repositories/values.js';
import { enqueueInbound, enqueueOutbound } from '../../queue/enqueue.js';
import { inboundJobId, outboundJobId } from '../../queue/queues.js';
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors.js';
import { RedisUnavailableError, whenRedisUp } from '../../redis-gate.js';
import { inboundApiId, outboundApiId } from '../format.js';

/** What operators can do from the Fejl page; each one is written to the audit log with the change. */

type ActionDeps = Pick<Deps, 'db' | 'clock' | 'queues' | 'redis' | 'logger'>;

/**
 * Retries go through a queue, and BullMQ would wait for Redis indefinitely: through the Redis gate,
 * an operator gets a 503 at once (or after its timeout) instead of a page that never loads.
 */
async function onQueues<T>(deps: ActionDeps, operation: () => Promise<T>): Promise<T> {
  try {
    return await whenRedisUp(deps.redis, operation);
  } catch (error) {
    if (!(error instanceof RedisUnavailableError)) throw error;
    throw new AppError('redis_unavailable', 503, 'Redis svarer ikke, så køerne kan ikke ændres lige nu. Prøv igen om lidt.', { cause: error });
  }
}

const isFailed = (message: OutboundMessage | undefined): message is OutboundMessage =>
  message !== undefined && isFailedStatus(message.status);

/**
 * A message of another library than `library` (the operator's, SPEC §12) is 404 exactly as one
 * that does not exist; with `library` undefined (the gateway's operator) every message is found.
 */
function ofLibrary<T extends { libraryId: string | null }>(message: T | undefined, library: string | undefined, id: string): T | undefined {
  if (message === undefined && library === undefined) return undefined;
  if (message === undefined || (library !== undefined && message.libraryId !== library)) throw new AppError('not_found', 404, `Ingen besked med id ${id}.`);
  return message;
}

/** The audit detail: what the message had come to before the operator acted. */
const lastError = (message: OutboundMessage) => [message.status, message.errorCode, message.errorMessage].filter(Boolean).join(' · ');

/**
 * Sends a failed message again: back to `queued` (and audited) in one transaction, then onto its
 * queue. False when it was not failed (any more): a second click or a second operator changes nothing.
 */
export async function retryFailedMessage(deps: ActionDeps, id: number, operator: string, library?: string): Promise<boolean> {
  const message = ofLibrary(await getOutbound(deps.db, id), library, outboundApiId(id));
  if (!isFailed(message)) return false;
  // BullMQ ignores a job id it still holds, and the last try's failed job keeps it for a week.
  const queue = message.channel === 'sms' ? deps.queues.sendSms : deps.queues.sendEmail;
  await onQueues(deps, () => queue.remove(outboundJobId(id)));

  const now = deps.clock.now();
  const requeued = await deps.db.transaction(async (trx) => {
    if (!(await requeueFailed(trx, id, now))) return false;
    await recordAudit(trx, { actor: operator, action: 'message.retry', target: outboundApiId(id), detail: lastError(message), libraryId: message.libraryId }, now);
    return true;
  });
  if (!requeued) return false;
  try {
    await whenRedisUp(deps.redis, () => enqueueOutbound(deps.queues, deps.clock, [{ ...message, sendAfter: toStoredInstant(now) }]));
  } catch (error) {
    // The row says queued; reconciliation hands it to the queue once Redis answers.
    deps.logger.warn({ outboundId: id, err: (error as Error).message }, 'retried message not enqueued yet; reconciliation will');
  }
  deps.logger.info({ outboundId: id, operator }, 'operator retried a failed message');
  return true;
}

/** Gives a failed message up: `superseded`, audited. False when it was not failed (any more). */
export async function cancelMessage(deps: ActionDeps, id: number, operator: string, library?: string): Promise<boolean> {
  const message = ofLibrary(await getOutbound(deps.db, id), library, outboundApiId(id));
  if (!isFailed(message)) return false;
  const now = deps.clock.now();
  const cancelled = await deps.db.transaction(async (trx) => {
    if (!(await cancelFailed(trx, id, operator, now))) return false;
    await recordAudit(trx, { actor: operator, action: 'message.cancel', target: outboundApiId(id), detail: lastError(message), libraryId: message.libraryId }, now);
    return true;
  });
  if (cancelled) deps.logger.info({ outboundId: id, operator }, 'operator cancelled a failed message');
  return cancelled;
}

/**
 * Tries a given-up renew-all again (SPEC §4): `received` once more, its give-up time counted from
 * now, audited, in one transaction; then onto the renew-all queue. False when it was not given up
 * (any more): a second click changes nothing.
 */
export async function retryGivenUpRenewAll(deps: ActionDeps, id: number, operator: string, library?: string): Promise<boolean> {
  const message = ofLibrary(await getInbound(deps.db, id), library, inboundApiId(id));
  if (!message || message.status !== 'failed') return false;
  // The job that gave up is kept (completed or failed) under the message's job id, which BullMQ would ignore.
  await onQueues(deps, () => deps.queues.renewAll.remove(inboundJobId(id)));

  const now = deps.clock.now();
  const retried = await deps.db.transaction(async (trx) => {
    if (!(await retryFailedInbound(trx, id, now))) return false;
    await recordAudit(trx, { actor: operator, action: 'inbound.retry', target: inboundApiId(id), detail: message.messageSid, libraryId: message.libraryId }, now);
    return true;
  });
  if (!retried) return false;
  try {
    await whenRedisUp(deps.redis, () => enqueueInbound(deps.queues, message));
  } catch (error) {
    // The row says received; reconciliation hands it to the queue once Redis answers.
    deps.logger.warn({ inboundId: id, err: (error as Error).message }, 'retried renew-all not enqueued yet; reconciliation will');
  }
  deps.logger.info({ inboundId: id, operator }, 'operator retried a given-up renew-all');
  return true;
}

/**
 * Runs a failed job again. The audit row is written in a transaction that commits only if BullMQ
 * took the retry. False when the queue or job is unknown or the job is not failed (any more).
 */
export async function retryFailedJob(deps: ActionDeps, queueName: string, jobId: string, operator: string): Promise<boolean> {
  const queue = deps.queues.all.find((candidate) => candidate.name === queueName);
  const job = queue ? await onQueues(deps, () => queue.getJob(jobId)) : undefined;
  if (!job || (await onQueues(deps, () => job.getState())) !== 'failed') return false;
  const now = deps.clock.now();
  await deps.db.transaction(async (trx) => {
    await recordAudit(trx, { actor: operator, action: 'job.retry', target: `${queueName}/${jobId}`, detail: job.failedReason || null }, now);
    await onQueues(deps, () => job.retry('failed'));
  });
  deps.logger.info({ queue: queueName, jobId, operator }, 'operator retried a failed job');
  return true;
}
