import { DelayedError, type Job } from 'bullmq';
import { sendSms, type SendSmsDeps, type SendSmsResult } from '../src/outbox/send-sms.js';
import { delayUntil } from '../src/queue/enqueue.js';
import type { OutboundJob } from '../src/queue/queues.js';

export function createSendSmsProcessor(deps: SendSmsDeps) {
  return async (job: Job<OutboundJob>, token?: string): Promise<SendSmsResult> => {
    const result = await sendSms(deps, job.data.outboundId, {
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
      async waitUntil(instant) {
        await job.moveToDelayed(Date.now() + delayUntil(deps.clock, instant), token);
      },
    });
    // BullMQ's way of saying "this job went back to delayed; do not complete it".
    if (result === 'not-due') throw new DelayedError();
    return result;
  };
}
