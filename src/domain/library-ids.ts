/** The id of the one library a single-library install serves (SPEC §12). */
export const DEFAULT_LIBRARY_ID = 'default';

/*
 * A library's own ids (patrons, titles, items, loans, reservations, notices) are primary keys shared
 * by every library in one database (SPEC §12). Two libraries may both have a `p1`, so a library
 * other than `default` stores its ids as `LIBRARY:ID`; `default` stores them as they are, so a
 * database written before there were several libraries keeps every id and reference. Everything
 * shown to people and systems (the API, the pages, the fixture format) uses the library's own id.
 */

/** The primary key a library's own id is stored under. */
export function storedId(libraryId: string, id: string): string {
  return libraryId === DEFAULT_LIBRARY_ID ? id : `${libraryId}:${id}`;
}

/** The library's own id of a stored key (the inverse of storedId for that library). */
export function ownId(libraryId: string, stored: string): string {
  if (libraryId === DEFAULT_LIBRARY_ID) return stored;
  const prefix = `${libraryId}:`;
  return stored.startsWith(prefix) ? stored.slice(prefix.length) : stored;
}
