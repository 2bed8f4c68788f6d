import type { Job } from 'bullmq';
import { sendEmail, type SendEmailDeps, type SendEmailResult } from '../src/outbox/send-email.js';
import type { OutboundJob } from '../src/queue/queues.js';

export function createSendEmailProcessor(deps: SendEmailDeps) {
  return async (job: Job<OutboundJob>): Promise<SendEmailResult> =>
    sendEmail(deps, job.data.outboundId, { attemptsMade: job.attemptsMade, maxAttempts: job.opts.attempts ?? 1 });
}
