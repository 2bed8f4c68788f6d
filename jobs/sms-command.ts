import type { Job } from 'bullmq';
import { handleSmsCommand, type CommandDeps } from '../src/commands/sms-command.js';
import type { InboundJob } from '../src/queue/queues.js';

export function createSmsCommandProcessor(deps: CommandDeps) {
  return async (job: Job<InboundJob>): Promise<string> => {
    const reply = await handleSmsCommand(deps, job.data.inboundId);
    return reply ? `reply ${reply.id}` : 'no reply';
  };
}
