import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { listUnprocessedInbound } from '../db/repositories/inbound.js';
import { getOutbound, listUnfinishedOutbound, recordSendFailure, type OutboundMessage } from '../db/repositories/outbound.js';
import { redisProblem, type Deps } from '../src/deps.js';
import { isUnfinished } from '../src/domain/message-status.js';
import { enqueuedByReconciler, enqueueInbound, enqueueOutbound } from '../src/queue/enqueue.js';
import { inboundJobId, outboundJobId } from '../src/queue/queues.js';
import { catchUpReminderScan, ensureReminderSchedule } from '../src/queue/reminder-schedule.js';
import { sendMayBeUnderWay } from '../src/outbox/send-claim.js';

type ReconcileDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'queues' | 'redis' | 'libraries'>;

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
 * commit and enqueue, and the night's notices, whose SMS get their jobs only in the ticks shortly
 * before they are due (src/queue/enqueue.ts, enqueuedByReconciler). Job ids come from row ids, so
 * re-adding never duplicates.
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
    const now = deps.clock.now();
    for (const channel of ['sms', 'email'] as const) {
      // An SMS due beyond the look-ahead needs no job yet (a night's notices): a later tick gives it one.
      const messages = page.filter((message) => message.channel === channel && !enqueuedByReconciler(message, now, deps.config.jobs.reconcileIntervalMs));
      const queue = channel === 'sms' ? deps.queues.sendSms : deps.queues.sendEmail;
      const states = await statesOf(
        queue,
        messages.map((message) => outboundJobId(message.id)),
      );
      const missing: OutboundMessage[] = [];
      for (const [index, message] of messages.entries()) {
        const state = states[index];
        if (state === 'unknown') {
          // A reply being sent at once by the job that wrote it has no job of its own: left alone
          // while its call may still be under way. Should that process have died, the next tick takes it.
          if (sendMayBeUnderWay(message, deps.clock.now())) continue;
          missing.push(message);
        }
        else if (state === 'completed') {
          // The row was read before its job finished it: a job that completed while this walk ran
          // has nothing left to do. Only one that ended without finishing the row runs again.
          if (!(await stillUnfinished(deps, message.id))) continue;
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

async function stillUnfinished(deps: ReconcileDeps, outboundId: number): Promise<boolean> {
  const current = await getOutbound(deps.db, outboundId);
  return current !== undefined && isUnfinished(current.status);
}

/** Where the end of the last reconciliation across the cluster is kept (epoch ms, real time). */
export const reconciledAtKey = (queuePrefix: string) => `${queuePrefix}:forny:reconciled-at`;

/** How long a reconciliation lock lives without its owner renewing it: a crashed owner's lock is gone this soon. */
export const RECONCILE_LOCK_MS = 5_000;

/** Extends the lock only for its owner (a lock that expired and was taken by another is left alone). */
const EXTEND_IF_OWNER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0";
const RELEASE_IF_OWNER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

type RunKind = 'start' | 'tick' | 'now';

/**
 * Runs reconcile at start and then every RECONCILE_INTERVAL_MS, one run at a time per process and,
 * through a Redis lock, one at a time across processes. The lock lasts one run: its owner (a token
 * of this process) renews it every RECONCILE_LOCK_MS / 3 while it works and deletes it when done, so
 * a lock left by a crashed process is gone within RECONCILE_LOCK_MS. Periodic runs skip a tick
 * another process already reconciled (the finished time in Redis) and take each interval of the
 * clock at most once between them (a key per interval), so the cluster reconciles once per tick;
 * the start-up run never skips: while another holds the lock it tries again every second until it
 * has run itself or seen another run finish after it started. Redis coming back triggers a run too;
 * a failed run is retried soon, backing off from one second up to the interval.
 */
export function startReconciler(deps: ReconcileDeps): { stop(): Promise<void>; runNow(): Promise<void> } {
  const interval = deps.config.jobs.reconcileIntervalMs;
  const lockKey = `${deps.config.queuePrefix}:forny:reconcile-lock`;
  const finishedKey = reconciledAtKey(deps.config.queuePrefix);
  const tickKey = `${deps.config.queuePrefix}:forny:reconcile-tick`;
  const owner = `${process.pid}:${randomUUID()}`;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;

  /** Reconciles under the lock; false when another process holds it. */
  const reconcileLocked = async (): Promise<boolean> => {
    if ((await deps.redis.set(lockKey, owner, 'PX', RECONCILE_LOCK_MS, 'NX')) !== 'OK') return false;
    const renew = setInterval(() => {
      deps.redis.eval(EXTEND_IF_OWNER, 1, lockKey, owner, String(RECONCILE_LOCK_MS)).catch(() => undefined);
    }, Math.floor(RECONCILE_LOCK_MS / 3));
    renew.unref();
    try {
      await reconcile(deps);
      await deps.redis.set(finishedKey, String(Date.now()));
    } finally {
      clearInterval(renew);
      await deps.redis.eval(RELEASE_IF_OWNER, 1, lockKey, owner).catch(() => undefined);
    }
    return true;
  };

  const startedAt = Date.now();
  const run = async (kind: RunKind): Promise<void> => {
    if (stopped) return;
    if (running) return running;
    clearTimeout(retry);
    running = (async () => {
      try {
        const finishedAt = Number((await deps.redis.get(finishedKey)) ?? 0);
        // Another process reconciled within this tick: nothing for this one to do until the next.
        if (kind === 'tick' && Date.now() - finishedAt < interval / 2) return;
        // Each process's timer has its own phase; skipping "recent" runs alone still lets three of
        // them reconcile 1.5 times an interval. The first tick in each interval of the clock takes it.
        if (kind === 'tick' && (await deps.redis.set(`${tickKey}:${Math.floor(Date.now() / interval)}`, owner, 'PX', interval * 2, 'NX')) !== 'OK') return;
        const ran = await reconcileLocked();
        // Start-up must see a reconciliation begun after it started (a crashed process's work).
        if (!ran && kind === 'start' && finishedAt < startedAt && !stopped) retry = setTimeout(() => void run('start'), 1000).unref();
        failures = 0;
      } catch (error) {
        failures += 1;
        const delay = Math.min(interval, 1000 * 2 ** Math.min(failures - 1, 10));
        deps.logger.warn({ retryInMs: delay }, `reconciliation failed (${deps.redis.status === 'ready' ? (error as Error).message : redisProblem(deps.config, error)}); trying again`);
        deps.logger.debug({ err: error }, 'reconciliation failed');
        if (!stopped) retry = setTimeout(() => void run(kind === 'start' ? 'start' : 'now'), delay).unref();
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const timer = setInterval(() => void run('tick'), interval);
  timer.unref();
  const onReady = () => void run('now');
  deps.redis.on('ready', onReady);
  void run('start');
  return {
    async runNow() {
      await running;
      await run('now');
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
