import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

/*
 * FBS's external API for the tests, over real HTTP on loopback, written from the published
 * description (danskernesdigitalebibliotek/dpl-fbs-adapter-tool, fbs/externalapidocs: login,
 * patrons/preauthenticated/v10, loans/v2, loans/renew/v2) and deliberately sharing no code with
 * src/library/fbs: a misreading there must not be mirrored here. It keeps agencies, patrons by
 * card, loans with due dates, renews by its own rules, insists on a valid session key, records
 * what it received and what it did, and misbehaves on request.
 */

export interface SimFbsLoan {
  readonly loanId: number;
  readonly itemNumber: string;
  /** YYYY-MM-DD */
  dueDate: string;
  renewals: number;
  readonly maxRenewals?: number;
  readonly loanType?: 'loan' | 'interLibraryLoan';
  /** ILL only: `ilBibliographicRecord.title`. */
  readonly title?: string;
  /** Another patron reserved it. */
  reserved?: boolean;
  /** The material may not be lent again (deniedMaterialIsNotLoanable). */
  readonly notLoanable?: boolean;
  /** Refused with an unlisted status word (FBS may add new ones). */
  readonly otherStatus?: string;
}

export interface SimFbsPatron {
  readonly card: string;
  readonly patronId: number;
  /** `VALID` unless set. */
  readonly authenticateStatus?: string;
  blocked?: boolean;
  readonly loans: SimFbsLoan[];
}

export type FbsCall = 'login' | 'patron' | 'loans' | 'renew';

export type FbsFault =
  /** Answer the next call of this kind with this HTTP status, without acting on it. */
  | { readonly kind: 'status'; readonly on: FbsCall; readonly status: number }
  /** Answer the next call of this kind after `ms` (it is acted on at once). */
  | { readonly kind: 'slow'; readonly on: FbsCall; readonly ms: number }
  /** The session key times out: the next call with it is answered 401. */
  | { readonly kind: 'expireSession' }
  /** Apply the next renew call, then cut the connection before answering. */
  | { readonly kind: 'loseRenewAnswer' }
  /** Cut the connection on the next call of this kind, without acting on it. */
  | { readonly kind: 'drop'; readonly on: FbsCall };

export interface FbsReceived {
  readonly call: FbsCall | 'unknown';
  readonly method: string;
  readonly path: string;
  readonly session: string | null;
  readonly contentType: string | null;
  readonly body: string;
}

export interface FbsServerOptions {
  readonly user?: string;
  readonly password?: string;
  /** The ISILs this FBS serves. Default `DK-761500`. */
  readonly agencies?: readonly string[];
  readonly basePath?: string;
  /** The system's date, YYYY-MM-DD. */
  readonly today?: string;
  /** Days a renewal adds to max(due date, today). Default 14. */
  readonly renewalDays?: number;
  /** Default 3. */
  readonly maxRenewals?: number;
  /** Cicero may skip the evaluation: every listed loan `isRenewable` true, no statuses. */
  readonly skipEvaluation?: boolean;
  /** Appended to every date FBS answers with, e.g. `T00:00:00.000+01:00`. */
  readonly dateSuffix?: string;
}

export class FbsServer {
  readonly user: string;
  readonly password: string;
  readonly agencies: Set<string>;
  readonly basePath: string;
  today: string;
  readonly renewalDays: number;
  readonly maxRenewals: number;
  skipEvaluation: boolean;
  readonly dateSuffix: string;
  readonly patrons = new Map<string, SimFbsPatron>();
  readonly received: FbsReceived[] = [];
  readonly faults: FbsFault[] = [];
  /** Things that break the published contract: a test expects none. */
  readonly violations: string[] = [];
  /** Every renewal it applied, as `loanId`. */
  readonly renewedLoans: number[] = [];
  refuseLogins = false;
  /** Requests being handled now, and the most at once: the client's concurrency cap, seen from here. */
  inFlight = 0;
  maxInFlight = 0;
  /** Called for every request before it is answered (tests move their clock here). */
  onRequest: ((call: FbsCall | 'unknown') => void) | null = null;
  #sessions = new Set<string>();
  #server: http.Server | null = null;
  #port = 0;
  readonly #sockets = new Set<import('node:net').Socket>();

  constructor(options: FbsServerOptions = {}) {
    this.user = options.user ?? 'forny';
    this.password = options.password ?? 'hemmelig';
    this.agencies = new Set(options.agencies ?? ['DK-761500']);
    this.basePath = options.basePath ?? '/rest';
    this.today = options.today ?? '2026-12-01';
    this.renewalDays = options.renewalDays ?? 14;
    this.maxRenewals = options.maxRenewals ?? 3;
    this.skipEvaluation = options.skipEvaluation ?? false;
    this.dateSuffix = options.dateSuffix ?? '';
  }

  get port(): number {
    return this.#port;
  }

  addPatron(patron: SimFbsPatron): void {
    this.patrons.set(patron.card, patron);
  }

  loan(loanId: number): SimFbsLoan | undefined {
    for (const patron of this.patrons.values()) for (const loan of patron.loans) if (loan.loanId === loanId) return loan;
    return undefined;
  }

  /** How many calls of this kind it received (answered or not). */
  count(call: FbsCall): number {
    return this.received.filter((request) => request.call === call).length;
  }

  /** How many times a renew call named this loan. */
  askedToRenew(loanId: number): number {
    return this.received.filter((request) => request.call === 'renew' && (JSON.parse(request.body) as number[]).includes(loanId)).length;
  }

  /** Every session key it issued stops being valid (FBS's session time-out). */
  expireSessions(): void {
    this.#sessions.clear();
  }

  async start(port = this.#port): Promise<number> {
    const server = http.createServer((req, res) => void this.#handle(req, res));
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
    return this.#port;
  }

  /** Stops listening and cuts every connection (FBS gone). */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #fault(call: FbsCall, kinds: FbsFault['kind'][]): FbsFault | undefined {
    const index = this.faults.findIndex((fault) => kinds.includes(fault.kind) && (!('on' in fault) || fault.on === call) && (fault.kind !== 'loseRenewAnswer' || call === 'renew'));
    return index < 0 ? undefined : this.faults.splice(index, 1)[0];
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => (this.inFlight -= 1));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '').split('?')[0] ?? '';
    const route = this.#route(req.method ?? '', path);
    const session = typeof req.headers['x-session'] === 'string' ? req.headers['x-session'] : null;
    this.received.push({ call: route?.call ?? 'unknown', method: req.method ?? '', path, session, contentType: req.headers['content-type'] ?? null, body });
    this.onRequest?.(route?.call ?? 'unknown');
    const send = (status: number, value?: unknown) => {
      const text = value === undefined ? '' : JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (!route) return send(404, { message: 'no such service' });
    if (!this.agencies.has(route.agency)) return send(404, { message: `unknown agency ${route.agency}` });
    const { call } = route;

    const drop = this.#fault(call, ['drop']);
    if (drop) return void req.socket.destroy();
    const status = this.#fault(call, ['status']);
    if (status && status.kind === 'status') return send(status.status, { message: `simulated ${status.status}` });
    const slow = this.#fault(call, ['slow']);

    if (call === 'login') {
      if (req.headers['content-type']?.startsWith('application/json') !== true) this.violations.push('login without Content-Type application/json');
      let credentials: { username?: unknown; password?: unknown } = {};
      try {
        credentials = JSON.parse(body) as typeof credentials;
      } catch {
        return send(400, { message: 'bad request' });
      }
      if (this.refuseLogins || credentials.username !== this.user || credentials.password !== this.password) return send(403, { message: 'invalid client credentials' });
      const key = randomBytes(12).toString('hex');
      this.#sessions.add(key);
      return this.#answer(res, send, slow, 200, { sessionKey: key });
    }

    if (this.#fault(call, ['expireSession'])) this.expireSessions();
    if (session === null || !this.#sessions.has(session)) return send(401, { message: 'client unauthorized' });

    if (call === 'patron') {
      if (req.headers['content-type']?.startsWith('application/json') !== true) this.violations.push('preauthenticated without Content-Type application/json');
      // The card as bare text, as FBS's own clients send it.
      if (/^"/.test(body)) this.violations.push(`preauthenticated body is quoted JSON, not the bare card number: ${body}`);
      const patron = this.patrons.get(body.trim());
      if (!patron) return this.#answer(res, send, slow, 200, { authenticateStatus: 'INVALID', patronId: null, patronType: null });
      return this.#answer(res, send, slow, 200, { authenticateStatus: patron.authenticateStatus ?? 'VALID', patronId: patron.patronId, patronType: 'ADULT' });
    }

    const patron = [...this.patrons.values()].find((candidate) => String(candidate.patronId) === route.patronId);
    if (!patron) return send(404, { message: 'patron not found' });

    if (call === 'loans') {
      const list = patron.loans.map((loan) => {
        const denials = this.skipEvaluation ? [] : this.#denials(patron, loan);
        return { isRenewable: denials.length === 0, isLongtermLoan: false, renewalStatusList: denials, loanDetails: this.#details(loan) };
      });
      return this.#answer(res, send, slow, 200, list);
    }

    // renew
    let ids: unknown;
    try {
      ids = JSON.parse(body);
    } catch {
      return send(400, { message: 'bad request' });
    }
    if (!Array.isArray(ids) || !ids.every((id) => Number.isInteger(id))) {
      this.violations.push(`renew body is not a JSON array of loanIds: ${body}`);
      return send(400, { message: 'bad request' });
    }
    const answer = [];
    for (const id of ids as number[]) {
      const loan = patron.loans.find((candidate) => candidate.loanId === id);
      if (!loan) {
        answer.push({ renewalStatus: ['deniedMaterialIsNotFound'], loanDetails: { loanId: id } });
        continue;
      }
      const denials = this.#denials(patron, loan);
      if (denials.length === 0) {
        loan.dueDate = addDays(loan.dueDate > this.today ? loan.dueDate : this.today, this.renewalDays);
        loan.renewals += 1;
        this.renewedLoans.push(loan.loanId);
        answer.push({ renewalStatus: ['renewed'], loanDetails: this.#details(loan) });
      } else {
        answer.push({ renewalStatus: denials, loanDetails: this.#details(loan) });
      }
    }
    if (this.#fault(call, ['loseRenewAnswer'])) return void req.socket.destroy();
    return this.#answer(res, send, slow, 200, answer);
  }

  #answer(_res: http.ServerResponse, send: (status: number, value?: unknown) => void, slow: FbsFault | undefined, status: number, value: unknown): void {
    if (slow && slow.kind === 'slow') setTimeout(() => send(status, value), slow.ms);
    else send(status, value);
  }

  /** Why FBS would not renew this loan now, in its status words; none when it would. */
  #denials(patron: SimFbsPatron, loan: SimFbsLoan): string[] {
    const denials: string[] = [];
    if (patron.blocked) denials.push('deniedLoanerIsBlocked');
    if (loan.reserved) denials.push('deniedReserved');
    if (loan.renewals >= (loan.maxRenewals ?? this.maxRenewals)) denials.push('deniedMaxRenewalsReached');
    if (loan.notLoanable) denials.push('deniedMaterialIsNotLoanable');
    if (loan.otherStatus) denials.push(loan.otherStatus);
    return denials;
  }

  #details(loan: SimFbsLoan): Record<string, unknown> {
    const ill = loan.loanType === 'interLibraryLoan';
    return {
      loanId: loan.loanId,
      materialItemNumber: loan.itemNumber,
      recordId: `8700${loan.loanId}`,
      loanDate: `2026-11-01${this.dateSuffix}`,
      dueDate: `${loan.dueDate}${this.dateSuffix}`,
      loanType: loan.loanType ?? 'loan',
      materialGroup: { name: ill ? 'fjernlaan' : 'standard', description: ill ? 'Fjernlån' : 'Standard' },
      ...(ill ? { ilBibliographicRecord: { recordId: `ill-${loan.loanId}`, mediumType: 'xx', ...(loan.title ? { title: loan.title } : {}) } } : {}),
    };
  }

  #route(method: string, path: string): { call: FbsCall; agency: string; patronId?: string } | undefined {
    if (!path.startsWith(`${this.basePath}/`)) return undefined;
    const rest = path.slice(this.basePath.length);
    let match = /^\/external\/v1\/([^/]+)\/authentication\/login$/.exec(rest);
    if (match && method === 'POST') return { call: 'login', agency: decodeURIComponent(match[1]!) };
    match = /^\/external\/([^/]+)\/patrons\/preauthenticated\/v10$/.exec(rest);
    if (match && method === 'POST') return { call: 'patron', agency: decodeURIComponent(match[1]!) };
    match = /^\/external\/([^/]+)\/patrons\/(\d+)\/loans\/v2$/.exec(rest);
    if (match && method === 'GET') return { call: 'loans', agency: decodeURIComponent(match[1]!), patronId: match[2]! };
    match = /^\/external\/([^/]+)\/patrons\/(\d+)\/loans\/renew\/v2$/.exec(rest);
    if (match && method === 'POST') return { call: 'renew', agency: decodeURIComponent(match[1]!), patronId: match[2]! };
    return undefined;
  }
}

function addDays(date: string, days: number): string {
  const at = new Date(`${date}T00:00:00Z`);
  at.setUTCDate(at.getUTCDate() + days);
  return at.toISOString().slice(0, 10);
}
