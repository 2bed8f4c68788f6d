import { pino, type Logger } from 'pino';
import { redactText } from './redact.js';

export type { Logger };

export interface LoggerOptions {
  /** Values never to be written, whatever their shape (ADMIN_PASSWORD, tokens, URL passwords). */
  readonly secrets?: readonly string[];
}

/**
 * Structured logs on stdout. Every finished line passes through one redaction (src/redact.ts)
 * before it is written: credentials in URLs, bearer and basic tokens, secret-named fields and the
 * configured secrets, wherever they appear — message text, `err.message`, a stack, a nested object
 * — so a driver's error message that repeats a connection URL cannot leak it. Message bodies are
 * never logged at info (patrons' texts are theirs).
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, options: LoggerOptions = {}): Logger {
  const target = destination ?? process.stdout;
  const secrets = options.secrets ?? [];
  const redacting = { write: (line: string) => target.write(redactText(line, secrets)) };
  return pino(
    {
      level,
      base: { service: 'forny' },
      // Field paths as well, so a secret is gone before serialisation even if its shape is unknown.
      redact: {
        paths: ['*.authorization', '*.Authorization', '*["x-twilio-signature"]', '*.password', '*.authToken', '*.token', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    redacting,
  );
}
