import type { InboundMessage } from '../../db/repositories/inbound.js';
import { findPatronsByMobile, type Patron } from '../../db/repositories/library.js';
import type { Db } from '../../db/repositories/values.js';
import type { Libraries, Library } from '../libraries.js';

/**
 * Whose a patron's message is (SPEC §12). A message addressed with a library's keyword (or any
 * message, with one library) is that library's, with that library's cards for the number. One
 * without a keyword goes to the library whose directory holds the number when exactly one does.
 */
export type Route =
  /** The library, and its cards for the number (none: its unknown-number answer). */
  | { readonly to: 'library'; readonly library: Library; readonly patrons: readonly Patron[] }
  /** No keyword, and several directories hold the number: the gateway asks which library. */
  | { readonly to: 'several'; readonly libraries: readonly Library[] }
  /** No keyword, and no directory holds the number: the gateway's unknown-number answer. */
  | { readonly to: 'nobody' };

export async function routeInbound(db: Db, libraries: Libraries, inbound: Pick<InboundMessage, 'libraryId' | 'fromNumber'>): Promise<Route> {
  const addressed = libraries.find(inbound.libraryId);
  if (addressed) return { to: 'library', library: addressed, patrons: await findPatronsByMobile(db, inbound.fromNumber, addressed.id) };
  const patrons = await findPatronsByMobile(db, inbound.fromNumber);
  // In the configuration's order, whatever order the directory rows came in: the question names them alike every time.
  const holdingIds = new Set(patrons.map((patron) => patron.libraryId));
  const holding = libraries.all.filter((library) => holdingIds.has(library.id));
  const [only] = holding;
  if (holding.length === 1 && only) return { to: 'library', library: only, patrons: patrons.filter((patron) => patron.libraryId === only.id) };
  if (holding.length > 1) return { to: 'several', libraries: holding };
  return { to: 'nobody' };
}
