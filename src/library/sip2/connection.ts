import net from 'node:net';
import tls from 'node:tls';
import {
  Sip2DecodeError,
  decodeFrame,
  type DecodedFrame,
  encodeFrame,
  parseResponse,
  requestFrame,
  type Sip2Request,
  type Sip2Response,
  type Sip2Encoding,
  type SupportedMessageName,
} from './codec.js';
import { Sip2ConnectionLost, Sip2Error, Sip2LoginRefused, Sip2ProtocolError, Sip2Timeout, Sip2Unsupported } from './errors.js';
import { describeSip2, type Sip2Options } from './url.js';

/** What a connection needs: the URL's options (pool size aside) and the CA file's contents, if any. */
export type Sip2ConnectionOptions = Omit<Sip2Options, 'poolSize' | 'ca'> & {
  readonly caPem: string | null;
  /** Told of each answer that cannot be in the configured encoding, and which one it looks like (for a warning). */
  readonly onWrongEncoding?: (looksLike: Sip2Encoding, code: string) => void;
};

/** The messages forny sends after login; a system that lacks one cannot serve it. */
const NEEDED: readonly SupportedMessageName[] = ['patron information', 'item information', 'renew'];

/** Bounds, so a broken system cannot keep a request going forever. */
const MAX_ACS_RESENDS = 3;
const MAX_SC_RESENDS = 3;

const ANSWER_CODE: Readonly<Record<Sip2Question['kind'], string>> = {
  login: '94',
  scStatus: '98',
  patronInformation: '64',
  itemInformation: '18',
  renew: '30',
};

/** What callers may ask; `97` is the connection's own business. */
export type Sip2Question = Exclude<Sip2Request, { kind: 'requestAcsResend' }>;

type ResponseOf<K extends Sip2Question['kind']> = Extract<
  Sip2Response,
  {
    kind: { login: 'loginResponse'; scStatus: 'acsStatus'; patronInformation: 'patronInformationResponse'; itemInformation: 'itemInformationResponse'; renew: 'renewResponse' }[K];
  }
>;

/**
 * One logged-in SIP2 session on one socket (TCP or TLS). One request at a time: SIP2 answers carry
 * no request id beyond the one-digit sequence number, so requests are queued, never interleaved.
 * After a time-out or a protocol error the connection closes itself: whatever arrives late would
 * be taken for the answer to the next request.
 */
export class Sip2Connection {
  readonly description: string;
  readonly #socket: net.Socket;
  readonly #options: Sip2ConnectionOptions;
  #pending: Buffer = Buffer.alloc(0);
  readonly #frames: Buffer[] = [];
  #waiter: { resolve(frame: Buffer): void; reject(error: Error): void } | null = null;
  #closedBy: Sip2Error | null = null;
  #sequence = 0;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(socket: net.Socket, options: Sip2ConnectionOptions) {
    this.#socket = socket;
    this.#options = options;
    this.description = describeSip2(options);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => this.#lose(`connection error ${error.code ?? error.message}`));
    socket.on('close', () => this.#lose('connection closed by the system'));
  }

  /** Connects, logs in (`93` → `94` ok) and checks `98`'s supported messages; throws a Sip2Error. */
  static async open(options: Sip2ConnectionOptions, signal?: AbortSignal): Promise<Sip2Connection> {
    const socket = await connectSocket(options, signal);
    const connection = new Sip2Connection(socket, options);
    // Closing mid-login (the pool shutting down) ends the socket now, not at the time-out.
    const onAbort = () => connection.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const login = await connection.request({ kind: 'login', user: options.user, password: options.password, location: options.location });
      if (!login.ok) {
        throw new Sip2LoginRefused(`${connection.description}: login refused (94 ok=0): check the SIP2 user, password and location`);
      }
      const status = await connection.request({ kind: 'scStatus' });
      const missing = status.supported === null ? NEEDED : NEEDED.filter((name) => !status.supported!.has(name));
      if (missing.length > 0) {
        throw new Sip2Unsupported(
          `${connection.description}: the system does not offer ${missing.join(', ')} (98 BX ${status.supported === null ? 'missing' : 'lacks them'}); forny needs ${NEEDED.join(', ')}`,
        );
      }
      return connection;
    } catch (error) {
      connection.close();
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** False once the socket is gone or the connection gave up on it. */
  get alive(): boolean {
    return this.#closedBy === null;
  }

  /** Sends one request and resolves with its answer; queued behind any request in flight. */
  request<R extends Sip2Question>(request: R): Promise<ResponseOf<R['kind']>> {
    const run = this.#queue.then(() => this.#exchange(request));
    this.#queue = run.catch(() => undefined);
    return run as Promise<ResponseOf<R['kind']>>;
  }

  /** Ends the session at once; a request in flight fails with Sip2ConnectionLost. Never waits. */
  close(): void {
    this.#lose('connection closed by forny');
    this.#socket.destroy();
  }

  async #exchange(request: Sip2Question): Promise<Sip2Response> {
    if (this.#closedBy) throw this.#closedBy;
    // Anything already waiting was sent before this request existed: it cannot be its answer.
    this.#frames.length = 0;
    const frame = requestFrame(request);
    const acsResend = encodeFrame(requestFrame({ kind: 'requestAcsResend' }), this.#encodeOptions(null));
    let sequence = this.#nextSequence();
    let lastSent = encodeFrame(frame, this.#encodeOptions(sequence));
    this.#write(lastSent);
    let acsResends = 0;
    let scResends = 0;
    for (;;) {
      const raw = await this.#read(frame.code);
      let decoded: DecodedFrame;
      let response: Sip2Response;
      try {
        decoded = decodeFrame(raw, { encoding: this.#options.encoding, checksums: this.#options.checksums });
        response = parseResponse(decoded);
      } catch (error) {
        if (error instanceof Sip2DecodeError && error.badChecksum && acsResends < MAX_ACS_RESENDS) {
          acsResends += 1;
          lastSent = acsResend;
          this.#write(lastSent);
          continue;
        }
        throw this.#fail(new Sip2ProtocolError(`${this.description}: answer to ${frame.code}: ${(error as Error).message}`));
      }
      if (decoded.looksLike) this.#options.onWrongEncoding?.(decoded.looksLike, decoded.code);
      if (response.kind === 'requestScResend') {
        if (scResends >= MAX_SC_RESENDS) throw this.#fail(new Sip2ProtocolError(`${this.description}: ${frame.code} asked again (96) ${scResends + 1} times`));
        scResends += 1;
        // The system could not read what we sent last. If that was our 97, the request itself
        // arrived and was acted on (a Renew!): repeat the 97, never the request.
        if (lastSent !== acsResend) {
          sequence = this.#nextSequence(); // a new sequence number is allowed
          lastSent = encodeFrame(frame, this.#encodeOptions(sequence));
        }
        this.#write(lastSent);
        continue;
      }
      const expected = ANSWER_CODE[request.kind];
      if (decoded.code !== expected) throw this.#fail(new Sip2ProtocolError(`${this.description}: answer to ${frame.code} was ${decoded.code}, expected ${expected}`));
      if (this.#options.checksums && decoded.sequence !== null && decoded.sequence !== sequence) {
        throw this.#fail(new Sip2ProtocolError(`${this.description}: answer to ${frame.code} has sequence AY${decoded.sequence}, sent AY${sequence}`));
      }
      return response;
    }
  }

  #encodeOptions(sequence: number | null) {
    return { encoding: this.#options.encoding, ...(this.#options.checksums ? { errorDetection: { sequence } } : {}) };
  }

  #nextSequence(): number {
    const sequence = this.#sequence;
    this.#sequence = (this.#sequence + 1) % 10;
    return sequence;
  }

  #write(bytes: Buffer): void {
    if (this.#closedBy) throw this.#closedBy;
    this.#socket.write(bytes);
  }

  #read(code: string): Promise<Buffer> {
    const ready = this.#frames.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#closedBy) return Promise.reject(this.#closedBy);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        reject(this.#fail(new Sip2Timeout(`${this.description}: no answer to ${code} within ${this.#options.timeoutMs} ms`)));
      }, this.#options.timeoutMs);
      this.#waiter = {
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  #onData(chunk: Buffer): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    for (let cr = this.#pending.indexOf(0x0d); cr >= 0; cr = this.#pending.indexOf(0x0d)) {
      const frame = this.#pending.subarray(0, cr + 1);
      this.#pending = this.#pending.subarray(cr + 1);
      if (frame.every((byte) => byte === 0x0a || byte === 0x0d)) continue;
      const waiter = this.#waiter;
      if (waiter) {
        this.#waiter = null;
        waiter.resolve(frame);
      } else {
        this.#frames.push(frame);
      }
    }
  }

  /** Marks the connection unusable with this error and drops the socket; returns the error to throw. */
  #fail(error: Sip2Error): Sip2Error {
    if (!this.#closedBy) this.#closedBy = error;
    this.#socket.destroy();
    this.#waiter?.reject(error);
    this.#waiter = null;
    return error;
  }

  #lose(why: string): void {
    if (this.#closedBy) return;
    this.#fail(new Sip2ConnectionLost(`${this.description}: ${why}`));
  }
}

/** A connected socket, or Sip2ConnectionLost naming why not (refused, unreachable, TLS failure, time-out). */
function connectSocket(options: Sip2ConnectionOptions, signal?: AbortSignal): Promise<net.Socket> {
  const description = describeSip2(options);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new Sip2ConnectionLost(`${description}: connection closed by forny`));
      return;
    }
    const socket = options.tls
      ? tls.connect({
          host: options.host,
          port: options.port,
          ...(options.caPem === null ? {} : { ca: [...tls.rootCertificates, options.caPem] }),
          ...(options.servername !== null ? { servername: options.servername } : net.isIP(options.host) === 0 ? { servername: options.host } : {}),
        })
      : net.connect({ host: options.host, port: options.port });
    const connectedEvent = options.tls ? 'secureConnect' : 'connect';
    const onError = (error: NodeJS.ErrnoException) => fail(new Sip2ConnectionLost(`${description}: cannot connect (${error.code ?? error.message})`));
    const onConnected = () => {
      settle();
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      resolve(socket);
    };
    const timer = setTimeout(() => fail(new Sip2ConnectionLost(`${description}: no connection within ${options.timeoutMs} ms`)), options.timeoutMs);
    const onAbort = () => fail(new Sip2ConnectionLost(`${description}: connection closed by forny`));
    // Only our own listeners come off: a TLS socket has listeners of its own.
    const settle = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off(connectedEvent, onConnected);
    };
    const fail = (error: Error) => {
      settle();
      socket.on('error', () => undefined);
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once(connectedEvent, onConnected);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
