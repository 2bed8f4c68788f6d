/**
 * What can go wrong talking SIP2, one class per kind so callers can tell them apart. Messages name
 * the system (`host:port`) and never carry the password.
 */
export type Sip2ErrorCode = 'login_refused' | 'unsupported' | 'timeout' | 'connection_lost' | 'protocol';

export abstract class Sip2Error extends Error {
  abstract readonly code: Sip2ErrorCode;
}

/** `94` with ok `0`: the user, password or location is wrong, or the account is blocked. */
export class Sip2LoginRefused extends Sip2Error {
  override readonly name = 'Sip2LoginRefused';
  readonly code = 'login_refused';
}

/** The `98` answer's BX lacks a message forny needs. */
export class Sip2Unsupported extends Sip2Error {
  override readonly name = 'Sip2Unsupported';
  readonly code = 'unsupported';
}

/** No answer within the per-request time-out (the connection is dropped: a late answer would confuse the next request). */
export class Sip2Timeout extends Sip2Error {
  override readonly name = 'Sip2Timeout';
  readonly code = 'timeout';
}

/** The connection could not be made, or closed before the answer came. */
export class Sip2ConnectionLost extends Sip2Error {
  override readonly name = 'Sip2ConnectionLost';
  readonly code = 'connection_lost';
}

/** The system answered something forny cannot use (bad checksums after resends, wrong message, wrong sequence). */
export class Sip2ProtocolError extends Sip2Error {
  override readonly name = 'Sip2ProtocolError';
  readonly code = 'protocol';
}
