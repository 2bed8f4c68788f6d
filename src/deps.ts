import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { createGroupCommit, type GroupCommit } from '../db/group-commit.js';
import { createKnex } from '../db/knexfile.js';
import { createInboundEnqueuer, type InboundEnqueuer } from './queue/enqueue.js';
import { createQueues, type Queues } from './queue/queues.js';
import { clockFor, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { LibrarySystem } from './library/library-system.js';
import { librarySystemSecrets } from './library/system-url.js';
import { createLibraries, type Libraries } from './libraries.js';
import { secretsOf } from './redact.js';
import { describeError } from './describe-error.js';
import { createLogger, type Logger } from './logger.js';
import { addressOf } from './startup-lines.js';
import { createSandboxMailTransport, createSmtpTransport, type MailTransport } from './mail/transport.js';
import { createSandboxTransport } from './sms/sandbox.js';
import { createSmsRate, pacedSmsTransport, type SmsRate } from './sms/sms-rate.js';
import type { SmsTransport } from './sms/transport.js';
import { createTwilioTransport } from './sms/twilio.js';

/** Everything the app and the workers are built from; made once per process (or per test). */
export interface Deps {
  readonly config: Config;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly db: Knex;
  /** The writes on `db` that share a commit with the others of the same moment (the webhook's insert, the jobs' transactions). */
  readonly groupCommit: GroupCommit;
  /**
   * Redis for request-time checks (readiness, the gate in front of enqueues): fails fast instead of
   * queueing commands while Redis is away, so an HTTP request never hangs on it.
   */
  readonly redis: Redis;
  /** The queues, on a patient connection of their own; see createQueues for why. */
  readonly queues: Queues;
  /** The webhooks' enqueues, one round trip for those of the same moment. */
  readonly inboundEnqueuer: InboundEnqueuer;
  /** SMS_RATE_PER_SECOND across the cluster: the one owner of the rate (src/sms/sms-rate.ts). */
  readonly smsRate: SmsRate;
  readonly sms: SmsTransport;
  readonly mail: MailTransport;
  /** The libraries on the short code (SPEC §12), each with its own system (SPEC §10, §13) and texts. */
  readonly libraries: Libraries;
  close(): Promise<void>;
}

export interface DepsOverrides {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly db?: Knex;
  readonly sms?: SmsTransport;
  readonly mail?: MailTransport;
  /** Library systems by library id, in place of those their URLs name (tests). */
  readonly librarySystems?: { readonly [id: string]: LibrarySystem };
}

export function createSmsTransport(config: Config): SmsTransport {
  if (config.sms.transport === 'sandbox') return createSandboxTransport();
  return createTwilioTransport({
    accountSid: config.sms.accountSid ?? '',
    authToken: config.sms.authToken,
    apiBaseUrl: config.sms.apiBaseUrl,
    from: config.sms.from,
    messagingServiceSid: config.sms.messagingServiceSid,
  });
}

function smsRateOf(config: Config, redis: Redis, logger: Logger): SmsRate {
  return createSmsRate({
    redis,
    queuePrefix: config.queuePrefix,
    ratePerSecond: config.sms.ratePerSecond,
    onUnavailable: (error) => logger.debug({ err: error.message }, 'sms pacing unavailable; sending as the limiter admitted'),
  });
}

/** The configured transport; Twilio's calls paced to SMS_RATE_PER_SECOND across the cluster (src/sms/sms-rate.ts). */
function pacedTwilio(config: Config, rate: SmsRate): SmsTransport {
  const transport = createSmsTransport(config);
  if (transport.name !== 'twilio') return transport;
  return pacedSmsTransport(transport, rate);
}

/** Every secret in the configuration, for the logger to take out of any line that repeats one. */
export function configuredSecrets(config: Config): string[] {
  return secretsOf([
    config.admin.password,
    config.sms.authToken,
    config.http.metricsToken,
    config.redisUrl,
    config.databaseUrl,
    config.mail.smtpUrl,
    ...config.libraries.flatMap((library) => [library.noticesToken, ...librarySystemSecrets(library.system)]),
  ]);
}

/**
 * The composition root of a process: the database pool and the Redis connections of the web side.
 * Not the only place connections are made: the workers open their own (jobs/start-workers.ts), the
 * SIP2 client keeps a pool to the library's system, and `npm start` may run a private redis-server.
 */
export function createDeps(config: Config, overrides: DepsOverrides = {}): Deps {
  const logger = overrides.logger ?? createLogger(config.logLevel, undefined, { secrets: configuredSecrets(config) });
  const db = overrides.db ?? createKnex(config.databaseUrl, (message) => logger.debug({ knex: message }, 'database driver message'));
  const redis = new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // ioredis reports every failed reconnect; one warning per outage is enough.
  let redisDown = false;
  redis.on('error', (error) => {
    if (!redisDown) {
      logger.warn(`${redisProblem(config, error)}; messages are stored and enqueued once it is back`);
      logger.debug({ err: error }, 'redis error');
    }
    redisDown = true;
  });
  redis.on('ready', () => {
    if (redisDown) logger.info('redis is back');
    redisDown = false;
  });
  const queueConnection = new Redis(config.redisUrl, { maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 200, 2000) });
  queueConnection.on('error', () => undefined); // reported once through `redis` above
  const queues = createQueues(queueConnection, config);
  // Without a listener BullMQ prints queue errors to stderr; the outage is already logged above.
  for (const queue of queues.all) queue.on('error', (error) => logger.debug({ queue: queue.name, err: error.message }, 'queue error'));
  const mail = overrides.mail ?? (config.mail.smtpUrl ? createSmtpTransport(config.mail.smtpUrl) : createSandboxMailTransport());
  const clock = overrides.clock ?? clockFor(config.fakeNow);
  const libraries = createLibraries(config, { db, clock, logger }, overrides.librarySystems);
  const smsRate = smsRateOf(config, redis, logger);
  return {
    config,
    clock,
    logger,
    db,
    groupCommit: createGroupCommit(db),
    redis,
    queues,
    inboundEnqueuer: createInboundEnqueuer(queues),
    smsRate,
    sms: overrides.sms ?? pacedTwilio(config, smsRate),
    mail,
    libraries,
    async close() {
      await libraries.close();
      // Closing a queue waits for Redis; when Redis is away there is nothing left to wait for.
      const patience = redis.status === 'ready' ? 2000 : 100;
      await Promise.race([Promise.allSettled(queues.all.map((queue) => queue.close())), new Promise((resolve) => setTimeout(resolve, patience).unref())]);
      queueConnection.disconnect();
      redis.disconnect();
      mail.close();
      // A database that does not answer must not hold the process: the pool is dropped either way.
      await Promise.race([db.destroy(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    },
  };
}

/** One line for a Redis error, naming the address (never the password in REDIS_URL). */
export function redisProblem(config: Pick<Config, 'redisUrl'>, error: unknown): string {
  return describeError(error, 'Redis', addressOf(config.redisUrl, 6379));
}

/** Resolves true once the client is connected, false after `timeoutMs` (Redis may be down: carry on). */
export function redisReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}
