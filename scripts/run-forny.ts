import type { Server } from 'node:http';
import { URL } from 'node:url';
import { migrateToLatest } from '../db/knexfile.js';
import { startWorkers, type RunningWorkers } from '../jobs/start-workers.js';
import { ConfigError, loadConfig, readEnvironment, type Config } from '../src/config.js';
import { createDeps, redisReady, type Deps, type DepsOverrides } from '../src/deps.js';
import { createApp } from '../src/http/create-app.js';
import { answers, startPrivateRedis, type PrivateRedis } from '../src/private-redis.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Reads `.env` and the environment; on a bad variable prints the one line and exits 1. */
export function configOrExit(env: Env = readEnvironment()): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

export interface RunOptions {
  readonly web: boolean;
  readonly workers: boolean;
  /** `npm start` and the demo may start a private redis-server; split processes need a REDIS_URL. */
  readonly privateRedis: boolean;
  readonly config: Config;
  readonly overrides?: DepsOverrides;
  /** Runs after migrations, before workers and HTTP start (the demo seeds here). */
  readonly beforeStart?: (deps: Deps) => Promise<void>;
}

export interface Running {
  readonly deps: Deps;
  readonly url: string | undefined;
  stop(): Promise<void>;
}

/**
 * Starts forny in this process: migrate, then workers (whose reconciler re-enqueues what the
 * database says is unfinished), then HTTP. SIGTERM or SIGINT stops HTTP first, lets active jobs
 * finish, then closes Redis and the database.
 */
export async function runForny(options: RunOptions): Promise<Running> {
  let config = options.config;
  let privateRedis: PrivateRedis | undefined;
  const redisAddress = new URL(config.redisUrl);
  if (options.privateRedis && !config.redisUrlGiven && !(await answers(redisAddress.hostname, Number(redisAddress.port || 6379)))) {
    privateRedis = await startPrivateRedis('./data/redis');
    config = { ...config, redisUrl: privateRedis.url };
    process.stdout.write(`Started a private redis-server for forny (data in ./data/redis) at ${privateRedis.url}\n`);
  }

  const deps = createDeps(config, options.overrides);
  await migrateToLatest(deps.db);
  // Without Redis forny still starts: webhooks store messages and reconciliation enqueues them later.
  if (!(await redisReady(deps.redis, 5000))) deps.logger.warn({ redis: config.redisUrl }, 'redis is not answering; starting anyway');
  await options.beforeStart?.(deps);

  const workers: RunningWorkers | undefined = options.workers ? startWorkers(deps) : undefined;
  let server: Server | undefined;
  let url: string | undefined;
  if (options.web) {
    const app = createApp(deps);
    server = await new Promise<Server>((resolve, reject) => {
      const listening = app.listen(config.port, config.host, () => resolve(listening));
      listening.once('error', reject);
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    url = `http://${config.host}:${port}`;
    deps.logger.info({ url }, 'forny listening');
  }
  if (config.admin.passwordGenerated && options.web) {
    process.stdout.write(`Operator login: ${config.admin.user} / ${config.admin.password}  (random for this run; set ADMIN_PASSWORD to choose one)\n`);
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      deps.logger.info('shutting down');
      const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      server?.closeIdleConnections();
      await workers?.close(config.jobs.shutdownGraceMs);
      await closed;
      await deps.close();
      await privateRedis?.stop();
    })());

  const onSignal = (signal: NodeJS.Signals) => {
    deps.logger.info({ signal }, 'signal received');
    void stop().then(
      () => process.exit(0),
      (error: unknown) => {
        deps.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return { deps, url, stop };
}
