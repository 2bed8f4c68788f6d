import type { Job } from 'bullmq';
import { getInbound } from '../db/repositories/inbound.js';
import { giveUpCauseOf, giveUpRenewAll, handleRenewAll, type RenewAllDeps } from '../src/renewals/renew-all.js';
import type { InboundJob } from '../src/queue/queues.js';

/**
 * The renew-all job. The library system away (or anything else failing) is retried with backoff;
 * the last attempt gives the request up instead of failing silently, so the patron always hears.
 */
export function createRenewAllProcessor(deps: RenewAllDeps) {
  return async (job: Job<InboundJob>): Promise<string> => {
    try {
      return (await handleRenewAll(deps, job.data.inboundId)).state;
    } catch (error) {
      if (job.attemptsMade + 1 < (job.opts.attempts ?? 1)) throw error;
      // A job naming no stored message stays failed, for operators to see; there is no patron to tell.
      if (!(await getInbound(deps.db, job.data.inboundId))) throw error;
      deps.logger.error({ inboundId: job.data.inboundId, err: (error as Error).message }, 'renew-all failed its last attempt');
      return (await giveUpRenewAll(deps, job.data.inboundId, giveUpCauseOf(error))).state;
    }
  };
}
