import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { parseTimeOfDay, parseWindow, type DailyWindow, type TimeOfDay } from './domain/send-window.js';

/** The token the sandbox transport signs and checks webhooks with when no Twilio credentials are set. */
export const SANDBOX_AUTH_TOKEN = 'forny-sandbox-auth-token';

export type SmsTransportName = 'twilio' | 'sandbox';

/** Everything forny reads from its environment, typed and checked once at start (SPEC §6). */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** The URL Twilio calls; webhook signatures are computed over it plus the path. */
  readonly publicBaseUrl: string;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** False when REDIS_URL was not set: `npm start` may then run a private redis-server. */
  readonly redisUrlGiven: boolean;
  readonly queuePrefix: string;
  readonly sms: {
    readonly transport: SmsTransportName;
    /** Why this transport, in words for the start-up lines ("sandbox because TWILIO_ACCOUNT_SID is unset"). */
    readonly transportReason: string;
    readonly accountSid: string | undefined;
    readonly authToken: string;
    readonly apiBaseUrl: string | undefined;
    readonly from: string;
    readonly messagingServiceSid: string | undefined;
    readonly ratePerSecond: number;
    /** `defer`: answers to patrons wait for the window too; `send`: they leave at once. */
    readonly repliesOutsideWindow: 'defer' | 'send';
  };
  readonly timeZone: string;
  readonly sendWindow: DailyWindow;
  readonly reminders: {
    readonly daysBefore: number;
    readonly scanAt: TimeOfDay;
  };
  readonly mail: {
    readonly smtpUrl: string | undefined;
    readonly from: string;
    /** Which e-mail transport and why, for the start-up lines. */
    readonly transportReason: string;
  };
  readonly admin: {
    readonly user: string;
    readonly password: string;
    /** True when ADMIN_PASSWORD was unset and a random one was made: print it once at start. */
    readonly passwordGenerated: boolean;
  };
  readonly jobs: {
    /** Tries per SMS or e-mail before it is marked failed. */
    readonly sendAttempts: number;
    /** First retry delay; each next one doubles, with jitter. */
    readonly retryDelayMs: number;
    /** How often workers compare the database with the queues and re-enqueue what is missing. */
    readonly reconcileIntervalMs: number;
    /** How long SIGTERM lets active jobs finish before closing anyway. */
    readonly shutdownGraceMs: number;
  };
  /** Where the application clock starts (demos, tests); undefined means the real time. */
  readonly fakeNow: Date | undefined;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** Raised for a bad variable; its message is the one line printed before exiting. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const optional = z
  .string()
  .transform((value) => value.trim())
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const integer = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const httpUrl = z
  .string()
  .trim()
  .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), 'expected an http(s) URL');

const schema = z.object({
  PORT: integer(0, 65535).default(3000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PUBLIC_BASE_URL: httpUrl.optional(),
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'expected sqlite:PATH or postgres://…')
    .default('sqlite:./data/forny.sqlite'),
  REDIS_URL: z
    .string()
    .trim()
    .regex(/^rediss?:\/\/.+/, 'expected redis://host:port')
    .optional(),
  QUEUE_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, . _ or - (no colon)')
    .default('forny'),
  SMS_TRANSPORT: z.enum(['twilio', 'sandbox']).optional(),
  TWILIO_ACCOUNT_SID: optional.pipe(z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'expected AC followed by 32 hex digits').optional()),
  TWILIO_AUTH_TOKEN: optional,
  TWILIO_API_BASE_URL: httpUrl.optional(),
  SMS_FROM: z.string().trim().min(1).default('1910'),
  TWILIO_MESSAGING_SERVICE_SID: optional.pipe(z.string().regex(/^MG[0-9a-fA-F]{32}$/, 'expected MG followed by 32 hex digits').optional()),
  LIBRARY_TIMEZONE: z
    .string()
    .trim()
    .refine((zone) => IANAZone.isValidZone(zone), 'expected an IANA time zone such as Europe/Copenhagen')
    .default('Europe/Copenhagen'),
  SMS_SEND_WINDOW: z.string().trim().default('08:45-20:00'),
  SMS_RATE_PER_SECOND: integer(1, 10_000).default(30),
  SMS_REPLIES_OUTSIDE_WINDOW: z.enum(['defer', 'send']).default('defer'),
  REMINDER_DAYS_BEFORE: integer(0, 60).default(3),
  REMINDER_SCAN_AT: z.string().trim().default('07:00'),
  SMTP_URL: optional.pipe(
    z
      .string()
      .refine((value) => /^smtps?:\/\/.+/.test(value) && URL.canParse(value), 'expected smtp://… or smtps://…')
      .optional(),
  ),
  MAIL_FROM: z.string().trim().min(3).default('Helsingør Bibliotekerne <noreply@helsbib.dk>'),
  ADMIN_USER: z.string().trim().min(1).default('admin'),
  ADMIN_PASSWORD: optional.pipe(z.string().min(8, 'expected at least 8 characters').optional()),
  FAKE_NOW: optional.pipe(
    z
      .string()
      .refine((value) => /^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value)), 'expected an ISO instant such as 2026-11-30T21:30:00+01:00')
      .optional(),
  ),
  SEND_ATTEMPTS: integer(1, 50).default(6),
  SEND_RETRY_DELAY_MS: integer(10, 3_600_000).default(5000),
  RECONCILE_INTERVAL_MS: integer(100, 3_600_000).default(60_000),
  SHUTDOWN_GRACE_MS: integer(0, 600_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and checks the configuration. Throws ConfigError with one line naming the first bad
 * variable, so a process can print it and exit before touching anything.
 */
export function loadConfig(env: Env = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'configuration');
    throw new ConfigError(`Invalid configuration: ${variable} (${shown(variable, env[variable])}): ${issue?.message ?? 'invalid'}`);
  }
  const v = parsed.data;

  const sendWindow = fieldOrThrow('SMS_SEND_WINDOW', v.SMS_SEND_WINDOW, parseWindow);
  const scanAt = fieldOrThrow('REMINDER_SCAN_AT', v.REMINDER_SCAN_AT, parseTimeOfDay);

  const { transport, reason: smsReason } = smsTransportOf(v);
  const mailReason = mailTransportOf(v.SMTP_URL);

  const password = v.ADMIN_PASSWORD ?? randomBytes(12).toString('base64url');
  const publicBaseUrl = (v.PUBLIC_BASE_URL ?? `http://127.0.0.1:${v.PORT}`).replace(/\/+$/, '');

  return Object.freeze({
    port: v.PORT,
    host: v.HOST,
    publicBaseUrl,
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisUrlGiven: v.REDIS_URL !== undefined,
    queuePrefix: v.QUEUE_PREFIX,
    sms: Object.freeze({
      transport,
      transportReason: smsReason,
      accountSid: v.TWILIO_ACCOUNT_SID,
      authToken: v.TWILIO_AUTH_TOKEN ?? SANDBOX_AUTH_TOKEN,
      apiBaseUrl: v.TWILIO_API_BASE_URL?.replace(/\/+$/, ''),
      from: v.SMS_FROM,
      messagingServiceSid: v.TWILIO_MESSAGING_SERVICE_SID,
      ratePerSecond: v.SMS_RATE_PER_SECOND,
      repliesOutsideWindow: v.SMS_REPLIES_OUTSIDE_WINDOW,
    }),
    timeZone: v.LIBRARY_TIMEZONE,
    sendWindow,
    reminders: Object.freeze({ daysBefore: v.REMINDER_DAYS_BEFORE, scanAt }),
    mail: Object.freeze({ smtpUrl: v.SMTP_URL, from: v.MAIL_FROM, transportReason: mailReason }),
    admin: Object.freeze({ user: v.ADMIN_USER, password, passwordGenerated: v.ADMIN_PASSWORD === undefined }),
    jobs: Object.freeze({
      sendAttempts: v.SEND_ATTEMPTS,
      retryDelayMs: v.SEND_RETRY_DELAY_MS,
      reconcileIntervalMs: v.RECONCILE_INTERVAL_MS,
      shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    }),
    fakeNow: v.FAKE_NOW === undefined ? undefined : new Date(v.FAKE_NOW),
    logLevel: v.LOG_LEVEL,
  });
}

/**
 * The SMS transport and why. Half a Twilio configuration is refused rather than guessed at: a token
 * without its account sid would otherwise run the sandbox, show messages as sent, and reach nobody.
 * SMS_TRANSPORT=sandbox with only a token is deliberate (the sandbox then signs with that token).
 */
function smsTransportOf(v: { SMS_TRANSPORT?: SmsTransportName | undefined; TWILIO_ACCOUNT_SID?: string | undefined; TWILIO_AUTH_TOKEN?: string | undefined }): {
  transport: SmsTransportName;
  reason: string;
} {
  if (v.SMS_TRANSPORT === 'sandbox') return { transport: 'sandbox', reason: 'sandbox because SMS_TRANSPORT is sandbox: SMS are stored as sent, nobody is called' };
  if (v.SMS_TRANSPORT === 'twilio' || v.TWILIO_ACCOUNT_SID) {
    const why = v.SMS_TRANSPORT === 'twilio' ? 'SMS_TRANSPORT is twilio' : 'TWILIO_ACCOUNT_SID is set';
    if (!v.TWILIO_ACCOUNT_SID) throw new ConfigError('Invalid configuration: TWILIO_ACCOUNT_SID (unset): required when SMS_TRANSPORT is twilio');
    if (!v.TWILIO_AUTH_TOKEN) throw new ConfigError(`Invalid configuration: TWILIO_AUTH_TOKEN (unset): required with TWILIO_ACCOUNT_SID (Twilio needs both)`);
    return { transport: 'twilio', reason: `twilio (account ${v.TWILIO_ACCOUNT_SID}) because ${why}` };
  }
  if (v.TWILIO_AUTH_TOKEN) {
    throw new ConfigError('Invalid configuration: TWILIO_ACCOUNT_SID (unset): TWILIO_AUTH_TOKEN is set without it; set both for Twilio, or neither for the sandbox');
  }
  return { transport: 'sandbox', reason: 'sandbox because TWILIO_ACCOUNT_SID is unset: SMS are stored as sent, nobody is called' };
}

/** The e-mail transport and why; an SMTP login with only half of user and password is refused. */
function mailTransportOf(smtpUrl: string | undefined): string {
  if (smtpUrl === undefined) return 'sandbox because SMTP_URL is unset: e-mails are stored as sent, nothing leaves';
  const url = new URL(smtpUrl);
  if (url.username !== '' && url.password === '') throw new ConfigError('Invalid configuration: SMTP_URL (value hidden): has a user but no password; write smtp://USER:PASSWORD@HOST:PORT, or neither');
  if (url.username === '' && url.password !== '') throw new ConfigError('Invalid configuration: SMTP_URL (value hidden): has a password but no user; write smtp://USER:PASSWORD@HOST:PORT, or neither');
  const port = url.port || (url.protocol === 'smtps:' ? '465' : '587');
  return `SMTP to ${url.hostname}:${port}${url.username ? ` as ${decodeURIComponent(url.username)}` : ''} because SMTP_URL is set`;
}

function fieldOrThrow<T>(variable: string, value: string, parse: (text: string) => T): T {
  try {
    return parse(value);
  } catch (error) {
    throw new ConfigError(`Invalid configuration: ${variable} (${shown(variable, value)}): ${(error as Error).message}`);
  }
}

/** Values that may hold a secret: the error line goes to the logs, so it never repeats them. */
const secretVariables = new Set(['ADMIN_PASSWORD', 'TWILIO_AUTH_TOKEN', 'SMTP_URL']);

/** A value as the error line shows it: quoted and escaped (a value from .env may span lines), or hidden. */
function shown(variable: string, value: string | undefined): string {
  if (value === undefined) return 'unset';
  return secretVariables.has(variable) ? 'value hidden' : JSON.stringify(value);
}

/**
 * The process environment with `.env` (if present) underneath it: variables already set win,
 * as with every dotenv-style loader, so a shell can override the file.
 */
export function readEnvironment(file = '.env', env: Env = process.env): Env {
  if (!existsSync(file)) return env;
  const fromFile = parseEnv(readFileSync(file, 'utf8'));
  return { ...fromFile, ...env };
}
