import express, { type Router } from 'express';
import type { Deps } from '../deps.js';

/** Rejects when `promise` has not settled within `ms` (a probe must answer even when a dependency hangs). */
const withTimeout = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms).unref())]);

export interface Readiness {
  readonly ready: boolean;
  readonly checks: { readonly database: string; readonly redis: string };
}

/** Whether the database and Redis answer now; each check says why when it fails. */
export async function checkReadiness(deps: Pick<Deps, 'db' | 'redis'>): Promise<Readiness> {
  const [database, redis] = await Promise.all([
    withTimeout(deps.db.raw('select 1'), 2000, 'database').then(
      () => 'ok',
      (error: Error) => `down: ${error.message}`,
    ),
    withTimeout(deps.redis.ping(), 1000, 'redis').then(
      () => 'ok',
      (error: Error) => `down: ${error.message}`,
    ),
  ]);
  return { ready: database === 'ok' && redis === 'ok', checks: { database, redis } };
}

/** `/healthz`: the process answers. `/readyz`: it can do its work (503 naming what is down). */
export function healthRouter(deps: Pick<Deps, 'db' | 'redis'>): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const readiness = await checkReadiness(deps);
    res.status(readiness.ready ? 200 : 503).json({ status: readiness.ready ? 'ready' : 'not ready', checks: readiness.checks });
  });
  return router;
}
