import { relative, isAbsolute } from 'node:path';
import { describeLibrarySystemSettings } from './library/system-url.js';
import { dialectOf, sqliteFilename } from '../db/knexfile.js';
import type { Config, LibrarySettings } from './config.js';

/**
 * The lines a process prints at start, one per thing it runs, so an operator sees at once what this
 * process talks to. Never a password or token: addresses are rebuilt from host, port and user only.
 */

/** `sqlite:./data/forny.sqlite` → `SQLite ./data/forny.sqlite`; `postgres://u:p@h:5432/db` → `PostgreSQL u@h:5432/db`. */
export function describeDatabase(databaseUrl: string): string {
  if (dialectOf(databaseUrl) === 'sqlite') {
    const file = sqliteFilename(databaseUrl);
    if (file === ':memory:') return 'SQLite in memory';
    const shown = relative(process.cwd(), file);
    return `SQLite ${shown.startsWith('..') || isAbsolute(shown) ? file : `./${shown}`}`;
  }
  return `PostgreSQL ${addressOf(databaseUrl, 5432)}`;
}

/** `user@host:port/path` of a URL, without its password (or `host:port` when it has no user). */
export function addressOf(url: string, defaultPort: number): string {
  try {
    const parsed = new URL(url);
    const user = parsed.username ? `${decodeURIComponent(parsed.username)}@` : '';
    const path = parsed.pathname.length > 1 ? parsed.pathname : '';
    return `${user}${parsed.hostname}:${parsed.port || defaultPort}${path}`;
  } catch {
    return '(unreadable address)';
  }
}

/** The library system one library renews in, and why: embedded, or its system's kind and address (never the password). */
export function describeLibrarySystem(config: Config, library: LibrarySettings): string {
  const why = config.librariesFile ? `its systemUrl in ${config.librariesFile}` : 'LIBRARY_SYSTEM_URL';
  if (library.system.kind === 'embedded') return `${describeLibrarySystemSettings(library.system)} because ${why} is unset`;
  return `${describeLibrarySystemSettings(library.system)} because ${why} is set`;
}

/** One line per library (SPEC §12): id, keywords, library system. */
export function libraryLines(config: Config): string[] {
  if (!config.librariesFile) return [`  Library system: ${describeLibrarySystem(config, config.libraries[0] ?? fail())}`];
  return [
    `  Libraries:      ${config.libraries.length} from ${config.librariesFile} (gateway "${config.gatewayName}")`,
    ...config.libraries.map((library) => `    ${library.id}: ${library.name}, keywords ${library.keywords.join(', ')}; ${describeLibrarySystem(config, library)}`),
  ];
}

function fail(): never {
  throw new Error('no library configured');
}

export interface StartupFacts {
  /** What this process runs: `web and workers`, `web`, `workers`. */
  readonly roles: string;
  /** The address it listens on, when it serves HTTP. */
  readonly url: string | undefined;
  /** True when forny started its own redis-server for this run. */
  readonly privateRedis: boolean;
}

export function startupLines(config: Config, facts: StartupFacts): string[] {
  const redis = `${addressOf(config.redisUrl, 6379)}, queue prefix "${config.queuePrefix}"${facts.privateRedis ? ' (a private redis-server started for this run, data in ./data/redis)' : ''}`;
  const lines = [
    `forny is running (${facts.roles}).`,
    ...(facts.url ? [`  HTTP:           ${facts.url} (Twilio webhook ${config.publicBaseUrl}/sms/inbound)`] : []),
    `  Database:       ${describeDatabase(config.databaseUrl)}`,
    `  Redis:          ${redis}`,
    `  SMS:            ${config.sms.transportReason}`,
    `  E-mail:         ${config.mail.transportReason}`,
    ...libraryLines(config),
  ];
  if (config.fakeNow) lines.push(`  Clock:          starts at ${config.fakeNow.toISOString()} (FAKE_NOW)`);
  return lines;
}
