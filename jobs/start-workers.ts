import { Worker, type Job, type Processor } from 'bullmq';
import { Redis } from 'ioredis';
import type { Deps } from '../src/deps.js';
import { cappedBackoff, QUEUE, type QueueName } from '../src/queue/queues.js';
import { startReconciler } from './reconcile.js';
import { createReminderProcessor } from './reminders.js';
import { createRenewAllProcessor } from './renew-all.js';
import { createSendEmailProcessor } from './send-email.js';
import { createSendSmsProcessor } from './send-sms.js';
import { createSmsCommandProcessor } from './sms-command.js';

/** How long a forced close of the workers may take after the grace (it needs Redis). */
const FORCED_CLOSE_MS = 1000;

export interface RunningWorkers {
  readonly workers: readonly Worker[];
  /** Runs reconciliation at once (tests, and after an operator's bulk action). */
  reconcileNow(): Promise<void>;
  /** Stops taking jobs, lets active ones finish (up to `graceMs`), closes connections. */
  close(graceMs?: number): Promise<void>;
}

export interface WorkerOptions {
  /** Whether this process runs the periodic reconciliation (every worker process does by default). */
  readonly reconcile?: boolean;
}

/**
 * Starts one BullMQ worker per queue on a patient Redis connection of its own (commands wait for
 * Redis to come back instead of failing), and the reconciler that re-enqueues what the queues lack.
 */
export function startWorkers(deps: Deps, options: WorkerOptions = {}): RunningWorkers {
  const connection = new Redis(deps.config.redisUrl, { maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 200, 2000) });
  connection.on('error', () => undefined); // the web connection already reports outages
  const prefix = deps.config.queuePrefix;

  const make = <T>(name: QueueName, processor: Processor<T>, extra: { concurrency: number; limiter?: { max: number; duration: number } }) => {
    // Jobs here take milliseconds; a short lock lets BullMQ hand the job of a killed process to
    // another worker within seconds (locks of running jobs are renewed, so long jobs are safe).
    // Every job is idempotent, so a job that stalls more than once may simply run again.
    const worker = new Worker<T>(name, processor, { connection, prefix, lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 5, settings: { backoffStrategy: cappedBackoff }, ...extra });
    worker.on('failed', (job: Job<T> | undefined, error: Error) => {
      deps.logger.warn({ queue: name, jobId: job?.id, attemptsMade: job?.attemptsMade, err: error.message }, 'job failed');
    });
    worker.on('error', (error) => deps.logger.debug({ queue: name, err: error.message }, 'worker connection error'));
    return worker;
  };

  const workers = [
    // A renew-all sends its reply itself when it may: its jobs wait on Twilio as send-sms's do.
    make(QUEUE.renewAll, createRenewAllProcessor(deps), { concurrency: 50 }),
    make(QUEUE.smsCommand, createSmsCommandProcessor(deps), { concurrency: 4 }),
    // BullMQ's limiter fetches jobs no faster than the rate, so few wait for their slot at Twilio
    // (the rate itself is held there, src/sms/sms-rate.ts).
    make(QUEUE.sendSms, createSendSmsProcessor(deps), {
      concurrency: Math.min(50, deps.smsRate.ratePerSecond),
      limiter: deps.smsRate.workerLimiter,
    }),
    make(QUEUE.sendEmail, createSendEmailProcessor(deps), { concurrency: 5 }),
    make(QUEUE.reminders, createReminderProcessor(deps), { concurrency: 1 }),
  ];

  const reconciler = options.reconcile === false ? undefined : startReconciler(deps);

  return {
    workers,
    reconcileNow: async () => reconciler?.runNow(),
    async close(graceMs = 10_000) {
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref());
      // The reconciler may be waiting on Redis too: it shares the grace with the jobs.
      const graceful = (async () => {
        await reconciler?.stop();
        await Promise.all(workers.map((worker) => worker.close()));
      })();
      if ((await Promise.race([graceful, timeout])) === 'timeout') {
        deps.logger.warn({ graceMs }, 'jobs still active at shutdown; they will be retried (stalled) after restart');
        // A forced close still talks to Redis; with Redis unreachable it would never end.
        const forced = new Promise((resolve) => setTimeout(resolve, FORCED_CLOSE_MS).unref());
        await Promise.race([Promise.allSettled(workers.map((worker) => worker.close(true))), forced]);
      }
      connection.disconnect();
    },
  };
}
