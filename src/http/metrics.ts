import express, { type RequestHandler, type Router } from 'express';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { dueUnsentSms, messageCounts, renewalResultCounts, sendErrorCounts } from '../../db/repositories/message-stats.js';
import { countSmsWaitingForWindow } from '../../db/repositories/outbound.js';
import type { Deps } from '../deps.js';
import { checkReadiness } from './health.js';
import { queueCounts } from './queue-reads.js';
import { routeOf } from './request-route.js';

type MetricsDeps = Pick<Deps, 'db' | 'redis' | 'queues' | 'clock' | 'logger'>;

/** How far back `forny_send_errors` looks. */
const SEND_ERRORS_WINDOW_MS = 24 * 3600 * 1000;

export interface AppMetrics {
  /** Times every request by the route it matched; mount before the routes, after `captureRoute`. */
  readonly observeRequests: RequestHandler;
  /** `GET /metrics`: one Prometheus exposition of everything below. */
  readonly router: Router;
}

/**
 * The app's metrics, in a registry of its own (not prom-client's global one, so several apps in one
 * process — tests — never register a name twice). Besides the process and HTTP metrics, every gauge
 * is read at scrape time from the database or Redis: the workers may run in other processes, and
 * the database, being the source of truth, has the numbers for all of them.
 */
export function createMetrics(deps: MetricsDeps): AppMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  /** A failing source leaves its gauge empty for this scrape instead of failing the whole scrape. */
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], read: (set: (labels: Record<L, string>, value: number) => void) => Promise<void>) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        try {
          await read((labels, value) => this.set(labels, value));
        } catch (error) {
          deps.logger.debug({ metric: name, err: (error as Error).message }, 'metric not collected');
        }
      },
    });

  const requestDuration = new Histogram({
    name: 'forny_http_request_duration_seconds',
    help: 'HTTP request duration, by method, route pattern (or "unmatched") and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  gauge('forny_queue_jobs', 'Jobs in each BullMQ queue by state; absent while Redis does not answer.', ['queue', 'state'], async (set) => {
    for (const { queue, counts } of (await queueCounts(deps)) ?? []) {
      for (const [state, count] of Object.entries(counts)) set({ queue, state }, count);
    }
  });
  gauge('forny_messages', 'Messages stored, by direction, channel, kind and current status.', ['direction', 'channel', 'kind', 'status'], async (set) => {
    for (const { count, ...labels } of await messageCounts(deps.db)) set(labels, count);
  });
  gauge('forny_renewal_results', 'Loan renewal results recorded, by outcome and reason ("none" for a renewal).', ['outcome', 'reason'], async (set) => {
    for (const row of await renewalResultCounts(deps.db)) set({ outcome: row.outcome, reason: row.reason ?? 'none' }, row.count);
  });
  gauge('forny_sms_waiting_for_window', 'SMS waiting for a later opening of the send window.', [], async (set) => {
    set({}, await countSmsWaitingForWindow(deps.db, deps.clock.now()));
  });
  gauge('forny_sms_due_unsent', 'SMS whose send time has come (the window is open) that have not left yet.', [], async (set) => {
    set({}, (await dueUnsentSms(deps.db, deps.clock.now())).count);
  });
  gauge('forny_sms_oldest_due_seconds', 'How long the oldest due but unsent SMS has been due; 0 when none.', [], async (set) => {
    const now = deps.clock.now();
    const { oldestSendAfter } = await dueUnsentSms(deps.db, now);
    set({}, oldestSendAfter === null ? 0 : Math.max(0, (now.getTime() - Date.parse(oldestSendAfter)) / 1000));
  });
  gauge('forny_send_errors', 'Messages whose last send attempt failed, by channel and error code (Twilio or mail server), among messages changed in the last 24 h.', ['channel', 'code'], async (set) => {
    const since = new Date(deps.clock.now().getTime() - SEND_ERRORS_WINDOW_MS);
    for (const { count, ...labels } of await sendErrorCounts(deps.db, since)) set(labels, count);
  });
  gauge('forny_ready', 'What /readyz reports: 1 while the check (database, redis) answers, else 0.', ['check'], async (set) => {
    const { checks } = await checkReadiness(deps);
    for (const [check, result] of Object.entries(checks)) set({ check }, result === 'ok' ? 1 : 0);
  });

  const observeRequests: RequestHandler = (req, res, next) => {
    const end = requestDuration.startTimer();
    res.on('finish', () => end({ method: req.method, route: routeOf(req), status_code: String(res.statusCode) }));
    next();
  };

  const router = express.Router();
  router.get('/metrics', async (_req, res) => {
    res.set('Content-Type', registry.contentType).send(await registry.metrics());
  });

  return { observeRequests, router };
}
