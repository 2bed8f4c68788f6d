import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

/*
 * A SIP2 library system (an "ACS") for the tests, written from the 3M SIP2 2.00 specification and
 * deliberately sharing no code with src/library/sip2: a codec bug there must not be mirrored here.
 * It keeps patrons and their charged items, renews by its own rules, checks every message's
 * checksum, insists on the login first, records what it received, and misbehaves on request.
 */

export interface SimItem {
  readonly id: string;
  readonly title: string;
  /** YYYY-MM-DD */
  dueDate: string;
  renewals: number;
  readonly maxRenewals: number;
  /** Another patron holds it: renewal refused with `holdMessage`. */
  readonly onHold?: boolean;
}

export interface SimPatron {
  readonly card: string;
  readonly name: string;
  readonly valid?: boolean;
  readonly items: SimItem[];
}

export type Sip2Fault =
  /** Close the connection on the next message with this code, without answering. */
  | { readonly kind: 'drop'; readonly on: string }
  /** Answer the next message with this code after `ms`. */
  | { readonly kind: 'late'; readonly on: string; readonly ms: number }
  /** Answer the next message with this code with a wrong checksum (a `97` then gets the right one). */
  | { readonly kind: 'badChecksum'; readonly on: string }
  /** Answer the next message with this code with `96` (Request SC Resend). */
  | { readonly kind: 'resend'; readonly on: string }
  /** Apply the next renewal (of this item, or any) and close the connection before the `30`. */
  | { readonly kind: 'loseRenewAnswer'; readonly item?: string };

export interface Sip2ServerOptions {
  readonly user?: string;
  readonly password?: string;
  readonly institution?: string;
  readonly encoding?: 'utf8' | 'latin1';
  /** Require `AY`/`AZ` on every message (but `97`'s sequence). Default true. */
  readonly checksums?: boolean;
  /** At most this many `AU` per `64`, whatever range is asked. Default 10. */
  readonly pageSize?: number;
  /** Days a renewal adds to max(due date, today). Default 14. */
  readonly renewalDays?: number;
  /** The system's date, YYYY-MM-DD. */
  readonly today?: string;
  /** The `98` BX field. Default: everything. */
  readonly supported?: string;
  readonly tls?: { readonly key: string; readonly cert: string };
  readonly holdMessage?: string;
}

export interface ReceivedMessage {
  readonly connection: number;
  readonly code: string;
  readonly text: string;
}

const FIXED: Readonly<Record<string, number>> = { '93': 2, '99': 8, '63': 31, '17': 18, '29': 38, '97': 0, '35': 20 };

function checksumOf(bytes: Uint8Array): string {
  let sum = 0;
  for (const byte of bytes) sum = (sum + byte) & 0xffff;
  return ((0x10000 - sum) & 0xffff).toString(16).toUpperCase().padStart(4, '0');
}

function sipDate(date: string, time = '235900', zone = '    '): string {
  return date.replaceAll('-', '') + zone + time;
}

function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

interface Session {
  readonly id: number;
  readonly socket: net.Socket;
  loggedIn: boolean;
  last: Buffer | null;
  buffer: Buffer;
}

export class Sip2Server {
  readonly options: Required<Omit<Sip2ServerOptions, 'tls'>> & Pick<Sip2ServerOptions, 'tls'>;
  readonly patrons = new Map<string, SimPatron>();
  readonly received: ReceivedMessage[] = [];
  /** Things forny did wrong (bad checksum, message before login, missing AO…); tests expect none. */
  readonly violations: string[] = [];
  readonly faults: Sip2Fault[] = [];
  /** Answer every login with ok 0. */
  refuseLogins = false;
  /** Every answer leaves this many ms late (a slow system); a `late` fault's delay replaces it. */
  answerDelayMs = 0;
  /** Called as each message arrives, before it is answered (a test stops the system or moves forny's clock here). */
  onReceive: ((message: ReceivedMessage) => void) | null = null;
  #server: net.Server | null = null;
  #port = 0;
  readonly #sessions = new Set<Session>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #nextSession = 1;

  constructor(options: Sip2ServerOptions = {}) {
    this.options = {
      user: options.user ?? 'forny',
      password: options.password ?? 'hemmelig',
      institution: options.institution ?? 'HBK',
      encoding: options.encoding ?? 'utf8',
      checksums: options.checksums ?? true,
      pageSize: options.pageSize ?? 10,
      renewalDays: options.renewalDays ?? 14,
      today: options.today ?? '2026-11-29',
      supported: options.supported ?? 'YYYYYYYYYYYYYYYY',
      holdMessage: options.holdMessage ?? 'Reserveret af en anden låner',
      tls: options.tls,
    };
  }

  get port(): number {
    return this.#port;
  }

  addPatron(patron: SimPatron): void {
    this.patrons.set(patron.card, patron);
  }

  item(id: string): SimItem | undefined {
    for (const patron of this.patrons.values()) for (const item of patron.items) if (item.id === id) return item;
    return undefined;
  }

  /** The codes received, in order (all connections). */
  codes(): string[] {
    return this.received.map((message) => message.code);
  }

  /** Listens on a free loopback port (or the same one again after `stop`). */
  async start(): Promise<number> {
    const handler = (socket: net.Socket) => this.#accept(socket);
    const server = this.options.tls ? tls.createServer({ key: this.options.tls.key, cert: this.options.tls.cert }, handler) : net.createServer(handler);
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.#port = (server.address() as net.AddressInfo).port;
    return this.#port;
  }

  /** Stops listening and drops every connection at once (the system "goes down"). */
  async stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const session of this.#sessions) session.socket.destroy();
    this.#sessions.clear();
    const server = this.#server;
    this.#server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    const session: Session = { id: this.#nextSession++, socket, loggedIn: false, last: null, buffer: Buffer.alloc(0) };
    this.#sessions.add(session);
    socket.on('error', () => undefined);
    socket.on('close', () => this.#sessions.delete(session));
    socket.on('data', (chunk: Buffer) => {
      session.buffer = Buffer.concat([session.buffer, chunk]);
      for (let cr = session.buffer.indexOf(0x0d); cr >= 0; cr = session.buffer.indexOf(0x0d)) {
        const message = session.buffer.subarray(0, cr);
        session.buffer = session.buffer.subarray(cr + 1);
        if (message.length > 0) this.#handle(session, message);
      }
    });
  }

  #send(session: Session, bytes: Buffer, delayMs = 0): void {
    if (delayMs === 0) {
      session.socket.write(bytes);
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!session.socket.destroyed) session.socket.write(bytes);
    }, delayMs);
    this.#timers.add(timer);
  }

  /** The bytes of an answer: the text, then AY/AZ when the request carried a sequence number, then CR. */
  #frame(text: string, sequence: string | null, withChecksum: boolean): Buffer {
    const trailer = sequence === null ? '' : `AY${sequence}`;
    const body = Buffer.from(text + trailer + (withChecksum ? 'AZ' : ''), this.options.encoding);
    return Buffer.concat([body, Buffer.from(withChecksum ? `${checksumOf(body)}\r` : '\r', 'latin1')]);
  }

  #takeFault(match: (fault: Sip2Fault) => boolean): Sip2Fault | undefined {
    const index = this.faults.findIndex(match);
    return index < 0 ? undefined : this.faults.splice(index, 1)[0];
  }

  #handle(session: Session, bytes: Buffer): void {
    const code = bytes.subarray(0, 2).toString('latin1');
    let body = bytes;
    let sequence: string | null = null;
    const hasChecksum = bytes.length >= 6 && bytes.subarray(bytes.length - 6, bytes.length - 4).toString('latin1') === 'AZ';
    if (hasChecksum) {
      const sent = bytes.subarray(bytes.length - 4).toString('latin1');
      if (checksumOf(bytes.subarray(0, bytes.length - 4)) !== sent) {
        this.violations.push(`${code}: bad checksum ${sent}`);
        this.#send(session, this.#frame('96', null, true));
        return;
      }
      body = bytes.subarray(0, bytes.length - 6);
      const ay = body.subarray(body.length - 3).toString('latin1');
      if (/^AY\d$/.test(ay)) {
        sequence = ay.slice(2);
        body = body.subarray(0, body.length - 3);
      }
    } else if (this.options.checksums) {
      this.violations.push(`${code}: no checksum`);
    }
    if (this.options.checksums && code !== '97' && sequence === null) this.violations.push(`${code}: no sequence number`);
    const text = body.toString(this.options.encoding);
    const received = { connection: session.id, code, text };
    this.received.push(received);
    this.onReceive?.(received);
    if (session.socket.destroyed) return;

    if (code === '97') {
      if (this.#takeFault((f) => f.kind === 'resend' && f.on === '97')) this.#send(session, this.#frame('96', null, true));
      else if (session.last) this.#send(session, session.last);
      return;
    }
    if (code !== '93' && !session.loggedIn) {
      this.violations.push(`${code} before a successful login`);
      session.socket.destroy();
      return;
    }
    const fields = new Map<string, string>();
    for (const part of text.slice(2 + (FIXED[code] ?? 0)).split('|')) if (part.length >= 2 && !fields.has(part.slice(0, 2))) fields.set(part.slice(0, 2), part.slice(2));
    if (['63', '17', '29'].includes(code) && fields.get('AO') !== this.options.institution) {
      this.violations.push(`${code}: AO ${JSON.stringify(fields.get('AO'))}, expected ${this.options.institution}`);
    }

    const fault = this.#takeFault((f) => (f.kind === 'loseRenewAnswer' ? code === '29' && (f.item === undefined || f.item === fields.get('AB')) : f.on === code));
    if (fault?.kind === 'drop') {
      session.socket.destroy();
      return;
    }
    if (fault?.kind === 'resend') {
      this.#send(session, this.#frame('96', null, true));
      return;
    }
    const answer = this.#answer(session, code, text, fields);
    if (answer === null) {
      this.violations.push(`${code}: not a message this system serves`);
      session.socket.destroy();
      return;
    }
    if (fault?.kind === 'loseRenewAnswer') {
      session.socket.destroy(); // the renewal above is applied; its answer is lost
      return;
    }
    const frame = this.#frame(answer, sequence, hasChecksum);
    session.last = frame;
    if (fault?.kind === 'badChecksum' && hasChecksum) {
      const broken = Buffer.from(frame);
      // Change one checksum digit: the answer is intact but its AZ no longer adds up.
      const at = broken.length - 2;
      broken[at] = broken[at] === 0x30 ? 0x31 : 0x30;
      this.#send(session, broken);
      return;
    }
    this.#send(session, frame, fault?.kind === 'late' ? fault.ms : this.answerDelayMs);
  }

  #now(): string {
    return sipDate(this.options.today, '120000');
  }

  #answer(session: Session, code: string, text: string, fields: Map<string, string>): string | null {
    const inst = `AO${this.options.institution}|`;
    switch (code) {
      case '93': {
        const ok = !this.refuseLogins && fields.get('CN') === this.options.user && fields.get('CO') === this.options.password;
        session.loggedIn = ok;
        return `94${ok ? '1' : '0'}`;
      }
      case '99':
        return `98YYYYNN010003${this.#now()}2.00${inst}AMHelsingør Bibliotekssystem|BX${this.options.supported}|`;
      case '63': {
        const patron = this.patrons.get(fields.get('AA') ?? '');
        const wantsCharged = text[2 + 3 + 18 + 2] === 'Y';
        const fixedHead = `64${' '.repeat(14)}000${this.#now()}`;
        if (!patron || patron.valid === false) {
          return `${fixedHead}${'0000'.repeat(6)}${inst}AA${fields.get('AA') ?? ''}|AE|BLN|`;
        }
        const charged = patron.items.length;
        let list = '';
        if (wantsCharged) {
          const start = Math.max(1, Number(fields.get('BP') ?? '1'));
          const end = Math.min(charged, Number(fields.get('BQ') ?? String(charged)), start + this.options.pageSize - 1);
          for (let i = start; i <= end; i++) list += `AU${patron.items[i - 1]!.id}|`;
        }
        const count = String(charged).padStart(4, '0');
        return `${fixedHead}0000${'0000'}${count}000000000000${inst}AA${patron.card}|AE${patron.name}|BLY|${list}`;
      }
      case '17': {
        const item = this.item(fields.get('AB') ?? '');
        if (!item) return `18010001${this.#now()}AB${fields.get('AB') ?? ''}|AJ|AFUkendt eksemplar|`;
        return `18040001${this.#now()}${inst}AB${item.id}|AJ${item.title}|AH${sipDate(item.dueDate)}|`;
      }
      case '29': {
        const patron = this.patrons.get(fields.get('AA') ?? '');
        const item = patron?.items.find((candidate) => candidate.id === fields.get('AB'));
        const head = (ok: boolean) => `30${ok ? '1Y' : '0N'}UN${this.#now()}${inst}AA${fields.get('AA') ?? ''}|AB${fields.get('AB') ?? ''}|`;
        if (!patron || !item) return `${head(false)}AJ|AFEksemplaret er ikke udlånt til låneren|`;
        if (item.onHold) return `${head(false)}AJ${item.title}|AF${this.options.holdMessage}|`;
        if (item.renewals >= item.maxRenewals) return `${head(false)}AJ${item.title}|AH${sipDate(item.dueDate)}|AFMaksimalt antal fornyelser er nået|`;
        const from = item.dueDate > this.options.today ? item.dueDate : this.options.today;
        item.dueDate = addDays(from, this.options.renewalDays);
        item.renewals += 1;
        return `${head(true)}AJ${item.title}|AH${sipDate(item.dueDate)}|`;
      }
      default:
        return null;
    }
  }
}

/** A throw-away self-signed certificate for localhost/127.0.0.1, made with openssl in a temp dir. */
export function selfSignedCertificate(): { key: string; cert: string; certPath: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'forny-sip2-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), certPath, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
