/**
 * One line for an error from a driver or the network, naming the address it concerns (never its
 * credentials). The full error, with its stack and driver fields, belongs in the debug log: an
 * operator reading the start-up output needs to know what is wrong and where, not node-postgres's
 * internals.
 */

const NETWORK: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'nothing is listening there (connection refused)',
  ENOTFOUND: 'the host name is unknown',
  EAI_AGAIN: 'the host name could not be looked up',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed',
};

/** PostgreSQL's SQLSTATE codes an operator meets when the database itself is misnamed or locked. */
const POSTGRES: Readonly<Record<string, string>> = {
  '3D000': 'the database does not exist (create it, or fix DATABASE_URL)',
  '28P01': 'the password was refused',
  '28000': 'the login was refused',
  '57P03': 'the server is starting up or shutting down',
  '53300': 'the server has too many connections',
};

interface ErrorLike {
  readonly code?: unknown;
  readonly message?: unknown;
  readonly errors?: unknown;
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, errors } = error as ErrorLike;
  if (typeof code === 'string') return code;
  // Node's AggregateError for a host with several addresses (::1 and 127.0.0.1): the first says enough.
  if (Array.isArray(errors) && errors.length > 0) return codeOf(errors[0]);
  return undefined;
}

/** `cannot reach Redis at 127.0.0.1:6379: nothing is listening there (connection refused)`. */
export function describeError(error: unknown, service: string, address: string): string {
  const code = codeOf(error);
  const known = code === undefined ? undefined : (NETWORK[code] ?? POSTGRES[code]);
  if (known) return `${service} at ${address}: ${known}`;
  const message = error instanceof Error ? error.message : String(error);
  // ioredis's words for "not connected" when its offline queue is off.
  if (/Stream isn't writeable|Connection is closed/.test(message)) return `${service} at ${address}: not connected`;
  const firstLine = message.split('\n')[0]?.trim() ?? '';
  return `${service} at ${address}: ${firstLine.length > 200 ? `${firstLine.slice(0, 199)}…` : firstLine || 'failed'}`;
}
