import { randomBytes } from 'node:crypto';
import { confirmStillToSend, type OutgoingSms, type SentSms, type SmsTransport } from './transport.js';

/**
 * Calls no one: every SMS counts as sent, with a made-up sid (`SB…`). For the demo and for
 * development without Twilio credentials; the outbox shows what would have gone out.
 */
export function createSandboxTransport(): SmsTransport & { readonly sent: (OutgoingSms & SentSms & { at: number })[] } {
  const sent: (OutgoingSms & SentSms & { at: number })[] = [];
  return {
    name: 'sandbox',
    sent,
    async send(outgoing: OutgoingSms): Promise<SentSms> {
      const sms = await confirmStillToSend(outgoing);
      const sid = `SB${randomBytes(16).toString('hex')}`;
      sent.push({ ...sms, sid, at: Date.now() });
      if (sent.length > 1000) sent.shift();
      return { sid };
    },
    async findRecent({ to, body, withinMs }): Promise<SentSms | null> {
      const newest = sent.findLast((sms) => sms.to === to);
      return newest && newest.body === body && Date.now() - newest.at <= withinMs ? { sid: newest.sid } : null;
    },
  };
}
