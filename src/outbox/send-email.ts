import { UnrecoverableError } from 'bullmq';
import { claimForSending, getOutbound, markSent, recordSendFailure } from '../../db/repositories/outbound.js';
import type { Deps } from '../deps.js';
import { isUnfinished } from '../domain/message-status.js';
import { MailSendError } from '../mail/transport.js';
import { reminderStillDue } from './reminder-check.js';

export type SendEmailDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'logger' | 'mail' | 'libraries'>;

export type SendEmailResult = 'sent' | 'superseded' | 'nothing-to-do';

/**
 * Sends one outbox e-mail, at once whatever the hour (e-mail has no window). A reminder is checked
 * first as an SMS reminder is (src/outbox/reminder-check): superseded when none of its loans is
 * still due, rewritten to list only those still due when some are not.
 */
export async function sendEmail(deps: SendEmailDeps, outboundId: number, attempt: { attemptsMade: number; maxAttempts: number }): Promise<SendEmailResult> {
  const message = await getOutbound(deps.db, outboundId);
  if (!message || message.channel !== 'email' || !isUnfinished(message.status)) return 'nothing-to-do';
  const now = deps.clock.now();

  if (message.kind === 'reminder' && !(await reminderStillDue(deps, message, now))) return 'superseded';

  // The claimed row carries the text as the check left it (a reminder recounted).
  const claimed = await claimForSending(deps.db, message.id, now);
  if (!claimed) return 'nothing-to-do';
  try {
    const sent = await deps.mail.send({ to: claimed.to, from: claimed.from, subject: claimed.subject ?? '', text: claimed.body, html: claimed.html ?? '' });
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
