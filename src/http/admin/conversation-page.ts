import { renewalLines, type RenewalLine } from '../../../db/repositories/dashboard-queries.js';
import { findPatronsByMobile } from '../../../db/repositories/library.js';
import { listMessages, type LoggedMessage } from '../../../db/repositories/message-log.js';
import type { Deps } from '../../deps.js';
import { showInstant, showParty } from './display.js';
import { html, type Html } from './html.js';
import { layout } from './layout.js';
import { messagePurpose, messageState } from './message-row.js';
import { renewalTable } from './parts.js';
import { AppError } from '../../errors.js';
import { EVERY_LIBRARY, libraryTag, type LibraryView } from './library-view.js';

/** Messages shown at most; a patron's whole history is rarely what a desk call is about. */
const SHOWN = 200;

function entry(message: LoggedMessage, zone: string, lines: readonly RenewalLine[], view: LibraryView): Html {
  const renewAll = message.direction === 'in' && message.purpose === 'renew-all';
  return html`<article class="message ${message.direction}">
<header>
<span class="arrow">${message.direction === 'in' ? '→ til forny' : '← fra forny'}</span>
<time>${showInstant(message.createdAt, zone)}</time>${libraryTag(view, message.libraryId)}
<span>${messagePurpose(message)}</span>
${messageState(message, zone)}
</header>
<p class="body">${message.body}</p>
${
  renewAll &&
  html`<section class="renewal" aria-label="Fornyelser">
${(message.status === 'processed' || lines.length > 0) && renewalTable(lines)}
${message.providerSid && html`<p><a href="/admin/renewals/${encodeURIComponent(message.providerSid)}">Åbn fornyelsen</a></p>`}
</section>`
}
</article>`;
}

/** `/admin/conversations/:number`: what a patron wrote and what forny did and answered, in order. */
export async function conversationPage(deps: Pick<Deps, 'db' | 'config' | 'clock'>, party: string, view: LibraryView = EVERY_LIBRARY): Promise<Html> {
  const newestFirst = await listMessages(deps.db, { party, limit: SHOWN, offset: 0, ...(view.library === undefined ? {} : { library: view.library }) });
  const messages = [...newestFirst].reverse();
  const renewAllIds = messages.filter((message) => message.direction === 'in' && message.purpose === 'renew-all').map((message) => message.id);
  const [lines, patrons] = await Promise.all([renewalLines(deps.db, renewAllIds), findPatronsByMobile(deps.db, party, view.library)]);
  // A number another library's only, for a library's operator: no such conversation (SPEC §12).
  if (view.ownLibraryOnly && messages.length === 0 && patrons.length === 0) throw new AppError('not_found', 404, `Ingen samtale med ${showParty(party)}.`);
  const zone = deps.config.timeZone;

  const body = html`${patrons.length > 0 && html`<p>Låner: ${patrons.map((patron) => patron.name).join(', ')}</p>`}
${newestFirst.length === SHOWN && html`<p class="muted">Viser de seneste ${SHOWN} beskeder. Ældre findes under <a href="/admin/messages?number=${encodeURIComponent(party)}">Beskeder</a>.</p>`}
${
  messages.length === 0
    ? html`<p class="muted">Ingen beskeder til eller fra ${showParty(party)}.</p>`
    : messages.map((message) =>
        entry(
          message,
          zone,
          lines.filter((line) => message.direction === 'in' && line.inboundId === message.id),
          view,
        ),
      )
}`;
  return layout({ title: `Samtale med ${showParty(party)}`, section: 'messages', updated: { at: deps.clock.now(), zone }, body });
}
