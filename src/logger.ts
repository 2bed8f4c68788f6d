import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';
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
 *
 * A person at a terminal gets one readable line per entry with the machine's local time; a log
 * collector (stdout not a terminal: systemd, docker, a pipe) gets pino's JSON, one object a line.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, options: LoggerOptions = {}): Logger {
  const secrets = options.secrets ?? [];
  const pretty = destination === undefined && process.stdout.isTTY;
  const target: { write(text: string): unknown } = pretty
    ? PinoPretty({ colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service', singleLine: true, destination: 1 })
    : (destination ?? process.stdout);
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
