import type { RenewalLine } from '../../../db/repositories/dashboard-queries.js';
import { showDate, showParty } from './display.js';
import { html, type Html } from './html.js';
import { label, QUEUE_TEXT, REASON_TEXT, STATUS_TEXT } from './labels.js';

/** Pieces of markup more than one page uses. */

/** Where a number's (or address's) conversation is shown. */
export const conversationHref = (party: string): string => `/admin/conversations/${encodeURIComponent(party)}`;

/** Patrons' names by their numbers, where known (see patronNamesByMobile). */
export type PatronNames = ReadonlyMap<string, string>;

/** A number, grouped for reading and linked to its conversation, with the patron's name when known. */
export const partyLink = (party: string, names?: PatronNames): Html => {
  const name = names?.get(party);
  return html`<a class="party" href="${conversationHref(party)}">${showParty(party)}</a>${name && html` <span class="muted">${name}</span>`}`;
};

/** A status as a coloured tag; the class is the stored code, the text Danish. */
export const statusTag = (status: string): Html => html`<span class="tag tag-${status}">${label(STATUS_TEXT, status)}</span>`;

/**
 * A queue as operators read it: its Danish name (a link to it in Bull Board when `href` is given),
 * and beneath it, small, the technical name the log, Bull Board and the metrics use.
 */
export const queueName = (queue: string, href?: string): Html => {
  const text = label(QUEUE_TEXT, queue);
  return html`${href ? html`<a href="${href}" title="Køen ${queue} i Bull Board">${text}</a>` : text} <code class="queue-name" translate="no">${queue}</code>`;
};

/** Text in another language or for specialists (a provider's error, a job's stack): folded away. */
export const details = (text: string): Html => html`<details class="details"><summary>vis detaljer</summary><span class="detail-text">${text}</span></details>`;

/** "Forrige" and "Næste" for a list read with limit and offset; the other query parameters are kept. */
export function pager(path: string, query: URLSearchParams, page: { limit: number; offset: number; hasNext: boolean }): Html {
  const at = (offset: number) => {
    const params = new URLSearchParams(query);
    params.delete('offset');
    if (offset > 0) params.set('offset', String(offset));
    const search = params.toString();
    return search ? `${path}?${search}` : path;
  };
  const previous = page.offset > 0 && html`<a rel="prev" href="${at(Math.max(0, page.offset - page.limit))}">← Forrige</a>`;
  const next = page.hasNext && html`<a rel="next" href="${at(page.offset + page.limit)}">Næste →</a>`;
  return previous || next ? html`<nav class="pager" aria-label="Sider">${previous}${next}</nav>` : html``;
}

const outcomeText = (line: RenewalLine) => (line.outcome === 'refused' ? 'ikke fornyet' : line.provisional ? 'fornyet med forbehold' : 'fornyet');

/** What one renew-all did to each loan, with the reason in the words the library uses. */
export function renewalTable(lines: readonly RenewalLine[]): Html {
  if (lines.length === 0) return html`<p class="muted">Ingen aktive lån blev vurderet.</p>`;
  // On a phone each loan is a card: its title first, then each date, the outcome and the reason named.
  return html`<table class="renewals cards-on-phone">
<thead><tr><th>Titel</th><th>Afleveringsfrist før</th><th>Ny afleveringsfrist</th><th>Resultat</th><th>Begrundelse</th></tr></thead>
<tbody>
${lines.map(
  (line) => html`<tr class="${line.outcome}">
<td>${line.title}${line.loanKind === 'ill' ? html` <span class="muted">(fjernlån)</span>` : ''}</td>
<td data-label="Afleveringsfrist før">${showDate(line.oldDueDate)}</td>
<td data-label="Ny afleveringsfrist">${showDate(line.newDueDate)}</td>
<td data-label="Resultat">${outcomeText(line)}</td>
<td data-label="Begrundelse">${line.reason && label(REASON_TEXT, line.reason)}${line.systemMessage && html` <span class="system-message">(${line.systemMessage})</span>`}</td>
</tr>`,
)}
</tbody>
</table>`;
}
