import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';

export interface OutgoingEmail {
  readonly to: string;
  readonly from: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Sends one e-mail or throws MailSendError. */
export interface MailTransport {
  readonly name: 'smtp' | 'sandbox';
  send(email: OutgoingEmail): Promise<{ messageId: string }>;
  close(): void;
}

/** A failed send: SMTP 5xx is permanent, 4xx and network trouble are worth another try. */
export class MailSendError extends Error {
  override readonly name = 'MailSendError';

  constructor(
    message: string,
    readonly code: string | null,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function createSmtpTransport(smtpUrl: string): MailTransport {
  const transporter = nodemailer.createTransport(smtpUrl);
  return {
    name: 'smtp',
    async send(email) {
      try {
        const info = await transporter.sendMail(email);
        return { messageId: String(info.messageId) };
      } catch (error) {
        const responseCode = (error as { responseCode?: unknown }).responseCode;
        const errorCode = (error as { code?: unknown }).code;
        const code = typeof responseCode === 'number' ? `smtp-${responseCode}` : typeof errorCode === 'string' ? errorCode : 'network';
        const permanent = typeof responseCode === 'number' && responseCode >= 500;
        throw new MailSendError((error as Error).message, code, !permanent, { cause: error });
      }
    },
    close: () => transporter.close(),
  };
}

/** Stores nothing anywhere but the outbox: each e-mail counts as sent (development, demo). */
export function createSandboxMailTransport(): MailTransport & { readonly sent: OutgoingEmail[] } {
  const sent: OutgoingEmail[] = [];
  return {
    name: 'sandbox',
    sent,
    async send(email) {
      sent.push(email);
      if (sent.length > 1000) sent.shift();
      return { messageId: `<sandbox-${randomBytes(8).toString('hex')}@forny>` };
    },
    close: () => undefined,
  };
}
