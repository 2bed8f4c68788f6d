import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Deps } from '../deps.js';
import { createRequestHandler, type AppOptions } from './create-app.js';
import { createMetrics, type MetricsOptions } from './metrics.js';

export interface HttpTimeouts {
  /** A request whose headers and body have not all arrived by then is answered 408 and closed. */
  readonly requestTimeoutMs: number;
  /** The same for the headers alone. */
  readonly headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
  /** How often Node looks for requests past their time-outs (30 s by Node's default). */
  readonly connectionsCheckingIntervalMs: number;
}

/**
 * SPEC §7: a request whose body or headers do not arrive within 30 s is closed. Node checks only
 * every `connectionsCheckingInterval`, so a slow request lives up to time-out + interval: 35 s here,
 * inside the 45 s the issue allows, where Node's defaults held a byte-every-5-s request for minutes.
 */
export const HTTP_TIMEOUTS: HttpTimeouts = Object.freeze({
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  connectionsCheckingIntervalMs: 5_000,
});

export interface ServeOptions {
  readonly port: number;
  readonly host: string;
  readonly timeouts?: HttpTimeouts;
  readonly metrics?: MetricsOptions;
  readonly app?: Omit<AppOptions, 'metrics'>;
}

export interface Serving {
  readonly server: Server;
  readonly url: string;
  /** Refreshes the cached /metrics figures now (tests; an operator's script). */
  refreshMetrics(): Promise<void>;
  /** Stops accepting connections and the metrics refresh; resolves once open requests are done. */
  close(): Promise<void>;
}

export interface Bound {
  readonly server: Server;
  readonly url: string;
  /** Starts answering with forny's app; until then every request gets a 503 "starting". */
  attach(deps: Deps, options?: Pick<ServeOptions, 'metrics' | 'app'>): Serving;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Not serving yet (migrating, seeding): a clear 503 rather than a hung connection. */
const starting: Handler = (_req, res) => {
  res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' });
  res.end('forny is starting\n');
};

/**
 * Takes the port first, with forny's time-outs, before anything else happens: a taken port stops a
 * process before it deletes a database, touches a queue or prints a login. Rejects with the
 * listener's own error (EADDRINUSE, …).
 */
export async function listen(options: Pick<ServeOptions, 'port' | 'host' | 'timeouts'>): Promise<Bound> {
  const timeouts = options.timeouts ?? HTTP_TIMEOUTS;
  let handler: Handler = starting;
  const server = createServer(
    {
      requestTimeout: timeouts.requestTimeoutMs,
      headersTimeout: timeouts.headersTimeoutMs,
      keepAliveTimeout: timeouts.keepAliveTimeoutMs,
      connectionsCheckingInterval: timeouts.connectionsCheckingIntervalMs,
    },
    (req, res) => handler(req, res),
  );
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;
  return {
    server,
    url,
    attach(deps, attachOptions = {}) {
      const metrics = createMetrics(deps, attachOptions.metrics);
      handler = createRequestHandler(deps, { ...attachOptions.app, metrics });
      // One more connection than this is closed at once ('drop'): idle sockets by the thousand
      // cost memory, and Node's time-out checks walk them all (15k stalled /healthz for 8 s).
      server.maxConnections = deps.config.http.maxConnections;
      server.on('drop', () => metrics.connectionDropped());
      metrics.start();
      let closing: Promise<void> | undefined;
      return {
        server,
        url,
        refreshMetrics: () => metrics.refreshNow(),
        close: () =>
          (closing ??= new Promise<void>((resolve) => {
            metrics.stop();
            server.close(() => resolve());
            server.closeIdleConnections();
          })),
      };
    },
  };
}

/** forny's HTTP server with its time-outs, listening and serving: what the tests run. */
export async function serve(deps: Deps, options: ServeOptions): Promise<Serving> {
  return (await listen(options)).attach(deps, options);
}
