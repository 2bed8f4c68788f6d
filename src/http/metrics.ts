import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import express, { type RequestHandler, type Router } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { dueUnsentSms, messageCounts, renewalResultCounts, sendErrorCounts } from '../../db/repositories/message-stats.js';
import { noticeCounts } from '../../db/repositories/notices.js';
import { countSmsWaitingForWindow } from '../../db/repositories/outbound.js';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { safeEqual } from './basic-auth.js';
import type { BodyGateMetrics } from './body-limits.js';
import { checkReadiness } from './health.js';
import { queueCounts } from './queue-reads.js';
import { routeOf } from './request-route.js';

type MetricsDeps = Pick<Deps, 'db' | 'redis' | 'queues' | 'clock' | 'logger' | 'libraries'> & { readonly config: Pick<Deps['config'], 'http'> };

/** How far back `forny_send_errors` looks. */
const SEND_ERRORS_WINDOW_MS = 24 * 3600 * 1000;

/** SPEC §7: a scrape shows figures at most this old. */
export const METRICS_REFRESH_MS = 15_000;

/** A refresh whose reads have not all answered by then publishes what it has (the rest empty). */
const REFRESH_TIMEOUT_MS = 10_000;

export interface MetricsOptions {
  /** How often the database and Redis figures are read again (tests use less). */
  readonly refreshMs?: number;
}

export interface AppMetrics {
  /** Times every request by the route it matched; mount before the routes, after `captureRoute`. */
  readonly observeRequests: RequestHandler;
  /** Times one request answered before Express's routing (Twilio's webhooks), under the route given. */
  readonly timeRequest: (req: IncomingMessage, res: ServerResponse, route: string) => void;
  /** Counts a Twilio webhook answered 503 because what it carried could not be stored (a full disk). */
  readonly webhookNotStored: (webhook: 'inbound' | 'status') => void;
  /** Counts a Twilio webhook refused (4xx), by the error code of its answer (`bad_signature`, …). */
  readonly webhookRefused: (webhook: 'inbound' | 'status', reason: string) => void;
  /** Bodies arriving, and requests refused because too many were (see bodyGate). */
  readonly bodies: BodyGateMetrics;
  /** Counts a connection closed at once because the process had HTTP_MAX_CONNECTIONS open. */
  readonly connectionDropped: () => void;
  /** `GET /metrics`: the bearer or loopback check, then one Prometheus exposition of the cache. */
  readonly router: Router;
  /** Starts the background refresh (the first scrape starts it too); idempotent. */
  start(): void;
  /** Reads every figure now (or joins the refresh under way) and publishes them. */
  refreshNow(): Promise<void>;
  /** Stops the background refresh; an app being closed calls it. */
  stop(): void;
}

const isLoopback = (address: string | undefined): boolean => {
  if (!address) return false;
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || (isIP(plain) === 4 && plain.startsWith('127.'));
};

/**
 * Headers a proxy adds to say whom it relays for (beyond every `X-Forwarded-*` and `Forwarded`).
 * Proxies are configured to send only some of them (nginx's common `X-Real-IP` alone), so any one
 * of them marks a relayed request.
 */
const RELAY_HEADERS = ['x-real-ip', 'x-client-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip', 'x-cluster-client-ip', 'x-original-forwarded-for', 'via'];

/** True when a header says a proxy relayed this request. */
export function relayedByProxy(headers: IncomingMessage['headers']): boolean {
  return Object.keys(headers).some((name) => name === 'forwarded' || name.startsWith('x-forwarded-') || RELAY_HEADERS.includes(name));
}

/**
 * SPEC §7: with METRICS_TOKEN set, only `Authorization: Bearer METRICS_TOKEN` (compared in constant
 * time); unset, loopback clients only. Loopback is judged by the socket, never by X-Forwarded-For;
 * and a loopback request that carries any forwarding header came through a proxy on this host, so
 * it is someone else's and refused (else a local reverse proxy would publish /metrics).
 */
export function metricsAccess(metricsToken: string | undefined): RequestHandler {
  return (req, res, next) => {
    if (metricsToken !== undefined) {
      const match = /^Bearer (\S+)$/i.exec(req.get('authorization') ?? '');
      if (!match?.[1] || !safeEqual(match[1], metricsToken)) {
        res.set('WWW-Authenticate', 'Bearer realm="forny metrics"');
        next(new AppError('unauthorized', 401, 'metrics need Authorization: Bearer METRICS_TOKEN'));
        return;
      }
      next();
      return;
    }
    if (!isLoopback(req.socket.remoteAddress) || relayedByProxy(req.headers)) {
      next(new AppError('forbidden', 403, 'metrics answer loopback clients only unless METRICS_TOKEN is set'));
      return;
    }
    next();
  };
}

type Sample<L extends string> = readonly [Record<L, string>, number];

interface CachedGauge {
  /** Reads the figures (database, Redis); the only slow part, run by the refresh, never by a scrape. */
  read(): Promise<readonly Sample<string>[]>;
  /** Replaces the published figures; `undefined` (the read failed) leaves the gauge empty. */
  publish(samples: readonly Sample<string>[] | undefined): void;
}

/**
 * The app's metrics, in a registry of its own (not prom-client's global one, so several apps in one
 * process — tests — never register a name twice). The database and Redis figures are read in the
 * background, one refresh at a time, every `refreshMs` (SPEC §7: at most 15 s old), and published
 * together when all are read; a scrape only serialises what is there. Whole-table counts at scrape
 * time blocked the event loop for ~200 ms per scrape at 300k messages, and anyone could ask for them.
 * The workers may run in other processes: the database, the source of truth, has the numbers for all.
 */
export function createMetrics(deps: MetricsDeps, options: MetricsOptions = {}): AppMetrics {
  const refreshMs = options.refreshMs ?? METRICS_REFRESH_MS;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const cached: CachedGauge[] = [];

  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], read: () => Promise<readonly Sample<L>[]>) => {
    const metric = new Gauge<L>({ name, help, labelNames, registers: [registry] });
    cached.push({
      read,
      publish(samples) {
        metric.reset();
        for (const [labels, value] of (samples ?? []) as readonly Sample<L>[]) metric.set(labels, value);
      },
    });
  };

  const requestDuration = new Histogram({
    name: 'forny_http_request_duration_seconds',
    help: 'HTTP request duration, by method, route pattern (or "unmatched") and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  // Counted where it happens, in this process: the database that failed to store it has no row to count.
  const webhookStoreFailures = new Counter({
    name: 'forny_webhook_store_failures_total',
    help: 'Twilio webhooks answered 503 because the message or receipt could not be stored (Twilio retries or calls the fallback URL), by webhook.',
    labelNames: ['webhook'] as const,
    registers: [registry],
  });
  for (const webhook of ['inbound', 'status'] as const) webhookStoreFailures.inc({ webhook }, 0);

  // Every one, where the log has a line a minute at most: forged ones can come by the hundred a second.
  // `reason` is one of the webhook's own error codes, a fixed set, never text from the request.
  const webhooksRefused = new Counter({
    name: 'forny_webhooks_refused_total',
    help: 'Twilio webhooks refused (4xx), by webhook and reason (the answer\'s error code: bad_signature, missing_signature, payload_too_large, …).',
    labelNames: ['webhook', 'reason'] as const,
    registers: [registry],
  });
  for (const webhook of ['inbound', 'status'] as const) for (const reason of ['bad_signature', 'missing_signature']) webhooksRefused.inc({ webhook, reason }, 0);

  // The caps of HTTP_MAX_BODIES_IN_FLIGHT and HTTP_MAX_CONNECTIONS, per process: when they bite.
  const bodiesInFlight = new Gauge({
    name: 'forny_http_bodies_in_flight',
    help: 'Requests of this process whose bodies are still arriving (capped by HTTP_MAX_BODIES_IN_FLIGHT).',
    registers: [registry],
  });
  const bodiesRefused = new Counter({
    name: 'forny_http_bodies_refused_total',
    help: 'Requests with a body answered 503 because HTTP_MAX_BODIES_IN_FLIGHT bodies were arriving already.',
    registers: [registry],
  });
  const connectionsDropped = new Counter({
    name: 'forny_http_connections_dropped_total',
    help: 'Connections closed unanswered because this process had HTTP_MAX_CONNECTIONS open.',
    registers: [registry],
  });
  const bodies: BodyGateMetrics = {
    bodyStarted: () => bodiesInFlight.inc(),
    bodyEnded: () => bodiesInFlight.dec(),
    bodyRefused: () => bodiesRefused.inc(),
  };

  let refreshedAt: number | undefined;
  new Gauge({
    name: 'forny_metrics_age_seconds',
    help: 'How old the database and Redis figures of this scrape are (they are read in the background).',
    registers: [registry],
    collect() {
      this.set(refreshedAt === undefined ? 0 : (Date.now() - refreshedAt) / 1000);
    },
  });

  gauge('forny_queue_jobs', 'Jobs in each BullMQ queue by state; absent while Redis does not answer.', ['queue', 'state'], async () => {
    const counts = await queueCounts(deps);
    if (counts === undefined) throw new Error('redis not answering');
    return counts.flatMap(({ queue, counts: byState }) => Object.entries(byState).map(([state, count]) => [{ queue, state }, count] as const));
  });
  // `library` (SPEC §12): the library's id, `default` for a single library, `none` for the gateway's own answers.
  gauge('forny_messages', 'Messages stored, by library ("none": the gateway\'s own answers), direction, channel, kind and current status.', ['library', 'direction', 'channel', 'kind', 'status'], async () =>
    (await messageCounts(deps.db)).map(({ count, ...labels }) => [labels, count] as const),
  );
  gauge('forny_renewal_results', 'Loan renewal results recorded, by library, outcome and reason ("none" for a renewal).', ['library', 'outcome', 'reason'], async () =>
    (await renewalResultCounts(deps.db)).map((row) => [{ library: row.library, outcome: row.outcome, reason: row.reason ?? 'none' }, row.count] as const),
  );
  gauge(
    'forny_notices_total',
    'Notices taken from the library system (POST /api/notices), by kind, and per channel by the status of the message each wrote ("none": no message on that channel: no address, not opted in, or the number texted STOP).',
    ['library', 'kind', 'channel', 'status'],
    async () => (await noticeCounts(deps.db)).map(({ count, ...labels }) => [labels, count] as const),
  );
  gauge('forny_sms_waiting_for_window', 'SMS waiting for a later opening of the send window.', [], async () => [[{}, await countSmsWaitingForWindow(deps.db, deps.clock.now())]]);
  // One read of the due SMS feeds both gauges below.
  let due: Promise<Awaited<ReturnType<typeof dueUnsentSms>>> | undefined;
  gauge('forny_sms_due_unsent', 'SMS whose send time has come (the window is open) that have not left yet.', [], async () => [[{}, (await due)?.count ?? 0]]);
  gauge('forny_sms_oldest_due_seconds', 'How long the oldest due but unsent SMS has been due; 0 when none.', [], async () => {
    const now = deps.clock.now();
    const oldest = (await due)?.oldestSendAfter ?? null;
    return [[{}, oldest === null ? 0 : Math.max(0, (now.getTime() - Date.parse(oldest)) / 1000)]];
  });
  gauge('forny_send_errors', 'Messages whose last send attempt failed, by channel and error code (Twilio or mail server), among messages changed in the last 24 h.', ['channel', 'code'], async () => {
    const since = new Date(deps.clock.now().getTime() - SEND_ERRORS_WINDOW_MS);
    return (await sendErrorCounts(deps.db, since)).map(({ count, ...labels }) => [labels, count] as const);
  });
  gauge('forny_ready', 'What /readyz reports per check: 1 while it answers, else 0 (database and redis make /readyz 503; librarySystem, one per library, does not).', ['check', 'library'], async () => {
    const { checks } = await checkReadiness(deps);
    const up = (result: string) => (result === 'ok' ? 1 : 0);
    return [
      [{ check: 'database', library: '' }, up(checks.database)] as const,
      [{ check: 'redis', library: '' }, up(checks.redis)] as const,
      ...deps.libraries.all.map((library) => [{ check: 'librarySystem', library: library.id }, up(checks.librarySystems?.[library.id] ?? checks.librarySystem)] as const),
    ];
  });

  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let started = false;

  const refresh = async () => {
    due = dueUnsentSms(deps.db, deps.clock.now());
    due.catch(() => undefined); // the gauges reading it report the failure
    const deadline = new Promise<'timeout'>((resolve) => setTimeout(resolve, REFRESH_TIMEOUT_MS, 'timeout').unref());
    const results = await Promise.all(
      cached.map(async (source) => {
        try {
          const samples = await Promise.race([source.read(), deadline]);
          return samples === 'timeout' ? undefined : samples;
        } catch (error) {
          deps.logger.debug({ err: (error as Error).message }, 'metric not collected');
          return undefined;
        }
      }),
    );
    // Published together, so a scrape never mixes two refreshes.
    cached.forEach((source, index) => source.publish(results[index]));
    refreshedAt = Date.now();
  };

  const refreshNow = () =>
    (running ??= refresh().finally(() => {
      running = undefined;
    }));

  const schedule = () => {
    timer = setTimeout(() => {
      void refreshNow().finally(() => {
        if (started) schedule();
      });
    }, refreshMs);
    timer.unref();
  };

  const start = () => {
    if (started) return;
    started = true;
    void refreshNow();
    schedule();
  };

  const stop = () => {
    started = false;
    clearTimeout(timer);
  };

  const observeRequests: RequestHandler = (req, res, next) => {
    const end = requestDuration.startTimer();
    res.on('finish', () => end({ method: req.method, route: routeOf(req), status_code: String(res.statusCode) }));
    next();
  };

  const timeRequest = (req: IncomingMessage, res: ServerResponse, route: string) => {
    const end = requestDuration.startTimer();
    res.on('finish', () => end({ method: req.method ?? '', route, status_code: String(res.statusCode) }));
  };

  const router = express.Router();
  router.get('/metrics', metricsAccess(deps.config.http.metricsToken), async (_req, res) => {
    start();
    if (refreshedAt === undefined) await running; // only the first scrape after start waits
    res.set('Content-Type', registry.contentType).set('Cache-Control', 'no-store').send(await registry.metrics());
  });

  const webhookNotStored = (webhook: 'inbound' | 'status') => webhookStoreFailures.inc({ webhook });
  const webhookRefused = (webhook: 'inbound' | 'status', reason: string) => webhooksRefused.inc({ webhook, reason });

  return { observeRequests, timeRequest, webhookNotStored, webhookRefused, bodies, connectionDropped: () => connectionsDropped.inc(), router, start, refreshNow, stop };
}
