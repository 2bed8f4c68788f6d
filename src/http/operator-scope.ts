import type { Request, Response } from 'express';
import type { Deps } from '../deps.js';
import { ownId, storedId } from '../domain/library-ids.js';
import { AppError } from '../errors.js';
import type { Library } from '../libraries.js';

/*
 * SPEC §12 "Nobody sees what is not theirs": who the logged-in operator is decides what they see.
 * A library's operator sees that library only: another library's rows are 404 exactly as if they
 * did not exist, and lists hold only theirs. The gateway's operator (ADMIN_USER) sees everything,
 * may narrow lists with `?library=ID`, and is shown the library of each row.
 */

/** What an operator may see: one library, or (library undefined) the gateway's everything. */
export type OperatorScope = { readonly library: Library } | { readonly library: undefined };

export const GATEWAY_SCOPE: OperatorScope = Object.freeze({ library: undefined });

/** The scope basic auth put on the request (the gateway's when none was put: the app's own tests mount routers bare). */
export function scopeOf(res: Response): OperatorScope {
  const scope = res.locals.scope as OperatorScope | undefined;
  return scope ?? GATEWAY_SCOPE;
}

/** True for an operator of one library only. */
export const isLibraryOperator = (res: Response): boolean => scopeOf(res).library !== undefined;

/** 403 for a library's operator: what belongs to the whole gateway (Bull Board, every queue, metrics). */
export function requireGateway(res: Response, what: string): void {
  if (isLibraryOperator(res)) throw new AppError('forbidden', 403, `${what} is for the gateway's operator only`);
}

/**
 * The library a list is narrowed to: a library's operator's own (asking for another library is
 * answered as for an unknown one); the gateway's `?library=ID`, or undefined for all. An unknown
 * id is 400 naming it.
 */
export function libraryFilter(req: Request, res: Response, deps: Pick<Deps, 'libraries'>): string | undefined {
  const scope = scopeOf(res);
  const asked = req.query.library;
  if (asked !== undefined && asked !== '' && typeof asked !== 'string') throw new AppError('invalid_query', 400, 'query parameter library must appear once');
  const wanted = typeof asked === 'string' && asked !== '' ? asked : undefined;
  if (scope.library) {
    if (wanted !== undefined && wanted !== scope.library.id) throw unknownLibrary(wanted);
    return scope.library.id;
  }
  if (wanted === undefined) return undefined;
  if (!deps.libraries.find(wanted)) throw unknownLibrary(wanted);
  return wanted;
}

const unknownLibrary = (id: string) => new AppError('invalid_query', 400, `query parameter library: no library ${JSON.stringify(id.slice(0, 40))}`);

/**
 * The stored key of a library id given in a path (a patron's, a loan's): a library's operator
 * gives their library's own ids; the gateway's operator gives a stored id (`frb:p1`), or the
 * library's own id with `?library=ID`.
 */
export function storedIdOf(req: Request, res: Response, deps: Pick<Deps, 'libraries'>, id: string): string {
  const library = libraryFilter(req, res, deps);
  return library === undefined ? id : storedId(library, id);
}

/** True when a row of `libraryId` (null: the gateway's own message) is the operator's to see. */
export function maySee(res: Response, libraryId: string | null | undefined): boolean {
  const scope = scopeOf(res);
  return scope.library === undefined || scope.library.id === libraryId;
}

/** A library id as people see it: the library's own (ownId); untouched for a row of no library. */
export const shownId = (libraryId: string | null | undefined, stored: string): string => (libraryId ? ownId(libraryId, stored) : stored);

/** A stored id shown, or null. */
export const shownIdOrNull = (libraryId: string | null | undefined, stored: string | null): string | null => (stored === null ? null : shownId(libraryId, stored));
