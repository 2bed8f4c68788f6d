import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Clock } from '../../clock.js';
import type { LibrarySystemDown } from '../library-system.js';
import { LibrarySystemUnavailable } from '../library-system-unavailable.js';
import { describeFbs, type FbsOptions } from './url.js';

/** One active loan as FBS lists it (loans v2) or answers a renewal with it (renew v2). */
export interface FbsLoan {
  /** FBS's `loanId` (int64), kept as its decimal text so no digit is lost. */
  readonly loanId: string;
  readonly materialItemNumber: string;
  /** As FBS gave it: `YYYY-MM-DD`, perhaps with a time part. */
  readonly dueDate: string;
  /** `loan` or `interLibraryLoan`; other values may come and mean an ordinary loan. */
  readonly loanType: string;
  /** `ilBibliographicRecord.title`: interlibrary loans only. */
  readonly title: string | null;
}

/** A loan from loans v2, with FBS's own view of whether it can be renewed (not to be trusted: it may skip it). */
export interface FbsListedLoan extends FbsLoan {
  readonly isRenewable: boolean;
  readonly renewalStatusList: readonly string[];
}

/** One entry of renew v2's answer. */
export interface FbsRenewal {
  readonly renewalStatus: readonly string[];
  readonly loan: FbsLoan;
}

/** What preauthenticated/v10 said of a card. */
export type FbsPatron = { readonly known: true; readonly patronId: string } | { readonly known: false; readonly status: string };

/**
 * FBS could not be asked, or did not answer properly. `sent`: the request may have reached FBS and
 * been acted on (its answer lost: a time-out, a connection cut after sending, a 5xx); false when it
 * surely never left (connection refused, no free slot, the login failed first).
 */
export class FbsUnavailable extends LibrarySystemUnavailable {
  readonly sent: boolean;
  /** The HTTP status FBS answered with, or null when none came. */
  readonly status: number | null;

  constructor(message: string, options: { down: LibrarySystemDown; sent: boolean; status?: number | null; cause?: unknown }) {
    super(message, { down: options.down, cause: options.cause });
    this.sent = options.sent;
    this.status = options.status ?? null;
  }
}

/** Knobs the URL does not carry; tests shorten them. */
export interface FbsClientTuning {
  /** After a refused login, the next attempt waits initialMs, doubling per refusal up to maxMs (FBS may lock an account). */
  readonly loginBackoff?: { readonly initialMs: number; readonly maxMs: number };
}

const DEFAULT_LOGIN_BACKOFF = { initialMs: 5_000, maxMs: 60_000 } as const;
/** A card's patronId is kept this long (SPEC §13: up to a day). */
const PATRON_TTL_MS = 24 * 60 * 60 * 1000;
/** No FBS answer forny reads is near this; a bigger one is a misbehaving proxy, not data. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

interface Answer {
  readonly status: number;
  readonly text: string;
}

/** A failure below HTTP, with whether the request was on its way. */
class TransportError extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
    readonly retriable: boolean,
    readonly down: LibrarySystemDown,
  ) {
    super(message);
  }
}

/**
 * FBS's external API for one library (SPEC §13): login, patron by card, loans v2, renew v2. One
 * session key shared by every call of this client, made by one login at a time (callers arriving
 * meanwhile await that login); a call answered 401 (the key timed out) logs in once more and is
 * repeated once. At most `concurrency` calls at once, each with its own time-out.
 */
export class FbsClient {
  readonly #options: FbsOptions;
  readonly #clock: Clock;
  readonly #agent: http.Agent;
  readonly #where: string;
  readonly #loginBackoff: { readonly initialMs: number; readonly maxMs: number };
  #session: string | null = null;
  #loggingIn: Promise<string> | null = null;
  #refusals = 0;
  #refusedUntil = 0;
  #refusal: FbsUnavailable | null = null;
  /** The latest call's failure to answer (no answer, a 5xx); null once a call goes well. */
  #lastFailure: FbsUnavailable | null = null;
  readonly #patrons = new Map<string, { readonly patronId: string; readonly at: number }>();
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  #closed = false;

  constructor(options: FbsOptions & { readonly caPem?: string | null }, clock: Clock, tuning: FbsClientTuning = {}) {
    this.#options = options;
    this.#clock = clock;
    this.#where = describeFbs(options);
    this.#loginBackoff = tuning.loginBackoff ?? DEFAULT_LOGIN_BACKOFF;
    // Keep-alive: a renew-all is four calls, and a new TLS handshake for each would double its cost.
    const agentOptions = { keepAlive: true, maxSockets: options.concurrency };
    this.#agent = options.tls
      ? // Node's bundled CAs beside the file's, so `ca=` adds one rather than replacing them.
        new https.Agent({ ...agentOptions, ...(options.caPem ? { ca: [...rootCertificates, options.caPem] } : {}) })
      : new http.Agent(agentOptions);
  }

  /** The card's patronId, or that FBS does not know the card; a VALID answer is kept up to a day. */
  async patron(cardNumber: string): Promise<FbsPatron> {
    const kept = this.#patrons.get(cardNumber);
    if (kept && this.#clock.now().getTime() - kept.at < PATRON_TTL_MS) return { known: true, patronId: kept.patronId };
    // The card as bare text under application/json: what FBS's own clients send, and what it reads.
    const answer = await this.#call('POST', `/external/${this.#agency()}/patrons/preauthenticated/v10`, { body: cardNumber, idempotent: true });
    const value = parse(answer, this.#where, 'preauthenticated/v10') as { authenticateStatus?: unknown; patronId?: unknown };
    const status = typeof value.authenticateStatus === 'string' ? value.authenticateStatus : String(value.authenticateStatus);
    if (status !== 'VALID') {
      this.#patrons.delete(cardNumber);
      return { known: false, status };
    }
    const patronId = idText(value.patronId);
    if (patronId === null) throw this.#malformed('preauthenticated/v10 answered VALID without a patronId');
    this.#patrons.set(cardNumber, { patronId, at: this.#clock.now().getTime() });
    return { known: true, patronId };
  }

  /** Drops a kept patronId (FBS said 404 for it: merged or deleted), so the next call asks again. */
  forgetPatron(cardNumber: string): void {
    this.#patrons.delete(cardNumber);
  }

  /** The patron's active loans (loans v2). */
  async loans(patronId: string): Promise<FbsListedLoan[]> {
    const answer = await this.#call('GET', `/external/${this.#agency()}/patrons/${patronId}/loans/v2`, { idempotent: true });
    const value = parse(answer, this.#where, 'loans/v2');
    if (!Array.isArray(value)) throw this.#malformed('loans/v2 did not answer with a list');
    return value.map((entry: unknown) => {
      const loan = entry as { isRenewable?: unknown; renewalStatusList?: unknown; loanDetails?: unknown };
      return {
        ...this.#loanOf(loan.loanDetails, 'loans/v2'),
        isRenewable: loan.isRenewable === true,
        renewalStatusList: strings(loan.renewalStatusList),
      };
    });
  }

  /**
   * One renew call for these loans (renew v2). Not repeated on its own when the answer is lost: the
   * caller decides from the loans' due dates (SPEC §13, exactly once); a 401 is repeated, since FBS
   * refused the call before acting on it.
   */
  async renew(patronId: string, loanIds: readonly string[], options: { readonly notAfter?: Date } = {}): Promise<FbsRenewal[]> {
    // Written by hand: the ids are int64 text, and a JS number would round the large ones.
    const body = `[${loanIds.map((id) => (/^\d+$/.test(id) ? id : JSON.stringify(id))).join(',')}]`;
    const answer = await this.#call('POST', `/external/${this.#agency()}/patrons/${patronId}/loans/renew/v2`, { body, idempotent: false, ...options });
    const value = parse(answer, this.#where, 'renew/v2');
    if (!Array.isArray(value)) throw this.#malformed('renew/v2 did not answer with a list');
    return value.map((entry: unknown) => {
      const renewal = entry as { renewalStatus?: unknown; loanDetails?: unknown };
      return { renewalStatus: strings(renewal.renewalStatus), loan: this.#loanOf(renewal.loanDetails, 'renew/v2') };
    });
  }

  /**
   * For /readyz and the start check: logs in unless a key is held and the latest call went well; so
   * a system that stopped answering is asked again (one login), and one that answers costs nothing.
   */
  async check(): Promise<void> {
    if (this.#session !== null && this.#lastFailure === null) return;
    await (this.#session === null ? this.#key() : this.#freshKey(this.#session));
  }

  /** Whether a login has succeeded and its key is held (a key FBS timed out is only found by a 401). */
  get loggedIn(): boolean {
    return this.#session !== null;
  }

  close(): void {
    this.#closed = true;
    this.#agent.destroy();
    for (const wake of this.#waiting.splice(0)) wake();
  }

  #agency(): string {
    return encodeURIComponent(this.#options.agency);
  }

  #malformed(problem: string): FbsUnavailable {
    return new FbsUnavailable(`${this.#where}: ${problem}`, { down: 'failing', sent: true });
  }

  #loanOf(details: unknown, call: string): FbsLoan {
    const loan = (details ?? {}) as Record<string, unknown>;
    const loanId = idText(loan['loanId']);
    const item = loan['materialItemNumber'];
    const dueDate = loan['dueDate'];
    if (loanId === null || (typeof item !== 'string' && typeof item !== 'number') || typeof dueDate !== 'string') {
      throw this.#malformed(`${call} gave a loan without loanId, materialItemNumber or dueDate`);
    }
    const record = loan['ilBibliographicRecord'] as { title?: unknown } | undefined;
    const title = typeof record?.title === 'string' && record.title.trim() !== '' ? record.title : null;
    return { loanId, materialItemNumber: String(item), dueDate, loanType: typeof loan['loanType'] === 'string' ? loan['loanType'] : 'loan', title };
  }

  /** The session key, logging in if none is held; one login at a time, shared by every caller waiting. */
  #key(): Promise<string> {
    if (this.#session !== null) return Promise.resolve(this.#session);
    this.#loggingIn ??= this.#login().finally(() => {
      this.#loggingIn = null;
    });
    return this.#loggingIn;
  }

  /** A new key after `stale` was answered 401: unless another caller has already replaced it. */
  #freshKey(stale: string): Promise<string> {
    if (this.#session === stale) this.#session = null;
    return this.#key();
  }

  async #login(): Promise<string> {
    const now = this.#clock.now().getTime();
    if (this.#refusal && now < this.#refusedUntil) throw this.#refusal;
    const body = JSON.stringify({ username: this.#options.user, password: this.#options.password });
    const answer = await this.#exchange('POST', `/external/v1/${this.#agency()}/authentication/login`, { body, idempotent: true }, null).catch((error: unknown) => {
      throw (this.#lastFailure = this.#unavailable(error, 'login'));
    });
    if (answer.status === 403) {
      // Spaced out: FBS may lock an account after a few refused logins, and /readyz asks often.
      this.#refusals += 1;
      const { initialMs, maxMs } = this.#loginBackoff;
      this.#refusedUntil = this.#clock.now().getTime() + Math.min(maxMs, initialMs * 2 ** (this.#refusals - 1));
      this.#refusal = new FbsUnavailable(`${this.#where}: login refused for agency ${this.#options.agency} (403: invalid client credentials)`, {
        down: 'login refused',
        sent: false,
        status: 403,
      });
      throw this.#refusal;
    }
    if (answer.status !== 200) throw (this.#lastFailure = this.#statusError(answer, 'login', false));
    const value = parse(answer, this.#where, 'login') as { sessionKey?: unknown };
    if (typeof value.sessionKey !== 'string' || value.sessionKey === '') throw this.#malformed('login answered without a sessionKey');
    this.#refusals = 0;
    this.#refusal = null;
    this.#lastFailure = null;
    this.#session = value.sessionKey;
    return value.sessionKey;
  }

  /** A call with the session key, in a concurrency slot; a 401 logs in again once and repeats the call once. */
  async #call(method: 'GET' | 'POST', path: string, request: { body?: string; idempotent: boolean; notAfter?: Date }): Promise<Answer> {
    await this.#slot();
    try {
      // A failed login sent nothing of this call.
      const key = await this.#key();
      // Checked as the call is about to leave: the wait for a slot and the login may have taken long.
      if (request.notAfter && this.#clock.now().getTime() >= request.notAfter.getTime()) {
        throw new FbsUnavailable(`${this.#where}: the request's give-up time passed before the call left; not sent`, { down: 'not answering', sent: false });
      }
      let answer = await this.#exchange(method, path, request, key).catch((error: unknown) => {
        throw this.#unavailable(error, path);
      });
      if (answer.status === 401) {
        const fresh = await this.#freshKey(key);
        answer = await this.#exchange(method, path, request, fresh).catch((error: unknown) => {
          throw this.#unavailable(error, path);
        });
        if (answer.status === 401) throw this.#statusError(answer, path, false, 'a new session key was refused too');
      }
      if (answer.status < 200 || answer.status > 299) throw this.#statusError(answer, path, answer.status >= 500);
      this.#lastFailure = null;
      return answer;
    } catch (error) {
      if (error instanceof FbsUnavailable && error.down !== 'login refused' && (error.status === null || error.status >= 500)) this.#lastFailure = error;
      throw error;
    } finally {
      this.#release();
    }
  }

  #unavailable(error: unknown, what: string): FbsUnavailable {
    if (error instanceof FbsUnavailable) return error;
    if (error instanceof TransportError) return new FbsUnavailable(`${this.#where}: ${what}: ${error.message}`, { down: error.down, sent: error.sent, cause: error });
    return new FbsUnavailable(`${this.#where}: ${what}: ${String((error as Error)?.message ?? error)}`, { down: 'failing', sent: true, cause: error });
  }

  /** A non-2xx answer: 5xx (and anything unexpected) is FBS failing; only a 5xx may have been acted on. */
  #statusError(answer: Answer, what: string, sent: boolean, note?: string): FbsUnavailable {
    const words = answer.text.replace(/\s+/g, ' ').trim().slice(0, 200);
    const said = note ?? (words === '' ? '' : JSON.stringify(words));
    return new FbsUnavailable(`${this.#where}: ${what} answered HTTP ${answer.status}${said ? ` (${said})` : ''}`, { down: 'failing', sent, status: answer.status });
  }

  /** Waits for one of `concurrency` slots, at most the time-out (then nothing was sent). */
  async #slot(): Promise<void> {
    if (this.#closed) throw new FbsUnavailable(`${this.#where}: closed`, { down: 'not answering', sent: false });
    if (this.#active < this.#options.concurrency) {
      this.#active += 1;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        if (this.#closed) reject(new FbsUnavailable(`${this.#where}: closed`, { down: 'not answering', sent: false }));
        else resolve();
      };
      const timer = setTimeout(() => {
        const index = this.#waiting.indexOf(wake);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(new FbsUnavailable(`${this.#where}: no free slot within ${this.#options.timeoutMs} ms (${this.#options.concurrency} calls at once)`, { down: 'not answering', sent: false }));
      }, this.#options.timeoutMs);
      this.#waiting.push(wake);
    });
    // The slot was handed over by #release, which did not give it up.
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#active -= 1;
  }

  /** One HTTP exchange; a call that may be repeated is repeated once when a kept-alive socket turned out closed. */
  async #exchange(method: string, path: string, request: { body?: string; idempotent: boolean }, session: string | null): Promise<Answer> {
    try {
      return await this.#send(method, path, request.body, session);
    } catch (error) {
      if (request.idempotent && error instanceof TransportError && error.retriable) return this.#send(method, path, request.body, session);
      throw error;
    }
  }

  #send(method: string, path: string, body: string | undefined, session: string | null): Promise<Answer> {
    const options = this.#options;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    if (session !== null) headers['x-session'] = session;
    const transport = options.tls ? https : http;
    return new Promise<Answer>((resolve, reject) => {
      let sent = false;
      let settled = false;
      const fail = (error: TransportError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const req = transport.request({
        host: options.host,
        port: options.port,
        method,
        path: options.basePath + path,
        headers,
        agent: this.#agent,
      });
      const timer = setTimeout(() => {
        fail(new TransportError(`no answer within ${options.timeoutMs} ms`, sent, false, 'not answering'));
        req.destroy();
      }, options.timeoutMs);
      // Handed to the network in full: from here FBS may act on it even if no answer comes.
      req.on('finish', () => {
        sent = true;
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        const code = error.code ?? 'error';
        const refused = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code);
        // A kept-alive socket the server had closed fails at once on reuse: FBS never saw the request.
        const stale = req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE');
        const down: LibrarySystemDown = code.startsWith('ERR_TLS') || code.includes('CERT') ? 'failing' : 'not answering';
        fail(new TransportError(refused ? `cannot connect (${code})` : `connection lost (${code})`, sent && !refused, stale, down));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            fail(new TransportError(`answer larger than ${MAX_ANSWER_BYTES} bytes`, true, false, 'failing'));
            req.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', () => fail(new TransportError('connection lost while answering', true, false, 'not answering')));
        res.on('aborted', () => fail(new TransportError('connection lost while answering', true, false, 'not answering')));
      });
      req.end(body);
    });
  }
}

/**
 * JSON with FBS's int64 ids kept as text: `loanId` and `patronId` past 2^53 would round as numbers,
 * and a renew call for a rounded loanId would renew another loan or none.
 */
function parse(answer: Answer, where: string, call: string): unknown {
  const text = answer.text.replace(/("(?:loanId|patronId)"\s*:\s*)(-?\d{16,})/g, '$1"$2"');
  try {
    return JSON.parse(text);
  } catch {
    throw new FbsUnavailable(`${where}: ${call} answered with something that is not JSON`, { down: 'failing', sent: true, status: answer.status });
  }
}

function idText(value: unknown): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) return value;
  return null;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : [];
}
