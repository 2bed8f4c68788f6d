import twilio from 'twilio';
import { classifyTwilioError } from './twilio-errors.js';
import { LeanRequestClient } from './twilio-http.js';
import { confirmStillToSend, type OutgoingSms, type SentSms, type SmsTransport } from './transport.js';

export interface TwilioTransportOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** Another Twilio-compatible base URL (a loopback server in tests); Twilio's own when undefined. */
  readonly apiBaseUrl: string | undefined;
  readonly from: string;
  readonly messagingServiceSid: string | undefined;
  readonly timeoutMs?: number;
}

/** Sends through Twilio's Messages API with the official SDK. Retries are BullMQ's job, not the SDK's. */
export function createTwilioTransport(options: TwilioTransportOptions): SmsTransport {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const client = twilio(options.accountSid, options.authToken, { autoRetry: false, timeout: timeoutMs, httpClient: new LeanRequestClient(timeoutMs) });
  if (options.apiBaseUrl) client.api.baseUrl = options.apiBaseUrl;
  const sender = options.messagingServiceSid ? { messagingServiceSid: options.messagingServiceSid } : { from: options.from };

  return {
    name: 'twilio',
    async send(outgoing: OutgoingSms): Promise<SentSms> {
      const sms = await confirmStillToSend(outgoing);
      try {
        const message = await client.messages.create({ ...sender, to: sms.to, body: sms.body, statusCallback: sms.statusCallback });
        return { sid: message.sid };
      } catch (error) {
        throw classifyTwilioError(error);
      }
    },
    async findRecent({ to, body, withinMs }): Promise<SentSms | null> {
      try {
        // Twilio lists a number's messages newest first; Twilio has no idempotency key for sends.
        const [newest] = await client.messages.list({ to, limit: 1 });
        const recent = newest !== undefined && Date.now() - newest.dateCreated.getTime() <= withinMs;
        return recent && newest.body === body ? { sid: newest.sid } : null;
      } catch (error) {
        throw classifyTwilioError(error);
      }
    },
  };
}
