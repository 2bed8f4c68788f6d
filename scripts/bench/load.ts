/**
 * A bounded load generator for the webhook benchmark: `connections` keep-alive connections post
 * signed, unique Twilio webhooks for `seconds`; returns req/s, p50/p99 latency and refusals.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import twilio from 'twilio';

export interface LoadResult {
  readonly requests: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Anything but 200, and connection errors. */
  readonly refused: number;
}

export interface LoadPlan {
  readonly port: number;
  readonly connections: number;
  readonly seconds: number;
  readonly authToken: string;
  /** The public URL the signature is computed against. */
  readonly signedUrl: string;
  /** Distinct across runs, so every message is new. */
  readonly sidPrefix: string;
  readonly body?: string;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

/** Posts signed inbound webhooks over keep-alive connections; each call resolves to the HTTP status (0: no answer). */
export function webhookPoster(options: { readonly port: number; readonly connections: number; readonly authToken: string; readonly signedUrl: string }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const post = (params: Record<string, string>): Promise<number> => {
    const payload = new URLSearchParams(params).toString();
    const signature = twilio.getExpectedTwilioSignature(options.authToken, options.signedUrl, params);
    return new Promise<number>((resolve) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: options.port,
          path: '/sms/inbound',
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(payload),
            'x-twilio-signature': signature,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
      req.end(payload);
    });
  };
  return { post, close: () => agent.destroy() };
}

export async function postWebhooks(plan: LoadPlan): Promise<LoadResult> {
  const poster = webhookPoster(plan);
  const latencies: number[] = [];
  let refused = 0;
  let counter = 0;
  const deadline = performance.now() + plan.seconds * 1000;
  const one = async (): Promise<void> => {
    const n = counter++;
    const started = performance.now();
    const status = await poster.post({
      MessageSid: `SM${plan.sidPrefix}${n.toString(16).padStart(12, '0')}`,
      AccountSid: 'AC00000000000000000000000000000000',
      From: `+4520${String(100000 + (n % 800000)).padStart(6, '0')}`,
      To: '1910',
      Body: plan.body ?? 'HBK FORNY ALLE',
    });
    latencies.push(performance.now() - started);
    if (status !== 200) refused++;
  };
  const started = performance.now();
  await Promise.all(
    Array.from({ length: plan.connections }, async () => {
      while (performance.now() < deadline) await one();
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  poster.close();
  latencies.sort((a, b) => a - b);
  return { requests: latencies.length, perSecond: latencies.length / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), refused };
}
