import express, { type Router } from 'express';
import type { Deps } from '../deps.js';
import type { LibrarySystem, LibrarySystemDown } from '../library/library-system.js';
import type { Libraries } from '../libraries.js';

/** Raised when a check has not answered in time. */
class NotAnswering extends Error {}

/** Rejects when `promise` has not settled within `ms` (a probe must answer even when a dependency hangs). */
const withTimeout = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new NotAnswering(`${what} did not answer within ${ms} ms`)), ms).unref())]);

/**
 * What a failed check says in /readyz: a kind of failure, never a host, port, path or credential.
 * The database and Redis are down in the same ways the library system can be.
 */
export type DownReason = LibrarySystemDown;

/**
 * Sorts a driver's error into what an operator can act on: the service is unreachable (or slow),
 * it refused forny's credentials, or something else. The driver's own message, which names hosts
 * and ports, goes to the log only.
 */
export function downReason(error: unknown): DownReason {
  if (error instanceof NotAnswering) return 'not answering';
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  // PostgreSQL: invalid_password, invalid_authorization_specification; Redis: NOAUTH, WRONGPASS.
  if (code === '28P01' || code === '28000' || /\b(NOAUTH|WRONGPASS)\b|invalid password|authentication failed/i.test(text)) return 'login refused';
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/.test(code)) return 'not answering';
  if (/connection is closed|isn't writeable|ECONNREFUSED|ETIMEDOUT|timeout|not connected/i.test(text)) return 'not answering';
  return 'failing';
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: {
    readonly database: string;
    readonly redis: string;
    /** `ok` when every library's system answers, else the first that does not (SPEC §12). */
    readonly librarySystem: string;
    /** With several libraries: each library's system by library id. */
    readonly librarySystems?: Readonly<Record<string, string>>;
  };
  /** The drivers' own messages of failed checks, for the log (never for an answer). */
  readonly details: { readonly database?: string; readonly redis?: string; readonly librarySystem?: string };
}

type ReadinessDeps = Pick<Deps, 'db' | 'redis'> & { readonly libraries: Pick<Libraries, 'all' | 'several'> };

/**
 * Whether the library system can be asked now: `ok` or `down: <reason>` as /readyz shows it (also the
 * dashboard's overview); `detail` is the system's own message, for the log only.
 */
export async function checkLibrarySystem(library: LibrarySystem): Promise<{ result: string; detail?: string }> {
  try {
    const state = await withTimeout(library.check(), 3000, 'library system');
    return state.ok ? { result: 'ok' } : { result: `down: ${state.down}`, detail: state.reason };
  } catch (error) {
    return { result: `down: ${downReason(error)}`, detail: String((error as Error)?.message ?? error) };
  }
}

/**
 * Whether forny can take work now: the database and Redis answer (without them nothing can be
 * stored or queued). The library system is checked and reported too, but does not make forny
 * unready: while it is away, messages are still stored and wait for it, and a load balancer that
 * stopped routing on its account would turn away the webhooks that would have been kept.
 */
export async function checkReadiness(deps: ReadinessDeps): Promise<Readiness> {
  const check = (promise: Promise<unknown>): Promise<{ result: string; detail?: string }> =>
    promise.then(
      () => ({ result: 'ok' }),
      (error: unknown) => ({ result: `down: ${downReason(error)}`, detail: String((error as Error)?.message ?? error) }),
    );
  const [database, redis, ...systems] = await Promise.all([
    check(withTimeout(deps.db.raw('select 1'), 2000, 'database')),
    check(withTimeout(deps.redis.ping(), 1000, 'redis')),
    ...deps.libraries.all.map((library) => checkLibrarySystem(library.system)),
  ]);
  // One system away never makes forny unready (SPEC §12): the others' patrons are still served.
  const librarySystem = systems.find((system) => system.result !== 'ok') ?? { result: 'ok' };
  const librarySystems = deps.libraries.several ? Object.fromEntries(deps.libraries.all.map((library, index) => [library.id, systems[index]?.result ?? 'ok'])) : undefined;
  return {
    ready: database.result === 'ok' && redis.result === 'ok',
    checks: { database: database.result, redis: redis.result, librarySystem: librarySystem.result, ...(librarySystems ? { librarySystems } : {}) },
    details: {
      ...(database.detail ? { database: database.detail } : {}),
      ...(redis.detail ? { redis: redis.detail } : {}),
      ...(librarySystem.detail ? { librarySystem: librarySystem.detail } : {}),
    },
  };
}

/**
 * `/healthz`: the process answers. `/readyz`: it can take work (503 while the database or Redis is
 * down), each check named with how it is down (no hosts or credentials); the library system's state
 * is in the answer either way. The drivers' details go to the log at warn, once per change,
 * so a probe every few seconds does not repeat them.
 */
export function healthRouter(deps: ReadinessDeps & Pick<Deps, 'logger'>): Router {
  const router = express.Router();
  let lastLogged = '';
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const readiness = await checkReadiness(deps);
    const logged = JSON.stringify(readiness.details);
    if (logged !== lastLogged) {
      if (Object.values(readiness.checks).some((result) => result !== 'ok')) deps.logger.warn({ checks: readiness.checks, details: readiness.details }, readiness.ready ? 'a check is down' : 'not ready');
      lastLogged = logged;
    }
    res.set('Cache-Control', 'no-store');
    res.status(readiness.ready ? 200 : 503).json({ status: readiness.ready ? 'ready' : 'not ready', checks: readiness.checks });
  });
  return router;
}
