import type { Knex } from 'knex';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { createEmbeddedLibrarySystem } from './embedded.js';
import { createFbsLibrarySystem } from './fbs/adapter.js';
import type { LibrarySystem } from './library-system.js';
import { createSip2LibrarySystem } from './sip2/adapter.js';
import type { LibrarySystemSettings } from './system-url.js';

/** The adapter for a library's system (SPEC §10, §13); each library gets its own, with its own pool or session, concurrency and retry. */
export function createLibrarySystem(
  system: LibrarySystemSettings,
  deps: { db: Knex; clock: Clock; logger: Logger; timeZone: string },
): LibrarySystem {
  if (system.kind === 'embedded') return createEmbeddedLibrarySystem({ timeZone: deps.timeZone });
  if (system.kind === 'fbs') return createFbsLibrarySystem(system.fbs, deps);
  return createSip2LibrarySystem(system.sip2, deps);
}
