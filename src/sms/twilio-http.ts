import http from 'node:http';
import https from 'node:https';
import twilio from 'twilio';

type RequestOptions<TData> = Parameters<twilio.RequestClient['request']>[0] & { data?: TData };
type SdkResponse<TData> = Awaited<ReturnType<twilio.RequestClient['request']>> & { body: TData };

/** Form values as Twilio takes them: arrays repeat their key, nothing absent is sent. */
function formOf(values: unknown): URLSearchParams {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
    for (const one of Array.isArray(value) ? (value as unknown[]) : [value]) {
      // The SDK has already serialised every value to a string, number or boolean.
      if (typeof one === 'string' || typeof one === 'number' || typeof one === 'boolean') form.append(key, String(one));
    }
  }
  return form;
}

/** A network failure with the code the error classifier reads (`ETIMEDOUT`: the request may have arrived). */
const networkError = (message: string, code: string): Error => Object.assign(new Error(message), { code });

/**
 * The Twilio SDK's HTTP client on plain `node:http` with kept-alive connections. The SDK's own
 * (axios with its interceptors and config merging) was about a tenth of a worker's CPU under a
 * burst of replies; this one does only what Twilio's REST calls need: basic auth, a form or JSON
 * body, query parameters, a timeout. The SDK still builds the requests and reads the answers.
 */
export class LeanRequestClient extends twilio.RequestClient {
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
  };

  constructor(private readonly timeoutMs: number) {
    super({ timeout: timeoutMs, keepAlive: true });
  }

  override async request<TData>(opts: RequestOptions<TData>): Promise<SdkResponse<TData>> {
    const url = new URL(opts.uri);
    for (const [key, value] of formOf(opts.params)) url.searchParams.append(key, value);
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.username !== undefined) headers.Authorization = `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`;
    else if (opts.authStrategy) headers.Authorization = await opts.authStrategy.getAuthString();
    const type = headers['Content-Type'] ?? '';
    const body = opts.data === undefined ? undefined : type === 'application/json' ? JSON.stringify(opts.data) : formOf(opts.data).toString();
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));

    const transport = url.protocol === 'https:' ? https : http;
    const agent = url.protocol === 'https:' ? this.agents['https:'] : this.agents['http:'];
    const timeout = opts.timeout ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, { method: opts.method.toUpperCase(), headers, agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          // The SDK parses a string body itself and raises Twilio's own error for a non-2xx answer.
          resolve({ statusCode: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') as TData, headers: response.headers }),
        );
      });
      request.setTimeout(timeout, () => request.destroy(networkError(`no answer from Twilio within ${timeout} ms`, 'ETIMEDOUT')));
      request.on('error', reject);
      request.end(body);
    });
  }
}
