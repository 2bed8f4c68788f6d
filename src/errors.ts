/**
 * The one error type the HTTP layer turns into a response: a stable code, the status to answer
 * with, and a one-line message that names the problem (never a secret).
 */
export class AppError extends Error {
  override readonly name = 'AppError';

  constructor(
    readonly code: string,
    readonly httpStatus: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
