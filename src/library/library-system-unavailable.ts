import type { LibrarySystemDown } from './library-system.js';

/**
 * The library system cannot be asked right now (unreachable, login refused, no answer in time).
 * Nothing was decided: the caller keeps the request and retries with backoff (SPEC §10). The
 * message names the system and why, never a password; `down` says how, as operators act on it.
 */
export class LibrarySystemUnavailable extends Error {
  override readonly name = 'LibrarySystemUnavailable';

  constructor(
    message: string,
    options?: { cause?: unknown; down?: LibrarySystemDown },
  ) {
    super(message, options);
    this.down = options?.down ?? 'not answering';
  }

  readonly down: LibrarySystemDown;
}
