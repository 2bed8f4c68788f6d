/**
 * The library system cannot be asked right now (unreachable, login refused, no answer in time).
 * Nothing was decided: the caller keeps the request and retries with backoff (SPEC §10). The
 * message names the system and why, never a password.
 */
export class LibrarySystemUnavailable extends Error {
  override readonly name = 'LibrarySystemUnavailable';
}
