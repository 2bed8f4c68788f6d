import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { createKnex } from '../db/knexfile.js';
import { createQueues, type Queues } from './queue/queues.js';
import { clockFor, type Clock } from './clock.js';
import type { Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { secretsOf } from './redact.js';
import { createSandboxMailTransport, createSmtpTransport, type MailTransport } from './mail/transport.js';
import { createSandboxTransport } from './sms/sandbox.js';
import type { SmsTransport } from './sms/transport.js';
import { createTwilioTransport } from './sms/twilio.js';

/** Everything the app and the workers are built from; made once per process (or per test). */
export interface Deps {
  readonly config: Config;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly db: Knex;
  /**
   * Redis for request-time checks (readiness, the gate in front of enqueues): fails fast instead of
   * queueing commands while Redis is away, so an HTTP request never hangs on it.
   */
  readonly redis: Redis;
  /** The queues, on a patient connection of their own; see createQueues for why. */
  readonly queues: Queues;
  readonly sms: SmsTransport;
  readonly mail: MailTransport;
  close(): Promise<void>;
}

export interface DepsOverrides {
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly db?: Knex;
  readonly sms?: SmsTransport;
  readonly mail?: MailTransport;
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

/** Every secret in the configuration, for the logger to take out of any line that repeats one. */
export function configuredSecrets(config: Config): string[] {
  return secretsOf([config.admin.password, config.sms.authToken, config.http.metricsToken, config.http.noticesToken, config.redisUrl, config.databaseUrl, config.mail.smtpUrl]);
}

/** The composition root: nothing else in forny creates connections. */
export function createDeps(config: Config, overrides: DepsOverrides = {}): Deps {
  const logger = overrides.logger ?? createLogger(config.logLevel, undefined, { secrets: configuredSecrets(config) });
  const db = overrides.db ?? createKnex(config.databaseUrl);
  const redis = new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  // ioredis reports every failed reconnect; one warning per outage is enough.
  let redisDown = false;
  redis.on('error', (error) => {
    if (!redisDown) logger.warn({ err: error.message }, 'redis unavailable; messages are stored and enqueued once it is back');
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
  return {
    config,
    clock: overrides.clock ?? clockFor(config.fakeNow),
    logger,
    db,
    redis,
    queues,
    sms: overrides.sms ?? createSmsTransport(config),
    mail,
    async close() {
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
