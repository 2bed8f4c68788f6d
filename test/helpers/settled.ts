import type { Queue } from 'bullmq';
import { eventually } from './harness.js';

/**
 * True when none of `queues` has work that could still run soon: nothing waiting, active or
 * prioritised, and no delayed job (a retry's backoff) due within `horizonMs`. A reply delayed to
 * tomorrow's 08:45 does not count: it cannot show before then.
 */
async function idle(queues: readonly Queue[], horizonMs: number): Promise<boolean> {
  for (const queue of queues) {
    const counts = await queue.getJobCounts('waiting', 'active', 'prioritized', 'waiting-children');
    if (Object.values(counts).some((count) => count > 0)) return false;
    const soon = Date.now() + horizonMs;
    if ((await queue.getDelayed()).some((job) => job.timestamp + job.delay <= soon)) return false;
  }
  return true;
}

/**
 * Waits until the queues have nothing left to do (checked twice in a row, so a job passed from one
 * queue to the next between two reads is not missed). An absence check ("no second SMS") asserts
 * after this: by then every job that could have sent one has run.
 */
export async function queuesSettled(queues: readonly Queue[], options: { horizonMs?: number; timeoutMs?: number } = {}): Promise<void> {
  const horizonMs = options.horizonMs ?? 2000;
  await eventually(async () => (await idle(queues, horizonMs)) && (await idle(queues, horizonMs)), options.timeoutMs ?? 15_000, 'the queues to settle');
}
