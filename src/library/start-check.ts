import type { Logger } from '../logger.js';
import { describeFbs, type FbsOptions } from './fbs/url.js';
import type { LibrarySystem, LibrarySystemDown } from './library-system.js';
import { describeSip2, type Sip2Options } from './sip2/url.js';
import type { LibrarySystemSettings } from './system-url.js';

/** What `check()` says: the system answers, or how it is down and its own reason. */
export type LibraryState = Awaited<ReturnType<LibrarySystem['check']>>;

/** Where the system is, as the lines name it: never the password. A SIP2 system's options, or FBS's (they carry `agency`). */
export type LibraryWhere = Pick<Sip2Options, 'tls' | 'host' | 'port' | 'user'> | Pick<FbsOptions, 'tls' | 'host' | 'port' | 'user' | 'basePath' | 'agency'>;

/** What checkAtStart names for a library's system; undefined for the embedded one (nothing to reach). */
export function startCheckWhere(settings: LibrarySystemSettings): LibraryWhere | undefined {
  if (settings.kind === 'sip2') return settings.sip2;
  if (settings.kind === 'fbs') return settings.fbs;
  return undefined;
}

const isFbs = (where: LibraryWhere): where is Pick<FbsOptions, 'tls' | 'host' | 'port' | 'user' | 'basePath' | 'agency'> => 'agency' in where;

/**
 * Tries between checks while the system refuses or does not answer. Each try is a login at most
 * (the pool spaces real attempts out by its own backoff); kept slow because a system may lock an
 * account after a few refused logins, and the renewals waiting retry on their own meanwhile.
 */
export const START_CHECK_RETRY_MS = 30_000;

export interface StartCheck {
  /** Ends the retries (at shutdown, before the library system closes). */
  stop(): void;
  /** Settles when the system has answered, or the check was stopped. */
  readonly settled: Promise<void>;
}

/**
 * Tries the library system at start (for SIP2: connect, log in, SC Status; for FBS: log in) and says in one log
 * line what it found, so an operator sees a refused login or a system not answering in the
 * start-up output and not only in /readyz. While it is down the check tries again and writes a
 * line only when how it is down changes, and one more when it answers; then it stops (the jobs,
 * /readyz and the dashboard ask from then on). Nothing waits for it: forny runs meanwhile, and
 * renewals wait and retry as they always do.
 */
export function checkAtStart(library: LibrarySystem, where: LibraryWhere, logger: Logger, options: { readonly retryMs?: number } = {}): StartCheck {
  const retryMs = options.retryMs ?? START_CHECK_RETRY_MS;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: () => void = () => undefined;
  let previous: LibraryState | undefined;

  const run = async () => {
    while (!stopped) {
      const state = await library.check().catch((error: unknown): LibraryState => ({ ok: false, down: 'failing', reason: String((error as Error)?.message ?? error) }));
      if (stopped) return;
      if (previous === undefined || state.ok || previous.ok || state.down !== previous.down) {
        const { level, line } = libraryStateLine(where, state, previous);
        logger[level](state.ok ? {} : { down: state.down, reason: state.reason }, line);
      }
      if (state.ok) return;
      previous = state;
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, retryMs);
        timer.unref();
      });
    }
  };
  const settled = run();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      wake();
    },
    settled,
  };
}

/** `sip2 host:port, user forny` or `fbs host/rest, agency DK-761500, user forny`: enough to find the account, nothing more. */
function named(where: LibraryWhere): string {
  if (isFbs(where)) {
    const address = describeFbs(where);
    return `${where.tls ? 'fbs' : 'fbs+http'} ${address.slice(address.indexOf('@') + 1)}, agency ${where.agency}, user ${where.user}`;
  }
  const address = describeSip2(where);
  return `${where.tls ? 'sips2' : 'sip2'} ${address.slice(address.indexOf('@') + 1)}, user ${where.user}`;
}

/**
 * The system's own reason without the address it begins with (the line names it already) and
 * without the pool's "next attempt in" (the line is about the state, not the moment).
 */
function why(where: LibraryWhere, reason: string): string {
  const prefix = `${isFbs(where) ? describeFbs(where) : describeSip2(where)}: `;
  return (reason.startsWith(prefix) ? reason.slice(prefix.length) : reason).replace(/ \(next attempt in \d+ s\)$/, '');
}

const ADVICE: Readonly<Record<LibrarySystemDown, (where: LibraryWhere, reason: string) => string>> = {
  'login refused': (where) =>
    `forny: the library system refused forny's login (${named(where)}); renewals wait until it accepts; check LIBRARY_SYSTEM_URL's user and password`,
  'not answering': (where, reason) =>
    `forny: the library system is not answering (${named(where)}: ${why(where, reason)}); renewals wait until it answers; forny keeps trying`,
  failing: (where, reason) =>
    `forny: the library system answers but cannot serve forny (${named(where)}: ${why(where, reason)}); renewals wait until it can`,
};

/** The line for a state, at warn while the system cannot be used; `previous` tells a first answer from a return. */
export function libraryStateLine(where: LibraryWhere, state: LibraryState, previous: LibraryState | undefined): { level: 'info' | 'warn'; line: string } {
  if (!state.ok) return { level: 'warn', line: ADVICE[state.down](where, state.reason) };
  if (previous === undefined || previous.ok) return { level: 'info', line: `forny: the library system accepted forny's login (${named(where)})` };
  const what = previous.down === 'login refused' ? "accepts forny's login now" : 'answers now';
  return { level: 'info', line: `forny: the library system ${what} (${named(where)}); renewals that waited go ahead` };
}
