import { patronNamesByMobile, recentRenewAlls, renewalLines, type RenewAllSummary } from '../../../db/repositories/dashboard-queries.js';
import { getInboundBySid, type InboundMessage } from '../../../db/repositories/inbound.js';
import { getPatron } from '../../../db/repositories/library.js';
import { getOutbound, type OutboundMessage } from '../../../db/repositories/outbound.js';
import { isUnfinished } from '../../domain/message-status.js';
import type { Deps } from '../../deps.js';
import { AppError } from '../../errors.js';
import { showInstant, showParty } from './display.js';
import { html, type Html } from './html.js';
import { giveUpCause, lastJobErrors, type GiveUp } from './give-up-cause.js';
import { GIVE_UP_TEXT, IGNORED_TEXT, label, PURPOSE_TEXT } from './labels.js';
import { layout } from './layout.js';
import { details, pager, partyLink, renewalTable, statusTag } from './parts.js';
import { EVERY_LIBRARY, libraryQuery, libraryTag, type LibraryView } from './library-view.js';

const PAGE_SIZE = 50;

const renewalHref = (messageSid: string) => `/admin/renewals/${encodeURIComponent(messageSid)}`;

type RenewalsDeps = Pick<Deps, 'db' | 'config' | 'clock' | 'queues' | 'redis' | 'logger'>;

/** What a renew-all came to, in one line: the Fornyelser list's Resultat and the opened request's. */
export function renewAllResult(
  summary: Pick<RenewAllSummary, 'status' | 'ignoredReason' | 'loans' | 'renewed' | 'replyPurpose'>,
  known: { readonly giveUp: GiveUp | undefined; readonly inDirectory: boolean },
): string {
  if (summary.status === 'ignored') return `ikke behandlet: ${label(IGNORED_TEXT, summary.ignoredReason)}`;
  if (summary.status === 'received') return 'venter på behandling';
  if (summary.status === 'failed') {
    const done = summary.renewed > 0 ? `${summary.renewed} lån fornyet inden da` : 'intet fornyet';
    return `opgivet – ${known.giveUp ? GIVE_UP_TEXT[known.giveUp.cause] : label(IGNORED_TEXT, summary.ignoredReason)}; ${done}`;
  }
  // A number on no card in the directory, or a card the library system does not know (SIP2 `64` BL N).
  if (summary.replyPurpose === 'not-linked') return known.inDirectory ? 'bibliotekssystemet kender ikke lånerens kort' : 'ukendt nummer';
  return summary.loans === 0 ? 'ingen aktive lån' : `${summary.renewed} af ${summary.loans} lån fornyet`;
}

/** The reply's status, and what it was when it was not the ordinary answer (unknown number, given up). */
const replyCell = (status: string | null, purpose: string | null): Html =>
  html`${status && statusTag(status)}${purpose && purpose !== 'renew-all' && html` <span class="muted">${label(PURPOSE_TEXT, purpose)}</span>`}`;

/** Why each given-up request among these was given up, by inbound id. */
async function giveUpsOf(deps: RenewalsDeps, requests: readonly { inboundId: number; status: string; renewed: number; message: Pick<InboundMessage, 'receivedAt' | 'retriedAt' | 'processedAt' | 'giveUpCause'> }[]): Promise<Map<number, GiveUp>> {
  const failed = requests.filter((request) => request.status === 'failed');
  const errors = await lastJobErrors(deps, failed.map((request) => request.inboundId));
  return new Map(
    failed.map((request) => {
      const lastError = errors.get(request.inboundId);
      return [request.inboundId, { cause: giveUpCause(request.message, deps.config.jobs.renewAllGiveUpMs, lastError, request.renewed), lastError }];
    }),
  );
}

/** `/admin/renewals`: the latest renew-alls, newest first. */
export async function renewalsPage(deps: RenewalsDeps, offset: number, view: LibraryView = EVERY_LIBRARY): Promise<Html> {
  const found = await recentRenewAlls(deps.db, { limit: PAGE_SIZE + 1, offset, library: view.library });
  const summaries = found.slice(0, PAGE_SIZE);
  const zone = deps.config.timeZone;
  const [giveUps, directory] = await Promise.all([
    giveUpsOf(deps, summaries.map((summary) => ({ ...summary, message: summary }))),
    patronNamesByMobile(
      deps.db,
      summaries.filter((summary) => summary.replyPurpose === 'not-linked').map((summary) => summary.from),
      view.library,
    ),
  ]);
  const body = html`${
    summaries.length === 0
      ? html`<p class="muted">Ingen FORNY ALLE endnu.</p>`
      : html`<table class="cards-on-phone">
<thead><tr><th>Modtaget</th><th>Fra</th><th>Låner</th><th>Resultat</th><th>Svar</th><th></th></tr></thead>
<tbody>
${summaries.map(
  (summary) => html`<tr>
<td data-label="Modtaget">${showInstant(summary.receivedAt, zone)}${libraryTag(view, summary.libraryId)}</td>
<td data-label="Fra">${partyLink(summary.from)}</td>
<td data-label="Låner">${summary.patronName}</td>
<td data-label="Resultat">${renewAllResult(summary, { giveUp: giveUps.get(summary.inboundId), inDirectory: directory.has(summary.from) })}</td>
<td data-label="Svar">${replyCell(summary.replyStatus, summary.replyPurpose)}</td>
<td><a href="${renewalHref(summary.messageSid)}">Vis lånene</a></td>
</tr>`,
)}
</tbody>
</table>`
  }
${pager('/admin/renewals', new URLSearchParams(libraryQuery(view)), { limit: PAGE_SIZE, offset, hasNext: found.length > PAGE_SIZE })}`;
  return layout({ title: 'Fornyelser', section: 'renewals', updated: { at: deps.clock.now(), zone }, body });
}

function replyTime(reply: OutboundMessage, zone: string): string {
  if (reply.sentAt) return `sendt ${showInstant(reply.sentAt, zone)}`;
  return isUnfinished(reply.status) ? `sendes ${showInstant(reply.sendAfter, zone)}` : '';
}

/** `/admin/renewals/:messageSid`: one renew-all, loan by loan, and the reply it got. */
export async function renewalPage(deps: RenewalsDeps, messageSid: string, view: LibraryView = EVERY_LIBRARY): Promise<Html> {
  const found = await getInboundBySid(deps.db, messageSid);
  // Another library's request is answered as one that does not exist (SPEC §12).
  const inbound = found && (!view.ownLibraryOnly || found.libraryId === view.library) ? found : undefined;
  if (!inbound || inbound.command !== 'renew-all') throw new AppError('not_found', 404, `Ingen FORNY ALLE med MessageSid ${messageSid}.`);
  const [lines, patron, reply] = await Promise.all([
    renewalLines(deps.db, [inbound.id]),
    inbound.patronId === null ? undefined : getPatron(deps.db, inbound.patronId),
    inbound.replyId === null ? undefined : getOutbound(deps.db, inbound.replyId),
  ]);
  const zone = deps.config.timeZone;
  const renewed = lines.filter((line) => line.outcome === 'renewed').length;
  const [giveUps, directory] = await Promise.all([
    giveUpsOf(deps, [{ inboundId: inbound.id, status: inbound.status, renewed, message: inbound }]),
    reply?.purpose === 'not-linked' ? patronNamesByMobile(deps.db, [inbound.fromNumber], view.library) : new Map<string, string>(),
  ]);
  const giveUp = giveUps.get(inbound.id);
  const result = renewAllResult(
    { status: inbound.status, ignoredReason: inbound.ignoredReason, loans: lines.length, renewed, replyPurpose: reply?.purpose ?? null },
    { giveUp, inDirectory: directory.has(inbound.fromNumber) },
  );

  const body = html`<dl class="facts">
${view.showLibrary && html`<dt>Bibliotek</dt><dd>${view.nameOf(inbound.libraryId)}</dd>`}
<dt>Modtaget</dt><dd>${showInstant(inbound.receivedAt, zone)}</dd>
<dt>Fra</dt><dd>${partyLink(inbound.fromNumber)}${patron && html` (${patron.name})`}</dd>
<dt>Tekst</dt><dd class="body">${inbound.body}</dd>
<dt>Status</dt><dd>${statusTag(inbound.status)}${inbound.ignoredReason && html` <span class="muted">${label(IGNORED_TEXT, inbound.ignoredReason)}</span>`}</dd>
<dt>Resultat</dt><dd>${result}${giveUp?.lastError && details(giveUp.lastError)}</dd>
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
