export interface OutgoingSms {
  readonly to: string;
  readonly body: string;
  /** Where Twilio posts delivery receipts for this message. */
  readonly statusCallback: string;
}

export interface SentSms {
  /** The provider's id for the message (Twilio's `SM…` sid). */
  readonly sid: string;
}

/** Sends one SMS or throws SmsSendError. */
export interface SmsTransport {
  readonly name: 'twilio' | 'sandbox';
  send(sms: OutgoingSms): Promise<SentSms>;
  /**
   * The newest message to `to`, if it has exactly `body` and was created within the last
   * `withinMs`: after an attempt that died mid-call, this tells whether the provider took it.
   */
  findRecent(query: { to: string; body: string; withinMs: number }): Promise<SentSms | null>;
}

/**
 * A failed send, classified: `retryable` says whether waiting and trying again can help; `certain`
 * says the provider surely did not take the message (false after a timeout mid-call).
 */
export class SmsSendError extends Error {
  override readonly name = 'SmsSendError';

  constructor(
    message: string,
    readonly code: string | null,
    readonly retryable: boolean,
    readonly certain: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
