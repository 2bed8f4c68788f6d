import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured logs on stdout. Auth headers, signatures and passwords are redacted wherever they
 * appear; message bodies are never logged at info (patrons' texts are theirs).
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'forny' },
      redact: {
        paths: ['*.authorization', '*.Authorization', '*["x-twilio-signature"]', '*.password', '*.authToken', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination ?? process.stdout,
  );
}
