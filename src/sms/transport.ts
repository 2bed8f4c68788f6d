/** A slot taken in the SMS rate ahead of its send (src/sms/sms-rate.ts): the instant (this process's `performance.now()`) the send may leave. */
export interface SmsSlot {
  readonly at: number;
}

export interface OutgoingSms {
  readonly to: string;
  readonly body: string;
  /** Where Twilio posts delivery receipts for this message. */
  readonly statusCallback: string;
  /**
   * Asked once more just before the message is handed to the provider, after any wait of the
   * transport's own (the rate's pacing): false calls the send off with SmsWithdrawn. The sender
   * checks there what the wait may have changed: the send window, its claim on the message.
   */
  readonly stillToSend?: () => Promise<boolean>;
  /** Its place in SMS_RATE_PER_SECOND, taken before it was written (a reply sent at once, src/sms/sms-rate.ts). */
  readonly slot?: SmsSlot;
  /**
   * A reminder or notice (SPEC §14): it takes a place in the rate only when one is free now, so the
   * rate is never booked ahead by the backlog and a patron's reply finds a near place.
   */
  readonly bulk?: boolean;
}

export interface SentSms {
  /** The provider's id for the message (Twilio's `SM…` sid). */
  readonly sid: string;
}

/** Sends one SMS or throws SmsSendError (or SmsWithdrawn, when `stillToSend` said no). */
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

/** The send was called off at its last moment (`stillToSend` said no): nothing reached the provider. */
export class SmsWithdrawn extends Error {
  override readonly name = 'SmsWithdrawn';
}

/**
 * Every transport calls this right before the provider is called: asks `stillToSend`, and returns
 * the message without it, so a transport wrapping another asks once.
 */
export async function confirmStillToSend(sms: OutgoingSms): Promise<OutgoingSms> {
  const { stillToSend, ...rest } = sms;
  if (stillToSend && !(await stillToSend())) throw new SmsWithdrawn(`the send to ${sms.to} was called off before it left`);
  return rest;
}
