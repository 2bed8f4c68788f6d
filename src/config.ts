import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { isIP } from 'node:net';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import { LibrarySystemUrlError, parseLibrarySystemUrl, type LibrarySystemSettings } from './library/system-url.js';
import { readLibrariesFile } from './libraries-file.js';
import { DEFAULT_LIBRARY_ID } from './domain/library-ids.js';
import { gsm7Septets } from './domain/gsm7.js';
import { DEFAULT_TEXT_SETTINGS, MAX_LIBRARY_NAME_LENGTH, textSettingsProblem } from './domain/reply-text.js';
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
  /**
   * The libraries this forny serves (SPEC §12), at least one. Without LIBRARIES_FILE it is one,
   * id `default`, from LIBRARY_NAME, LIBRARY_SITE, LIBRARY_KEYWORDS, LIBRARY_SYSTEM_URL,
   * NOTICES_TOKEN and SMS_SEND_WINDOW.
   */
  readonly libraries: readonly LibrarySettings[];
  /** Signs the texts that come from no single library (SPEC §12's `gatewayName`). */
  readonly gatewayName: string;
  /** The LIBRARIES_FILE read, for the start-up lines; undefined for the one library of the variables. */
  readonly librariesFile: string | undefined;
  readonly timeZone: string;
  /** SMS_SEND_WINDOW: every library's window unless its block gives its own. */
  readonly defaultSendWindow: DailyWindow;
  readonly reminders: {
    readonly daysBefore: number;
    readonly scanAt: TimeOfDay;
  };
  readonly mail: {
    readonly smtpUrl: string | undefined;
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
    /**
     * A renew-all not done this long after it arrived is given up (SPEC §4): marked failed, the
     * patron told, never done late.
     */
    readonly renewAllGiveUpMs: number;
  };
  readonly http: {
    /**
     * Express's `trust proxy`: how many proxies stand before forny (a hop count) or which addresses
     * may speak for a client (addresses, subnets, `loopback`…); false trusts none, so the client
     * address is the socket's and X-Forwarded-For cannot be forged past the login lockout.
     */
    readonly trustProxy: number | readonly string[] | false;
    /** Bearer token `/metrics` demands; undefined: loopback clients only. */
    readonly metricsToken: string | undefined;
    /** Open connections this process takes (`server.maxConnections`); one more is closed at once. */
    readonly maxConnections: number;
    /** Requests whose bodies are still arriving at once in this process; one more is answered 503. */
    readonly maxBodiesInFlight: number;
  };
  /** Where the application clock starts (demos, tests); undefined means the real time. */
  readonly fakeNow: Date | undefined;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** One library on the short code (SPEC §12): who the texts speak for, what patrons text, where loans are renewed. */
export interface LibrarySettings {
  /** 1–32 of `a-z 0-9 -`; `default` for the one library of a single-library install. */
  readonly id: string;
  /** Begins every SMS and signs every e-mail. */
  readonly name: string;
  /** Where patrons see their loans, e.g. `helsbib.dk` (no scheme). */
  readonly site: string;
  /** Keywords of `KEYWORD FORNY ALLE`, upper case, in the order given; texts show the first. */
  readonly keywords: readonly string[];
  /** Where its loans are renewed (SPEC §10, §13). */
  readonly system: LibrarySystemSettings;
  /** Bearer token of its library system's `POST /api/notices` (SPEC §11); undefined: it sends none. */
  readonly noticesToken: string | undefined;
  readonly sendWindow: DailyWindow;
  /** Its own operators, who see this library only (SPEC §12). */
  readonly operators: readonly OperatorSettings[];
  /** The sender of its e-mails: MAIL_FROM, else its name at its site's host. */
  readonly mailFrom: string;
}

export interface OperatorSettings {
  readonly user: string;
  /** Made by `npm run hash-password` (src/password-hash.ts). */
  readonly passwordHash: string;
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
  // Renewals open 7 days before the due date (SPEC §2): an earlier reminder would invite a
  // `HBK FORNY ALLE` that the rules can only refuse as too_soon.
  REMINDER_DAYS_BEFORE: integer(0, 60)
    .pipe(z.number().max(7, 'at most 7: loans can be renewed from 7 days before the due date, an earlier reminder invites renewals refused as too_soon'))
    .default(3),
  REMINDER_SCAN_AT: z.string().trim().default('07:00'),
  SMTP_URL: optional.pipe(
    z
      .string()
      .refine((value) => /^smtps?:\/\/.+/.test(value) && URL.canParse(value), 'expected smtp://… or smtps://…')
      .optional(),
  ),
  MAIL_FROM: optional.pipe(z.string().min(3, 'expected at least 3 characters').optional()),
  LIBRARY_NAME: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(MAX_LIBRARY_NAME_LENGTH, `at most ${MAX_LIBRARY_NAME_LENGTH} characters (every SMS begins with it)`)
    .refine((name) => !/[\r\n]/.test(name), 'must be one line')
    .default(DEFAULT_TEXT_SETTINGS.libraryName),
  LIBRARY_SITE: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(\/[^\s]*)?$/, 'expected a host name with an optional path and no scheme, such as helsbib.dk')
    .default(DEFAULT_TEXT_SETTINGS.site),
  LIBRARY_KEYWORDS: z
    .string()
    .transform((list) =>
      list
        .split(',')
        .map((keyword) => keyword.trim())
        .filter((keyword) => keyword !== ''),
    )
    .pipe(
      z
        .array(z.string().regex(/^[A-Za-z0-9ÆØÅæøå]{1,16}$/, 'expected comma-separated keywords of letters and digits, such as HBK,HKB'))
        .min(1, 'expected at least one keyword, such as HBK'),
    )
    .default(['HBK', 'HKB']),
  ADMIN_USER: z.string().trim().min(1).default('admin'),
  ADMIN_PASSWORD: optional.pipe(z.string().min(8, 'expected at least 8 characters').optional()),
  TRUST_PROXY: optional.pipe(z.string().refine(validTrustProxy, 'expected a number of proxies, or addresses/subnets separated by commas (e.g. 10.0.0.0/8,loopback)').optional()),
  METRICS_TOKEN: optional.pipe(z.string().min(32, 'expected at least 32 characters').optional()),
  NOTICES_TOKEN: optional.pipe(z.string().min(32, 'expected at least 32 characters').optional()),
  // Idle sockets cost memory and the time-out checks' time (15k stalled /healthz for 8 s).
  HTTP_MAX_CONNECTIONS: integer(1, 1_000_000).default(2000),
  // A half-sent body holds up to 64 KiB (1 MiB for notices) until the request time-out.
  HTTP_MAX_BODIES_IN_FLIGHT: integer(1, 100_000).default(256),
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
  RENEW_ALL_GIVE_UP_MINUTES: integer(1, 7 * 24 * 60).default(60),
  LIBRARY_SYSTEM_URL: optional,
  LIBRARIES_FILE: optional,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and checks the configuration. Throws ConfigError with one line naming the first bad
 * variable, so a process can print it and exit before touching anything.
 */
export function loadConfig(env: Env = process.env): Config {
  // With LIBRARIES_FILE, the variables of the one library are refused before they are read, so
  // the line names the conflict rather than a value the file makes irrelevant.
  if (env.LIBRARIES_FILE !== undefined && env.LIBRARIES_FILE.trim() !== '') refuseSingleLibraryVariables(env);
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

  const keywords = v.LIBRARY_KEYWORDS.map((keyword) => keyword.toUpperCase());
  // Texts show these four: a character outside GSM-7 is blamed on its own variable, a text too
  // long on the name (the longest of them; the message says the others count too).
  // With LIBRARIES_FILE the LIBRARY_* variables are unset and their defaults describe no library:
  // the file's libraries are checked instead (src/libraries-file.ts).
  const checked = v.LIBRARIES_FILE === undefined ? ([['LIBRARY_NAME', v.LIBRARY_NAME], ['SMS_FROM', v.SMS_FROM]] as const) : ([['SMS_FROM', v.SMS_FROM]] as const);
  for (const [variable, value] of checked) {
    if (gsm7Septets(value) === null) {
      throw new ConfigError(`Invalid configuration: ${variable} (${shown(variable, value)}): holds a character outside the GSM-7 alphabet, which would send every SMS as UCS-2`);
    }
  }
  const textProblem = v.LIBRARIES_FILE === undefined ? textSettingsProblem({ libraryName: v.LIBRARY_NAME, site: v.LIBRARY_SITE, keyword: keywords[0] ?? '', smsFrom: v.SMS_FROM }) : null;
  if (textProblem) {
    throw new ConfigError(`Invalid configuration: LIBRARY_NAME (${shown('LIBRARY_NAME', v.LIBRARY_NAME)}): too long together with LIBRARY_SITE, LIBRARY_KEYWORDS and SMS_FROM: ${textProblem}`);
  }

  const libraryFromVariables: LibrarySettings = Object.freeze({
    id: DEFAULT_LIBRARY_ID,
    name: v.LIBRARY_NAME,
    site: v.LIBRARY_SITE,
    keywords: Object.freeze(keywords),
    system: parseLibrarySystem(v.LIBRARY_SYSTEM_URL),
    noticesToken: v.NOTICES_TOKEN,
    sendWindow,
    operators: Object.freeze([]),
    mailFrom: v.MAIL_FROM ?? defaultMailFrom(v.LIBRARY_NAME, v.LIBRARY_SITE),
  });
  const fromFile = v.LIBRARIES_FILE === undefined ? undefined : librariesFromFile(v.LIBRARIES_FILE, env, { sendWindow, smsFrom: v.SMS_FROM, mailFrom: v.MAIL_FROM });
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
    libraries: fromFile?.libraries ?? Object.freeze([libraryFromVariables]),
    gatewayName: fromFile?.gatewayName ?? DEFAULT_GATEWAY_NAME,
    librariesFile: v.LIBRARIES_FILE,
    timeZone: v.LIBRARY_TIMEZONE,
    defaultSendWindow: sendWindow,
    reminders: Object.freeze({ daysBefore: v.REMINDER_DAYS_BEFORE, scanAt }),
    mail: Object.freeze({ smtpUrl: v.SMTP_URL, transportReason: mailReason }),
    admin: Object.freeze({ user: v.ADMIN_USER, password, passwordGenerated: v.ADMIN_PASSWORD === undefined }),
    jobs: Object.freeze({
      sendAttempts: v.SEND_ATTEMPTS,
      retryDelayMs: v.SEND_RETRY_DELAY_MS,
      reconcileIntervalMs: v.RECONCILE_INTERVAL_MS,
      shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
      renewAllGiveUpMs: v.RENEW_ALL_GIVE_UP_MINUTES * 60_000,
    }),
    http: Object.freeze({
      trustProxy: parseTrustProxy(v.TRUST_PROXY),
      metricsToken: v.METRICS_TOKEN,
      maxConnections: v.HTTP_MAX_CONNECTIONS,
      maxBodiesInFlight: v.HTTP_MAX_BODIES_IN_FLIGHT,
    }),
    fakeNow: v.FAKE_NOW === undefined ? undefined : new Date(v.FAKE_NOW),
    logLevel: v.LOG_LEVEL,
  });
}

/** `gatewayName` when LIBRARIES_FILE gives none, and the signature of a single library's gateway texts. */
export const DEFAULT_GATEWAY_NAME = 'Bibliotekerne';

/** LIBRARY_SYSTEM_URL (SPEC §10, §13). */
function parseLibrarySystem(url: string | undefined): LibrarySystemSettings {
  try {
    return parseLibrarySystemUrl(url);
  } catch (error) {
    // The URL holds a password: the line names the parameter at fault, never the value.
    if (!(error instanceof LibrarySystemUrlError)) throw error;
    throw new ConfigError(`Invalid configuration: LIBRARY_SYSTEM_URL (value hidden): ${error.message}`);
  }
}

/** LIBRARIES_FILE (SPEC §12); the variables that describe one library must then be unset. */
function librariesFromFile(
  file: string,
  env: Env,
  defaults: { sendWindow: DailyWindow; smsFrom: string; mailFrom: string | undefined },
): { gatewayName: string; libraries: readonly LibrarySettings[] } {
  refuseSingleLibraryVariables(env);
  return readLibrariesFile(file, env, {
    ...defaults,
    mailFromOf: (name, site) => defaults.mailFrom ?? defaultMailFrom(name, site),
  });
}

/** The variables that describe the one library must be unset beside LIBRARIES_FILE (SPEC §12). */
function refuseSingleLibraryVariables(env: Env): void {
  for (const variable of ['LIBRARY_NAME', 'LIBRARY_SITE', 'LIBRARY_KEYWORDS', 'LIBRARY_SYSTEM_URL', 'NOTICES_TOKEN']) {
    if (env[variable] !== undefined && env[variable]?.trim() !== '') {
      throw new ConfigError(`Invalid configuration: ${variable} (${shown(variable, env[variable])}): must be unset when LIBRARIES_FILE is set (each library's block in the file says it)`);
    }
  }
}

/** `"LIBRARY_NAME" <noreply@SITE's host>`: e-mails carry the same name as the SMS (SPEC §4). */
export function defaultMailFrom(name: string, site: string): string {
  const host = site.split('/')[0] ?? site;
  return `"${name.replace(/["\\]/g, '')}" <noreply@${host}>`;
}

/** proxy-addr's names for address ranges, which Express's `trust proxy` accepts besides addresses. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function validTrustProxy(value: string): boolean {
  if (/^\d+$/.test(value)) return Number(value) <= 32;
  return value.split(',').every((part) => {
    const entry = part.trim();
    if (NAMED_RANGES.has(entry)) return true;
    const [address = '', bits, ...rest] = entry.split('/');
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  });
}

function parseTrustProxy(value: string | undefined): number | readonly string[] | false {
  if (value === undefined || value === '0') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return Object.freeze(value.split(',').map((part) => part.trim()));
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
const secretVariables = new Set(['ADMIN_PASSWORD', 'TWILIO_AUTH_TOKEN', 'SMTP_URL', 'METRICS_TOKEN', 'NOTICES_TOKEN', 'LIBRARY_SYSTEM_URL']);

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
