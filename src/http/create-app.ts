import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Deps } from '../deps.js';
import { AppError } from '../errors.js';
import { errorAnswer } from './error-answer.js';
import { adminAssets } from './admin/assets.js';
import { bullBoardRouter } from './admin/bull-board.js';
import { dashboardRouter } from './admin/dashboard-router.js';
import { apiRouter } from './api.js';
import { basicAuth, DEFAULT_LOCKOUT, type LockoutOptions } from './basic-auth.js';
import { BODY_LIMIT_BYTES, bodyGate, refuseDeclaredOverLimit } from './body-limits.js';
import { deviceCookies } from './device-cookie.js';
import { healthRouter } from './health.js';
import { redisLoginFailures } from './login-failures.js';
import { rejectMalformedUrl } from './malformed-url.js';
import { createMetrics, type AppMetrics } from './metrics.js';
import { NOTICES_BODY_LIMIT, noticesRouter } from './notices.js';
import { captureRoute } from './request-route.js';
import { operatorLogins, type OperatorLogins } from './operator-logins.js';
import { requireGateway } from './operator-scope.js';
import { noStore, securityHeaders } from './security-headers.js';
import { BODY_LIMIT, twilioWebhooks } from './twilio-webhook.js';

export interface AppOptions {
  /** The metrics (and their background refresh) to serve; by default the app makes its own. */
  readonly metrics?: AppMetrics;
  /** The login lockout's delays (tests shorten them). */
  readonly lockout?: Partial<LockoutOptions>;
}

/** The Express app, not listening: webhooks, operators' API and dashboard, probes, metrics. */
export function createApp(deps: Deps, options: AppOptions = {}): Express {
  return buildApp(deps, options).app;
}

/**
 * The app as forny serves it: Twilio's webhooks, the requests a burst is made of, answered before
 * Express sets up a request at all; everything else by the app.
 */
export function createRequestHandler(deps: Deps, options: AppOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const { app, webhooks, gate } = buildApp(deps, options);
  return (req, res) => {
    if (gate(req, res) && !webhooks(req, res)) app(req, res);
  };
}

/** 403 for a library's operator: what only the gateway's operator sees (SPEC §12). */
const gatewayOnly =
  (what: string): RequestHandler =>
  (_req, res, next) => {
    requireGateway(res, what);
    next();
  };

/**
 * /metrics is the whole gateway's (every library's counts): a request that logs in as a library's
 * operator is 403 there, whatever its password; otherwise METRICS_TOKEN or loopback decides (SPEC §7).
 */
function refuseLibraryOperators(logins: OperatorLogins): RequestHandler {
  return (req, _res, next) => {
    if (req.path.replace(/\/+$/, '') !== '/metrics') return next();
    const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(req.get('authorization') ?? '');
    const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
    const user = decoded.slice(0, Math.max(0, decoded.indexOf(':')));
    if (user !== '' && logins.isLibraryOperator(user)) return next(new AppError('forbidden', 403, "metrics are for the gateway's operator only"));
    next();
  };
}

function buildApp(deps: Deps, options: AppOptions) {
  const app = express();
  app.disable('x-powered-by');
  // SPEC §6 TRUST_PROXY: none by default, so req.ip is the socket's and X-Forwarded-For is ignored.
  app.set('trust proxy', deps.config.http.trustProxy);

  // Every answer is made for this request (no-store or a webhook's TwiML): an ETag would only cost a hash.
  app.set('etag', false);

  // The gateway's operator and every library's (SPEC §12); /metrics refuses the libraries' too.
  const logins = operatorLogins({ admin: deps.config.admin, libraries: deps.libraries });
  const metrics = options.metrics ?? createMetrics(deps);
  // Twilio's webhooks first, answered by themselves (and, served, before Express: see
  // createRequestHandler); their answers (TwiML for Twilio, never shown in a browser) skip the
  // browser's security headers.
  const webhooks = twilioWebhooks(deps, metrics);
  // First of all: a body over HTTP_MAX_BODIES_IN_FLIGHT is refused before anything is read.
  const gate = bodyGate(deps.config.http.maxBodiesInFlight, metrics.bodies);
  app.use((req, res, next) => {
    if (gate(req, res) && !webhooks(req, res)) next();
  });
  app.use(captureRoute, metrics.observeRequests, rejectMalformedUrl);
  app.use(securityHeaders(deps.config.publicBaseUrl));
  // SPEC §7's limits by their Content-Length, before logins and body-parser (which reads a refused body to its end).
  app.use(refuseDeclaredOverLimit((req) => (req.path.toLowerCase().replace(/\/+$/, '') === '/api/notices' ? NOTICES_BODY_LIMIT : BODY_LIMIT_BYTES)));
  app.use(healthRouter(deps));
  // METRICS_TOKEN, or loopback clients only (SPEC §7).
  app.use(refuseLibraryOperators(logins), metrics.router);

  // One login for the API, the dashboard and Bull Board (and one count of failed attempts).
  const lockout = options.lockout;
  const operators = basicAuth({
    logins,
    logger: deps.logger,
    failures: redisLoginFailures(deps.redis, deps.config.queuePrefix, lockout?.windowMs ?? DEFAULT_LOCKOUT.windowMs, deps.logger),
    devices: deviceCookies({
      password: deps.config.admin.password,
      salt: `${deps.config.publicBaseUrl}\u0000${deps.config.admin.user}`,
      secure: deps.config.publicBaseUrl.startsWith('https:'),
      now: () => deps.clock.now().getTime(),
    }),
    ...(lockout ? { lockout } : {}),
  });
  // The library system's route, with its own token and body limit, before the operators' /api.
  app.use(noticesRouter(deps));
  app.use('/api', noStore, operators, express.json({ limit: BODY_LIMIT }), apiRouter(deps));
  app.use('/admin/assets', adminAssets());
  app.use('/admin', operators, noStore);
  app.use('/admin/queues', gatewayOnly('Bull Board'), bullBoardRouter(deps, '/admin/queues'));
  app.use('/admin', dashboardRouter(deps));

  app.use((req, _res, next) => next(new AppError('not_found', 404, `no route for ${req.method} ${req.path}`)));

  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    const { status, body } = errorAnswer(error, deps.logger, req.path);
    res.status(status).json(body);
  };
  app.use(onError);
  return { app, webhooks, gate };
}
