import { recentRenewAlls, renewalLines, type RenewAllSummary } from '../../../db/repositories/dashboard-queries.js';
import { getInboundBySid } from '../../../db/repositories/inbound.js';
import { getPatron } from '../../../db/repositories/library.js';
import { getOutbound, type OutboundMessage } from '../../../db/repositories/outbound.js';
import { isUnfinished } from '../../domain/message-status.js';
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors.js';
import { showInstant, showParty } from './display.js';
import { html, type Html } from './html.js';
import { IGNORED_TEXT, label } from './labels.js';
import { layout } from './layout.js';
import { pager, partyLink, renewalTable, statusTag } from './parts.js';

const PAGE_SIZE = 50;

const renewalHref = (messageSid: string) => `/admin/renewals/${encodeURIComponent(messageSid)}`;

function result(summary: RenewAllSummary): string {
  if (summary.status === 'ignored') return `ikke behandlet: ${label(IGNORED_TEXT, summary.ignoredReason)}`;
  if (summary.status === 'received') return 'venter på behandling';
  return summary.loans === 0 ? 'ingen aktive lån' : `${summary.renewed} af ${summary.loans} lån fornyet`;
}

/** `/admin/renewals`: the latest renew-alls, newest first. */
export async function renewalsPage(deps: Pick<Deps, 'db' | 'config' | 'clock'>, offset: number): Promise<Html> {
  const found = await recentRenewAlls(deps.db, { limit: PAGE_SIZE + 1, offset });
  const summaries = found.slice(0, PAGE_SIZE);
  const zone = deps.config.timeZone;
  const body = html`${
    summaries.length === 0
      ? html`<p class="muted">Ingen FORNY ALLE endnu.</p>`
      : html`<table>
<thead><tr><th>Modtaget</th><th>Fra</th><th>Låner</th><th>Resultat</th><th>Svar</th><th></th></tr></thead>
<tbody>
${summaries.map(
  (summary) => html`<tr>
<td>${showInstant(summary.receivedAt, zone)}</td>
<td>${partyLink(summary.from)}</td>
<td>${summary.patronName}</td>
<td>${result(summary)}</td>
<td>${summary.replyStatus && statusTag(summary.replyStatus)}</td>
<td><a href="${renewalHref(summary.messageSid)}">Vis lånene</a></td>
</tr>`,
)}
</tbody>
</table>`
  }
${pager('/admin/renewals', new URLSearchParams(), { limit: PAGE_SIZE, offset, hasNext: found.length > PAGE_SIZE })}`;
  return layout({ title: 'Fornyelser', section: 'renewals', updated: { at: deps.clock.now(), zone }, body });
}

function replyTime(reply: OutboundMessage, zone: string): string {
  if (reply.sentAt) return `sendt ${showInstant(reply.sentAt, zone)}`;
  return isUnfinished(reply.status) ? `sendes ${showInstant(reply.sendAfter, zone)}` : '';
}

/** `/admin/renewals/:messageSid`: one renew-all, loan by loan, and the reply it got. */
export async function renewalPage(deps: Pick<Deps, 'db' | 'config' | 'clock'>, messageSid: string): Promise<Html> {
  const inbound = await getInboundBySid(deps.db, messageSid);
  if (!inbound || inbound.command !== 'renew-all') throw new AppError('not_found', 404, `Ingen FORNY ALLE med MessageSid ${messageSid}.`);
  const [lines, patron, reply] = await Promise.all([
    renewalLines(deps.db, [inbound.id]),
    inbound.patronId === null ? undefined : getPatron(deps.db, inbound.patronId),
    inbound.replyId === null ? undefined : getOutbound(deps.db, inbound.replyId),
  ]);
  const zone = deps.config.timeZone;
  const renewed = lines.filter((line) => line.outcome === 'renewed').length;

  const body = html`<dl class="facts">
<dt>Modtaget</dt><dd>${showInstant(inbound.receivedAt, zone)}</dd>
<dt>Fra</dt><dd>${partyLink(inbound.fromNumber)}${patron && html` (${patron.name})`}</dd>
<dt>Tekst</dt><dd class="body">${inbound.body}</dd>
<dt>Status</dt><dd>${statusTag(inbound.status)}${inbound.ignoredReason && html` <span class="muted">${label(IGNORED_TEXT, inbound.ignoredReason)}</span>`}</dd>
<dt>Resultat</dt><dd>${lines.length === 0 ? 'ingen lån vurderet' : `${renewed} af ${lines.length} lån fornyet`}</dd>
</dl>
<h2>Lånene</h2>
${renewalTable(lines)}
<h2>Svaret</h2>
${
  reply
    ? html`<p class="body">${reply.body}</p>
<p>${statusTag(reply.status)} <span class="muted">${replyTime(reply, zone)}</span></p>`
    : html`<p class="muted">Intet svar skrevet.</p>`
}`;
  return layout({ title: `FORNY ALLE fra ${showParty(inbound.fromNumber)}`, section: 'renewals', updated: { at: deps.clock.now(), zone }, body });
}
