import { randomBytes } from 'node:crypto';
import type { OutgoingSms, SentSms, SmsTransport } from './transport.js';

/**
 * Calls no one: every SMS counts as sent, with a made-up sid (`SB…`). For the demo and for
 * development without Twilio credentials; the outbox shows what would have gone out.
 */
export function createSandboxTransport(): SmsTransport & { readonly sent: OutgoingSms[] } {
  const sent: OutgoingSms[] = [];
  return {
    name: 'sandbox',
    sent,
    async send(sms: OutgoingSms): Promise<SentSms> {
      sent.push(sms);
      if (sent.length > 1000) sent.shift();
      return { sid: `SB${randomBytes(16).toString('hex')}` };
    },
  };
}
