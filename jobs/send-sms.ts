import { DelayedError, type Job } from 'bullmq';
import type { Deps } from '../src/deps.js';
import { sendSms, type SendSmsDeps, type SendSmsResult } from '../src/outbox/send-sms.js';
import { delayUntil } from '../src/queue/enqueue.js';
import type { OutboundJob } from '../src/queue/queues.js';

export function createSendSmsProcessor(deps: SendSmsDeps & Pick<Deps, 'queues'>) {
  return async (job: Job<OutboundJob>, token?: string): Promise<SendSmsResult> => {
    const result = await sendSms(deps, job.data.outboundId, {
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      async waitUntil(instant, opening) {
        // A reminder or notice left at 20:00 takes a turn of the day it will leave on: the night's
        // notices take theirs only shortly before the opening, so what is left over goes first.
        const [turn] = opening ? await deps.queues.turns.take([opening]) : [];
        if (turn !== undefined) await job.changePriority({ priority: turn });
        await job.moveToDelayed(Date.now() + delayUntil(deps.clock, instant), token);
      },
    });
    // BullMQ's way of saying "this job went back to delayed; do not complete it".
    if (result === 'not-due') throw new DelayedError();
    return result;
  };
}
