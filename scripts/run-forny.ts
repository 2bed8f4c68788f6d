import { URL } from 'node:url';
import { dialectOf, migrateToLatest } from '../db/knexfile.js';
import { startWorkers, type RunningWorkers } from '../jobs/start-workers.js';
import type { Config } from '../src/config.js';
import { createDeps, redisReady, type Deps, type DepsOverrides } from '../src/deps.js';
import { describeError } from '../src/describe-error.js';
import { listen, type Bound, type Serving } from '../src/http/serve.js';
import { checkAtStart, startCheckWhere, type StartCheck } from '../src/library/start-check.js';
import { answers, startPrivateRedis, type PrivateRedis } from '../src/private-redis.js';
import { addressOf, describeDatabase, startupLines } from '../src/startup-lines.js';
import { configOrExit, stopWith } from './exit-with.js';

export { configOrExit, stopWith };

/** After the grace period, closing connections gets this long before the process exits anyway. */
const CLOSE_BUDGET_MS = 3000;

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

/**
 * Takes the port before anything else happens (with forny's HTTP time-outs), so a taken port stops
 * the process with one line before a database is deleted, a queue touched or a login printed.
 * Requests that arrive before the app is ready get a 503.
 */
async function bind(config: Config): Promise<Bound> {
  try {
    return await listen({ port: config.port, host: config.host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${config.host}:${config.port}`;
    if (code === 'EADDRINUSE') stopWith(`Port ${config.port} is already in use on ${config.host} (another forny or demo?); set PORT to a free port. Nothing was started.`);
    if (code === 'EACCES') stopWith(`Port ${config.port} on ${config.host} needs privileges this process does not have; set PORT above 1023. Nothing was started.`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') stopWith(`Cannot listen on ${where}: HOST is not an address of this machine. Nothing was started.`);
    stopWith(`Cannot listen on ${where}: ${(error as Error).message}`);
  }
}

/** A failed migration in one line naming the database (never its password); the whole error goes to the debug log. */
function databaseProblem(config: Config, error: unknown): string {
  if (dialectOf(config.databaseUrl) === 'postgres') return describeError(error, 'PostgreSQL', addressOf(config.databaseUrl, 5432));
  return describeError(error, 'SQLite', describeDatabase(config.databaseUrl).replace(/^SQLite /, ''));
}

/**
 * Starts forny in this process: bind the port, migrate, then workers (whose reconciler re-enqueues
 * what the database says is unfinished), then serve HTTP. SIGTERM or SIGINT stops HTTP first, lets
 * active jobs and open requests finish for up to SHUTDOWN_GRACE_MS, then closes Redis and the
 * database; the process exits at the latest a few seconds after the grace, whether or not they answer.
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
  const http: Serving | undefined = bound?.attach(deps);
  const url = http?.url;
  if (options.printStartup !== false) {
    const roles = options.web && options.workers ? 'web, workers and scheduler in one process' : options.web ? 'web only' : 'workers and scheduler only';
    process.stdout.write(`${startupLines(config, { roles, url, privateRedis: privateRedis !== undefined }).join('\n')}\n`);
    if (config.admin.passwordGenerated && options.web) {
      process.stdout.write(`  Operator login: ${config.admin.user} / ${config.admin.password}  (random for this run; set ADMIN_PASSWORD to choose one)\n`);
    }
  }
  if (url) deps.logger.info({ url }, 'forny listening');
  // The login tried now, not at the first SMS: a refused one is said at start, in the log, not only in /readyz.
  const startChecks: StartCheck[] = deps.libraries.all.flatMap((library) => {
    const where = startCheckWhere(library.settings.system);
    return where ? [checkAtStart(library.system, where, deps.logger)] : [];
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      deps.logger.info('shutting down');
      for (const check of startChecks) check.stop();
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
  return { deps, url, privateRedis: privateRedis !== undefined, stop };
}
