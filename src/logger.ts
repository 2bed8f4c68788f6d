import { pino, type Logger } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type { Logger };

/**
 * Structured logs on stdout. Auth headers, signatures and passwords are redacted wherever they
 * appear; message bodies are never logged at info (patrons' texts are theirs).
 *
 * A person at a terminal gets one readable line per entry with the machine's local time; a log
 * collector (stdout not a terminal: systemd, docker, a pipe) gets pino's JSON, one object a line.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level,
    base: { service: 'forny' },
    redact: {
      paths: ['*.authorization', '*.Authorization', '*["x-twilio-signature"]', '*.password', '*.authToken', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  };
  if (destination === undefined && process.stdout.isTTY) {
    return pino(options, PinoPretty({ colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname,service', singleLine: true, destination: 1 }));
  }
  return pino(options, destination ?? process.stdout);
}
