import type { Request } from 'express';
import { patronNamesByMobile } from '../../../db/repositories/dashboard-queries.js';
import { listMessages, type LoggedMessage } from '../../../db/repositories/message-log.js';
import type { Deps } from '../../deps.js';
import { normalisePhoneNumber } from '../../domain/phone-number.js';
import { messageFilter } from '../api.js';
import { showInstant, showParty } from './display.js';
import { html, type Html } from './html.js';
import { DIRECTION_TEXT, KIND_TEXT, STATUS_TEXT } from './labels.js';
import { layout } from './layout.js';
import { messagePurpose, messageState, shortBody } from './message-row.js';
import { conversationHref, pager, partyLink, type PatronNames } from './parts.js';
import { EVERY_LIBRARY, libraryTag, type LibraryView } from './library-view.js';

const PAGE_SIZE = 50;

/** A number as an operator types it (`61 00 00 01`) in the form the messages are stored in. */
export const normaliseParty = (party: string): string => normalisePhoneNumber(party) ?? party.trim();

function select(name: string, chosen: string | undefined, options: Readonly<Record<string, string>>): Html {
  return html`<select name="${name}" id="filter-${name}">
<option value="">alle</option>
${Object.entries(options).map(([value, text]) => html`<option value="${value}"${value === chosen ? html` selected` : ''}>${text}</option>`)}
</select>`;
}

/** One message; the patron's end links to the conversation (forny's own sender would list everything). */
function row(message: LoggedMessage, zone: string, names: PatronNames, view: LibraryView): Html {
  const renewAll = message.direction === 'in' && message.purpose === 'renew-all' && message.providerSid;
  // data-label: on a phone each row becomes a card, and the cells name themselves (admin.css).
  return html`<tr class="${message.direction}">
<td data-label="Tid">${showInstant(message.createdAt, zone)}${libraryTag(view, message.libraryId)}</td>
<td data-label="Retning">${DIRECTION_TEXT[message.direction]}</td>
<td data-label="Fra">${message.direction === 'in' ? partyLink(message.from, names) : message.from}</td>
<td data-label="Til">${message.direction === 'out' ? partyLink(message.to, names) : message.to}</td>
<td data-label="Hvad">${messagePurpose(message)}${renewAll && html` · <a href="/admin/renewals/${encodeURIComponent(renewAll)}">fornyelser</a>`}</td>
<td data-label="Status">${messageState(message, zone)}</td>
<td data-label="Tekst" class="body">${shortBody(message.body)}</td>
</tr>`;
}

/** `/admin/messages`: the message flow, newest first, filtered and paged. */
export async function messagesPage(deps: Pick<Deps, 'db' | 'config' | 'clock'>, req: Request, view: LibraryView = EVERY_LIBRARY): Promise<Html> {
  const filter = { ...messageFilter(req, { limit: PAGE_SIZE }), ...(view.library === undefined ? {} : { library: view.library }) };
  const party = filter.party === undefined ? undefined : normaliseParty(filter.party);
  // One row more than shown tells whether there is a next page.
  const found = await listMessages(deps.db, { ...filter, ...(party ? { party } : {}), limit: filter.limit + 1 });
  const messages = found.slice(0, filter.limit);
  const zone = deps.config.timeZone;
  const names = await patronNamesByMobile(
    deps.db,
    messages.map((message) => (message.direction === 'in' ? message.from : message.to)),
    view.library,
  );
  const kept = { library: view.ownLibraryOnly ? undefined : view.library, number: filter.party, direction: filter.direction, channel: filter.channel, to: filter.to, kind: filter.kind, status: filter.status };
  const query = new URLSearchParams(Object.entries(kept).filter((entry): entry is [string, string] => entry[1] !== undefined));
  if (filter.limit !== PAGE_SIZE) query.set('limit', String(filter.limit));

  const body = html`<form class="filters" method="get" action="/admin/messages">
<label for="filter-number">Nummer eller e-mail</label>
<input type="search" name="number" id="filter-number" value="${filter.party}" placeholder="+4520000001">
${kept.library !== undefined && html`<input type="hidden" name="library" value="${kept.library}">`}
<label for="filter-direction">Retning</label>
${select('direction', filter.direction, DIRECTION_TEXT)}
<label for="filter-kind">Type</label>
${select('kind', filter.kind, KIND_TEXT)}
<label for="filter-status">Status</label>
${select('status', filter.status, STATUS_TEXT)}
<button type="submit">Søg</button>
</form>
${party && html`<p>Se <a href="${conversationHref(party)}">hele samtalen med ${showParty(party)}</a>, i rækkefølge med fornyelser og svar.</p>`}
${
  messages.length === 0
    ? html`<p class="muted">Ingen beskeder passer på søgningen.</p>`
    : html`<table class="messages cards-on-phone">
<thead><tr><th>Tid</th><th>Retning</th><th>Fra</th><th>Til</th><th>Hvad</th><th>Status</th><th>Tekst</th></tr></thead>
<tbody>
${messages.map((message) => row(message, zone, names, view))}
</tbody>
</table>`
}
${pager('/admin/messages', query, { limit: filter.limit, offset: filter.offset, hasNext: found.length > filter.limit })}`;
  return layout({ title: 'Beskeder', section: 'messages', updated: { at: deps.clock.now(), zone }, body });
}
