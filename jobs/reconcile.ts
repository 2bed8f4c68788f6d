import type { Queue } from 'bullmq';
import { listUnprocessedInbound } from '../db/repositories/inbound.js';
import { listUnfinishedOutbound, recordSendFailure, type OutboundMessage } from '../db/repositories/outbound.js';
import { redisProblem, type Deps } from '../src/deps.js';
import { enqueueInbound, enqueueOutbound } from '../src/queue/enqueue.js';
import { inboundJobId, outboundJobId } from '../src/queue/queues.js';
import { catchUpReminderScan, ensureReminderSchedule } from '../src/queue/reminder-schedule.js';

type ReconcileDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'queues' | 'redis'>;

export interface ReconcileReport {
  readonly inbound: number;
  readonly outbound: number;
  readonly failed: number;
}

const PAGE = 500;

/** Job states per id, asked in parallel (each is one round trip to Redis). */
async function statesOf(queue: Queue, ids: readonly string[]): Promise<string[]> {
  return Promise.all(ids.map((id) => queue.getJobState(id)));
}

/**
 * The database is the source of truth; Redis only carries work. This walks what the database says
 * is unfinished and gives the queues whatever they lack: a message stored while Redis was down, a
 * job lost when Redis lost its data (it keeps nothing on disk here), a process killed between
 * commit and enqueue. Job ids come from row ids, so re-adding never duplicates.
 */
export async function reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
  let inbound = 0;
  let outbound = 0;
  let failed = 0;

  const waiting = await listUnprocessedInbound(deps.db, 10_000);
  for (let start = 0; start < waiting.length; start += PAGE) {
    for (const [queue, messages] of [
      [deps.queues.renewAll, waiting.slice(start, start + PAGE).filter((message) => message.command === 'renew-all')],
      [deps.queues.smsCommand, waiting.slice(start, start + PAGE).filter((message) => message.command !== 'renew-all')],
    ] as const) {
      const states = await statesOf(
        queue,
        messages.map((message) => inboundJobId(message.id)),
      );
      for (const [index, message] of messages.entries()) {
        const state = states[index];
        if (state !== 'unknown' && state !== 'failed' && state !== 'completed') continue;
        // A job that ended without settling its message (its process died before the give-up was
        // written, say) runs again: the job itself gives up a request that is too old.
        if (state !== 'unknown') await queue.remove(inboundJobId(message.id));
        await enqueueInbound(deps.queues, message);
        inbound += 1;
      }
    }
  }

  for (let afterId = 0; ; ) {
    const page = await listUnfinishedOutbound(deps.db, afterId, PAGE);
    if (page.length === 0) break;
    afterId = page[page.length - 1]?.id ?? afterId;
    for (const channel of ['sms', 'email'] as const) {
      const messages = page.filter((message) => message.channel === channel);
      const queue = channel === 'sms' ? deps.queues.sendSms : deps.queues.sendEmail;
      const states = await statesOf(
        queue,
        messages.map((message) => outboundJobId(message.id)),
      );
      const missing: OutboundMessage[] = [];
      for (const [index, message] of messages.entries()) {
        const state = states[index];
        if (state === 'unknown') missing.push(message);
        else if (state === 'completed') {
          // The job ended without finishing the row (it was superseded and re-queued, say): run it again.
          await queue.remove(outboundJobId(message.id));
          missing.push(message);
        } else if (state === 'failed') {
          // The job gave up but died before saying so in the database.
          await recordSendFailure(deps.db, message.id, { code: message.errorCode, message: message.errorMessage ?? 'job failed', final: true, certain: true }, deps.clock.now());
          failed += 1;
        }
      }
      await enqueueOutbound(deps.queues, deps.clock, missing);
      outbound += missing.length;
    }
  }

  await ensureReminderSchedule(deps.queues, deps.config);
  await catchUpReminderScan(deps);
  if (inbound + outbound + failed > 0) deps.logger.warn({ inbound, outbound, failed }, 'reconciliation re-enqueued work the queues had lost');
  return { inbound, outbound, failed };
}

/** Where the end of the last reconciliation across the cluster is kept (epoch ms, real time). */
export const reconciledAtKey = (queuePrefix: string) => `${queuePrefix}:forny:reconciled-at`;

/**
 * Runs reconcile now and then every RECONCILE_INTERVAL_MS, one run at a time per process and,
 * through a short Redis lock, one at a time across processes. Redis coming back is the moment the
 * queues most likely lack something, so it triggers a run too. A failed run (Redis still settling)
 * is retried soon, backing off from one second up to the interval.
 */
export function startReconciler(deps: ReconcileDeps): { stop(): Promise<void>; runNow(): Promise<void> } {
  const interval = deps.config.jobs.reconcileIntervalMs;
  const lockKey = `${deps.config.queuePrefix}:forny:reconcile-lock`;
  const finishedKey = reconciledAtKey(deps.config.queuePrefix);
  let running: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;

  const run = async (): Promise<void> => {
    if (stopped) return;
    if (running) return running;
    clearTimeout(retry);
    running = (async () => {
      try {
        const locked = await deps.redis.set(lockKey, String(process.pid), 'PX', Math.max(1000, Math.floor(interval / 2)), 'NX');
        if (locked) {
          await reconcile(deps);
          await deps.redis.set(finishedKey, String(Date.now()));
        }
        failures = 0;
      } catch (error) {
        failures += 1;
        const delay = Math.min(interval, 1000 * 2 ** Math.min(failures - 1, 10));
        deps.logger.warn({ retryInMs: delay }, `reconciliation failed (${deps.redis.status === 'ready' ? (error as Error).message : redisProblem(deps.config, error)}); trying again`);
        deps.logger.debug({ err: error }, 'reconciliation failed');
        if (!stopped) retry = setTimeout(() => void run(), delay).unref();
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const timer = setInterval(() => void run(), interval);
  timer.unref();
  const onReady = () => void run();
  deps.redis.on('ready', onReady);
  void run();
  return {
    async runNow() {
      await running;
      await deps.redis.del(lockKey);
      await run();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(retry);
      deps.redis.off('ready', onReady);
      await running;
    },
  };
}
