import type { Deps } from '../deps.js';
import { whenRedisUp } from '../redis-gate.js';

type QueueReadDeps = Pick<Deps, 'queues' | 'redis' | 'logger'>;

/**
 * Runs a read against the queues, or gives undefined when Redis is not connected or does not answer
 * within `timeoutMs` (logged at debug: the probes and the connection's own warning report outages),
 * so the dashboard and /metrics show what the database knows instead of hanging or failing on Redis.
 */
export async function fromQueues<T>(deps: QueueReadDeps, what: string, read: () => Promise<T>, timeoutMs = 1000): Promise<T | undefined> {
  try {
    return await whenRedisUp(deps.redis, read, timeoutMs);
  } catch (error) {
    deps.logger.debug({ err: (error as Error).message }, `${what} unavailable`);
    return undefined;
  }
}

/** BullMQ's job states that operators watch, in the order the dashboard shows them. */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface QueueCounts {
  readonly queue: string;
  readonly counts: Readonly<Record<JobState, number>>;
}

/** Job counts per state for every queue, or undefined while Redis does not answer. */
export function queueCounts(deps: QueueReadDeps): Promise<QueueCounts[] | undefined> {
  return fromQueues(deps, 'queue counts', () =>
    Promise.all(
      deps.queues.all.map(async (queue) => {
        const counts = await queue.getJobCounts(...JOB_STATES, 'prioritized');
        // BullMQ keeps prioritised jobs (reminders and notices waiting their library's turn) apart
        // from its wait list; to an operator, and to an alert on the backlog, both are waiting.
        const waiting = (counts.waiting ?? 0) + (counts.prioritized ?? 0);
        return { queue: queue.name, counts: Object.fromEntries(JOB_STATES.map((state) => [state, state === 'waiting' ? waiting : (counts[state] ?? 0)])) as Record<JobState, number> };
      }),
    ),
  );
}
