import { URL } from 'node:url';
import { migrateToLatest } from '../db/knexfile.js';
import { startWorkers, type RunningWorkers } from '../jobs/start-workers.js';
import { ConfigError, loadConfig, readEnvironment, type Config } from '../src/config.js';
import { createDeps, redisReady, type Deps, type DepsOverrides } from '../src/deps.js';
import { serve, type Serving } from '../src/http/serve.js';
import { answers, startPrivateRedis, type PrivateRedis } from '../src/private-redis.js';
import { redactUrl } from '../src/redact.js';

/** After the grace period, closing connections gets this long before the process exits anyway. */
const CLOSE_BUDGET_MS = 3000;

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
 * and open requests finish for up to SHUTDOWN_GRACE_MS, then closes Redis and the database; the
 * process exits at the latest a few seconds after the grace, whether or not they answer.
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
  if (!(await redisReady(deps.redis, 5000))) deps.logger.warn({ redis: redactUrl(config.redisUrl) }, 'redis is not answering; starting anyway');
  await options.beforeStart?.(deps);

  const workers: RunningWorkers | undefined = options.workers ? startWorkers(deps) : undefined;
  let http: Serving | undefined;
  if (options.web) {
    http = await serve(deps, { port: config.port, host: config.host });
    deps.logger.info({ url: http.url }, 'forny listening');
  }
  const url = http?.url;
  if (config.admin.passwordGenerated && options.web) {
    process.stdout.write(`Operator login: ${config.admin.user} / ${config.admin.password}  (random for this run; set ADMIN_PASSWORD to choose one)\n`);
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      deps.logger.info('shutting down');
      const graceOver = new Promise((resolve) => setTimeout(resolve, config.jobs.shutdownGraceMs).unref());
      const closed = http?.close() ?? Promise.resolve();
      await workers?.close(config.jobs.shutdownGraceMs);
      // Requests still open after the grace (a slow client) are cut rather than waited for.
      await Promise.race([closed, graceOver]);
      http?.server.closeAllConnections();
      await deps.close();
      await privateRedis?.stop();
    })());

  const onSignal = (signal: NodeJS.Signals) => {
    deps.logger.info({ signal }, 'signal received');
    // Whatever Redis, the database or a client do, the process ends: the grace for active jobs, a
    // little for closing connections, then exit (a job cut off is retried as stalled after restart).
    const deadline = config.jobs.shutdownGraceMs + CLOSE_BUDGET_MS;
    setTimeout(() => {
      deps.logger.error({ deadlineMs: deadline }, 'shutdown did not finish in time; exiting anyway');
      process.exit(1);
    }, deadline).unref();
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
