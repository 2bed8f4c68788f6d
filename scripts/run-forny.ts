import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { URL } from 'node:url';
import { dialectOf, migrateToLatest } from '../db/knexfile.js';
import { startWorkers, type RunningWorkers } from '../jobs/start-workers.js';
import type { Config } from '../src/config.js';
import { createDeps, redisReady, type Deps, type DepsOverrides } from '../src/deps.js';
import { describeError } from '../src/describe-error.js';
import { createApp } from '../src/http/create-app.js';
import { answers, startPrivateRedis, type PrivateRedis } from '../src/private-redis.js';
import { addressOf, describeDatabase, startupLines } from '../src/startup-lines.js';
import { configOrExit, stopWith } from './exit-with.js';

export { configOrExit, stopWith };

export interface RunOptions {
  readonly web: boolean;
  readonly workers: boolean;
  /** `npm start` and the demo may start a private redis-server; split processes need a REDIS_URL. */
  readonly privateRedis: boolean;
  readonly config: Config;
  readonly overrides?: DepsOverrides;
  /**
   * Runs once the port is ours and before anything is opened (the demo deletes its old database
   * here): a second demo on a taken port stops before it can harm the first.
   */
  readonly prepare?: () => Promise<void> | void;
  /** Runs after migrations, before workers and HTTP start (the demo seeds here). */
  readonly beforeStart?: (deps: Deps) => Promise<void>;
  /** False when the caller prints its own summary (the demo). */
  readonly printStartup?: boolean;
}

export interface Running {
  readonly deps: Deps;
  readonly url: string | undefined;
  readonly privateRedis: boolean;
  stop(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Not serving yet (migrating, seeding): a clear 503 rather than a hung connection. */
const starting: Handler = (_req, res) => {
  res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' });
  res.end('forny is starting\n');
};

/**
 * Binds the port before anything else happens, so a taken port stops the process with one line
 * before a database is deleted, a queue touched or a login printed. Requests that arrive before
 * the app is ready get a 503.
 */
async function bind(config: Config): Promise<{ server: Server; serve(handler: Handler): void }> {
  let handler: Handler = starting;
  const server = createServer((req, res) => handler(req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${config.host}:${config.port}`;
    if (code === 'EADDRINUSE') stopWith(`Port ${config.port} is already in use on ${config.host} (another forny or demo?); set PORT to a free port. Nothing was started.`);
    if (code === 'EACCES') stopWith(`Port ${config.port} on ${config.host} needs privileges this process does not have; set PORT above 1023. Nothing was started.`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') stopWith(`Cannot listen on ${where}: HOST is not an address of this machine. Nothing was started.`);
    stopWith(`Cannot listen on ${where}: ${(error as Error).message}`);
  }
  return { server, serve: (next) => (handler = next) };
}

/** A failed migration in one line naming the database (never its password); the whole error goes to the debug log. */
function databaseProblem(config: Config, error: unknown): string {
  if (dialectOf(config.databaseUrl) === 'postgres') return describeError(error, 'PostgreSQL', addressOf(config.databaseUrl, 5432));
  return describeError(error, 'SQLite', describeDatabase(config.databaseUrl).replace(/^SQLite /, ''));
}

/**
 * Starts forny in this process: bind the port, migrate, then workers (whose reconciler re-enqueues
 * what the database says is unfinished), then serve HTTP. SIGTERM or SIGINT stops HTTP first, lets
 * active jobs finish, then closes Redis and the database.
 */
export async function runForny(options: RunOptions): Promise<Running> {
  let config = options.config;
  const bound = options.web ? await bind(config) : undefined;
  await options.prepare?.();

  let privateRedis: PrivateRedis | undefined;
  const redisAddress = new URL(config.redisUrl);
  if (options.privateRedis && !config.redisUrlGiven && !(await answers(redisAddress.hostname, Number(redisAddress.port || 6379)))) {
    privateRedis = await startPrivateRedis('./data/redis');
    config = { ...config, redisUrl: privateRedis.url };
  }

  const deps = createDeps(config, options.overrides);
  try {
    await migrateToLatest(deps.db);
  } catch (error) {
    deps.logger.debug({ err: error }, 'migration failed');
    await deps.close().catch(() => undefined);
    await privateRedis?.stop();
    stopWith(`Cannot start: ${databaseProblem(config, error)}`);
  }
  // Without Redis forny still starts: webhooks store messages and reconciliation enqueues them later.
  if (!(await redisReady(deps.redis, 5000))) deps.logger.warn(`Redis at ${addressOf(config.redisUrl, 6379)} did not answer within 5 s; starting anyway`);
  await options.beforeStart?.(deps);

  const workers: RunningWorkers | undefined = options.workers ? startWorkers(deps) : undefined;
  let url: string | undefined;
  if (bound) {
    bound.serve(createApp(deps));
    const address = bound.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    url = `http://${config.host}:${port}`;
  }
  if (options.printStartup !== false) {
    const roles = options.web && options.workers ? 'web, workers and scheduler in one process' : options.web ? 'web only' : 'workers and scheduler only';
    process.stdout.write(`${startupLines(config, { roles, url, privateRedis: privateRedis !== undefined }).join('\n')}\n`);
    if (config.admin.passwordGenerated && options.web) {
      process.stdout.write(`  Operator login: ${config.admin.user} / ${config.admin.password}  (random for this run; set ADMIN_PASSWORD to choose one)\n`);
    }
  }
  if (url) deps.logger.info({ url }, 'forny listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      deps.logger.info('shutting down');
      const server = bound?.server;
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
  return { deps, url, privateRedis: privateRedis !== undefined, stop };
}
