import { UnrecoverableError, type Job } from 'bullmq';
import { getPatron } from '../db/repositories/library.js';
import {
  claimForSending,
  countNamedLoans,
  getOutbound,
  markSent,
  recordSendFailure,
  rewriteEmail,
  stillDueLoans,
  supersede,
} from '../db/repositories/outbound.js';
import type { Deps } from '../src/deps.js';
import { isUnfinished } from '../src/domain/message-status.js';
import { MailSendError } from '../src/mail/transport.js';
import { textsFor } from '../src/texts.js';
import type { OutboundJob } from '../src/queue/queues.js';

type SendEmailDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'mail'>;

export type SendEmailResult = 'sent' | 'superseded' | 'nothing-to-do';

/**
 * Sends one outbox e-mail, at once whatever the hour (e-mail has no window). A reminder whose
 * loans were all renewed or returned since it was written is superseded; one partly stale is
 * rewritten to list only the loans still due.
 */
export async function sendEmail(deps: SendEmailDeps, outboundId: number, attempt: { attemptsMade: number; maxAttempts: number }): Promise<SendEmailResult> {
  const message = await getOutbound(deps.db, outboundId);
  if (!message || message.channel !== 'email' || !isUnfinished(message.status)) return 'nothing-to-do';
  const now = deps.clock.now();

  let content = { subject: message.subject ?? '', text: message.body, html: message.html ?? '' };
  if (message.kind === 'reminder') {
    const due = await stillDueLoans(deps.db, message.id);
    if (due.length === 0) {
      await supersede(deps.db, message.id, now, { reason: 'every loan it names was renewed or returned' });
      return 'superseded';
    }
    const patron = message.patronId ? await getPatron(deps.db, message.patronId) : undefined;
    if (due.length < (await countNamedLoans(deps.db, message.id)) && patron && due[0]) {
      content = textsFor(deps.config).reminderEmail(patron.name, due[0].dueDate, due, { hasMobile: patron.mobile !== null });
      await rewriteEmail(deps.db, message.id, content, now);
    }
  }

  if (!(await claimForSending(deps.db, message.id, now))) return 'nothing-to-do';
  try {
    const sent = await deps.mail.send({ to: message.to, from: message.from, ...content });
    await markSent(deps.db, message.id, sent.messageId, deps.clock.now());
    deps.logger.debug({ outboundId, purpose: message.purpose }, 'e-mail sent');
    return 'sent';
  } catch (thrown) {
    const error = thrown instanceof MailSendError ? thrown : new MailSendError(String((thrown as Error).message ?? thrown), null, true);
    const final = !error.retryable || attempt.attemptsMade + 1 >= attempt.maxAttempts;
    await recordSendFailure(deps.db, message.id, { code: error.code, message: error.message, final, certain: true }, deps.clock.now());
    deps.logger.warn({ outboundId, code: error.code, final }, 'e-mail send failed');
    if (!error.retryable) throw new UnrecoverableError(error.message);
    throw error;
  }
}

export function createSendEmailProcessor(deps: SendEmailDeps) {
  return async (job: Job<OutboundJob>): Promise<SendEmailResult> =>
    sendEmail(deps, job.data.outboundId, { attemptsMade: job.attemptsMade, maxAttempts: job.opts.attempts ?? 1 });
}
