import type { Request, Response } from 'express';
import type { Deps } from '../../deps.js';
import { libraryFilter, scopeOf } from '../operator-scope.js';
import { html, type Html } from './html.js';

/**
 * What one dashboard page shows of the libraries (SPEC §12): the rows of `library` only (a library
 * operator's own, or the gateway operator's `?library=`; undefined: every library's), and, for the
 * gateway's operator of several libraries, the library of each row.
 */
export interface LibraryView {
  readonly library: string | undefined;
  /** A library's operator: their library's own, and nothing of the gateway's as a whole. */
  readonly ownLibraryOnly: boolean;
  readonly showLibrary: boolean;
  /** The name a row's library is shown by (null: the gateway's own message). */
  nameOf(libraryId: string | null): string;
}

export function libraryView(req: Request, res: Response, deps: Pick<Deps, 'libraries'>): LibraryView {
  const library = libraryFilter(req, res, deps);
  const ownLibraryOnly = scopeOf(res).library !== undefined;
  return {
    library,
    ownLibraryOnly,
    showLibrary: !ownLibraryOnly && deps.libraries.several,
    nameOf: (id) => (id === null ? 'fælles (intet bibliotek)' : (deps.libraries.find(id)?.settings.name ?? id)),
  };
}

/** Every library's rows, for code that renders a page with no request (and the gateway's operator). */
export const EVERY_LIBRARY: LibraryView = { library: undefined, ownLibraryOnly: false, showLibrary: false, nameOf: (id) => id ?? '' };

/** The library of a row, as a small tag after the row's first cell; nothing when the view needs none. */
export const libraryTag = (view: LibraryView, libraryId: string | null): Html | '' =>
  view.showLibrary ? html` <span class="library muted" data-library="${libraryId ?? ''}">${view.nameOf(libraryId)}</span>` : '';

/** The `?library=` a link keeps, so the gateway's filter survives paging and the filter forms. */
export const libraryQuery = (view: LibraryView): string => (view.library !== undefined && !view.ownLibraryOnly ? `library=${encodeURIComponent(view.library)}` : '');
