import { failedMessages, outboundStatuses, patronNamesByMobile, renewalLines, uncertainMessages } from '../../../db/repositories/dashboard-queries.js';
import { failedInbound, type InboundMessage } from '../../../db/repositories/inbound.js';
import { recentAudit } from '../../../db/repositories/operator-actions.js';
import type { OutboundMessage } from '../../../db/repositories/outbound.js';
import { QUEUE } from '../../queue/queues.js';
import type { Deps } from '../../deps.js';
import { inboundApiId, outboundApiId } from '../format.js';
import { parseMessageId } from '../message-id.js';
import { fromQueues } from '../queue-reads.js';
import { showInstant } from './display.js';
import { html, type Html } from './html.js';
import { giveUpCause, lastJobErrors, type GiveUp, type GiveUpCause } from './give-up-cause.js';
import { AUDIT_TEXT, COMMAND_TEXT, GIVE_UP_TEXT, label, PURPOSE_TEXT } from './labels.js';
import { layout } from './layout.js';
import { details, partyLink, queueName, statusTag, type PatronNames } from './parts.js';
import { EVERY_LIBRARY, libraryTag, type LibraryView } from './library-view.js';
import { explainSendError, twilioErrorUrl } from './twilio-codes.js';

type FailuresDeps = Pick<Deps, 'db' | 'queues' | 'redis' | 'config' | 'logger' | 'clock'>;

/**
 * A send job only carries a message's id, and re-running it finds the message failed and does
 * nothing: messages are retried as messages (above), so their jobs get no button of their own.
 */
const MESSAGE_QUEUES: ReadonlySet<string> = new Set([QUEUE.sendSms, QUEUE.sendEmail]);

/** Rows per table: the page is for what needs attention now, not for history. */
const SHOWN = 100;

interface FailedJob {
  readonly queue: string;
  readonly id: string;
  readonly name: string;
  readonly reason: string;
  readonly attempts: number;
  readonly finishedOn: number | undefined;
}

/**
 * Failed jobs of every queue, newest first, or undefined when Redis does not answer. A send job whose
 * message an operator has since retried, cancelled or seen sent is done with: it leaves the list.
 */
async function failedJobs(deps: FailuresDeps): Promise<FailedJob[] | undefined> {
  const lists = await fromQueues(deps, 'failed jobs', () =>
    Promise.all(
      deps.queues.all.map(async (queue) =>
        (await queue.getFailed(0, SHOWN - 1)).map((job) => ({
          queue: queue.name,
          id: job.id ?? '',
          name: job.name,
          reason: job.failedReason,
          attempts: job.attemptsMade,
          finishedOn: job.finishedOn,
        })),
      ),
    ),
  );
  if (!lists) return undefined;
  const jobs = lists.flat();
  const messageIdOf = (job: FailedJob) => {
    const digits = MESSAGE_QUEUES.has(job.queue) ? /^out-(\d+)$/.exec(job.id)?.[1] : undefined;
    return digits === undefined ? undefined : parseMessageId(digits);
  };
  const statuses = await outboundStatuses(deps.db, jobs.map(messageIdOf).filter((id): id is number => id !== undefined));
  return jobs
    .filter((job) => {
      const id = messageIdOf(job);
      return id === undefined || statuses.get(id) === 'failed';
    })
    .sort((a, b) => (b.finishedOn ?? 0) - (a.finishedOn ?? 0));
}

/**
 * A job's name in Danish: a send job is named by its message's purpose, a patron's command by the
 * command, the reminders' daily scan as such (the name itself is in the title, as Bull Board shows it).
 */
const jobName = (job: FailedJob): string =>
  label(MESSAGE_QUEUES.has(job.queue) ? PURPOSE_TEXT : job.queue === QUEUE.reminders ? { scan: 'daglig kørsel' } : COMMAND_TEXT, job.name);

/** A POST button; every action carries the operator's CSRF token. */
const actionButton = (action: string, text: string, csrfToken: string, style = ''): Html =>
  html`<form method="post" action="${action}" class="inline"><input type="hidden" name="_csrf" value="${csrfToken}"><button type="submit"${style ? html` class="${style}"` : ''}>${text}</button></form>`;

/** The code and its Danish meaning; the provider's own (English) words folded away beneath. */
function sendError(message: OutboundMessage): Html {
  const raw = message.errorMessage && details(message.errorMessage);
  if (message.errorCode === null) return html`Ukendt fejl.${raw}`;
  const url = twilioErrorUrl(message.errorCode);
  return html`<strong>${url ? html`<a href="${url}" rel="noreferrer">${message.errorCode}</a>` : message.errorCode}</strong> ${explainSendError(message.errorCode)}${raw}`;
}

function failedMessagesTable(messages: readonly OutboundMessage[], zone: string, csrfToken: string, names: PatronNames, view: LibraryView): Html {
  if (messages.length === 0) return html`<p class="muted">Ingen fejlede beskeder.</p>`;
  return html`<table id="failed-messages" class="cards-on-phone">
<thead><tr><th>Besked</th><th>Fejlet</th><th>Til</th><th>Hvad</th><th>Fejl</th><th>Forsøg</th><th>Handling</th></tr></thead>
<tbody>
${messages.map(
  (message) => html`<tr id="${outboundApiId(message.id)}">
<td data-label="Besked">${outboundApiId(message.id)}${libraryTag(view, message.libraryId)}</td>
<td data-label="Fejlet">${showInstant(message.statusAt, zone)}<br>${statusTag(message.status)}</td>
<td data-label="Til">${partyLink(message.to, names)}</td>
<td data-label="Hvad">${label(PURPOSE_TEXT, message.purpose)}</td>
<td data-label="Fejl">${sendError(message)}</td>
<td data-label="Forsøg">${message.attempts}</td>
<td class="actions">
${actionButton(`/admin/failures/messages/${message.id}/retry`, 'Prøv igen', csrfToken)}
${actionButton(`/admin/failures/messages/${message.id}/cancel`, 'Annullér', csrfToken, 'secondary')}
</td>
</tr>`,
)}
</tbody>
</table>`;
}

/** The cause as the first sentence of the Fejl page's "Hvorfor". */
function causeSentence(cause: GiveUpCause, giveUpMs: number): string {
  switch (cause) {
    case 'login_refused':
      return 'Bibliotekssystemet afviste login (tjek den bruger og adgangskode, forny logger ind med).';
    case 'too_late':
      return `Ikke udført inden for ${Math.round(giveUpMs / 60_000)} minutter (bibliotekssystemet eller køerne var væk).`;
    case 'every_try_failed':
      return 'Hvert forsøg på at forny fejlede.';
    case 'not_answering':
    case 'failing':
    case 'too_slow': {
      const text = GIVE_UP_TEXT[cause];
      return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
    }
    default:
      return cause satisfies never;
  }
}

/**
 * Why a renew-all was given up, in Danish: the library system named when it was the cause (its last
 * error behind "vis detaljer"), what was renewed before the give-up, and whether the patron was told.
 */
function givenUpWhy(message: InboundMessage, giveUp: GiveUp, renewed: number, giveUpMs: number): Html {
  const done = renewed > 0 ? `${renewed} lån blev fornyet inden da.` : 'Intet er fornyet.';
  const told = message.replyId === null ? 'Nummeret tilhører ingen låner, så ingen har fået besked.' : 'Låneren har fået en SMS om det.';
  return html`${causeSentence(giveUp.cause, giveUpMs)} ${done} ${told}${giveUp.lastError && details(giveUp.lastError)}`;
}

async function givenUpTable(messages: readonly InboundMessage[], deps: FailuresDeps, csrfToken: string, names: PatronNames, view: LibraryView): Promise<Html> {
  if (messages.length === 0) return html`<p class="muted">Ingen opgivne FORNY ALLE.</p>`;
  const zone = deps.config.timeZone;
  const giveUpMs = deps.config.jobs.renewAllGiveUpMs;
  const ids = messages.map((message) => message.id);
  const [errors, lines] = await Promise.all([lastJobErrors(deps, ids), renewalLines(deps.db, ids)]);
  const renewedOf = (id: number) => lines.filter((line) => line.inboundId === id && line.outcome === 'renewed').length;
  const giveUpOf = (message: InboundMessage): GiveUp => {
    const lastError = errors.get(message.id);
    return { cause: giveUpCause(message, giveUpMs, lastError, renewedOf(message.id)), lastError };
  };
  return html`<table id="given-up" class="cards-on-phone">
<thead><tr><th>Besked</th><th>Modtaget</th><th>Opgivet</th><th>Fra</th><th>Hvorfor</th><th>Handling</th></tr></thead>
<tbody>
${messages.map(
  (message) => html`<tr id="${inboundApiId(message.id)}">
<td data-label="Besked"><a href="/admin/renewals/${encodeURIComponent(message.messageSid)}">${inboundApiId(message.id)}</a>${libraryTag(view, message.libraryId)}</td>
<td data-label="Modtaget">${showInstant(message.retriedAt ?? message.receivedAt, zone)}${message.retriedAt === null ? '' : html` <span class="muted">(prøvet igen)</span>`}</td>
<td data-label="Opgivet">${message.processedAt === null ? '' : showInstant(message.processedAt, zone)}</td>
<td data-label="Fra">${partyLink(message.fromNumber, names)}</td>
<td data-label="Hvorfor">${givenUpWhy(message, giveUpOf(message), renewedOf(message.id), giveUpMs)}</td>
<td class="actions">${actionButton(`/admin/failures/renew-alls/${message.id}/retry`, 'Prøv igen', csrfToken)}</td>
</tr>`,
)}
</tbody>
</table>`;
}

function uncertainTable(messages: readonly OutboundMessage[], zone: string, names: PatronNames, view: LibraryView): Html {
  if (messages.length === 0) return html`<p class="muted">Ingen.</p>`;
  return html`<table id="uncertain" class="cards-on-phone">
<thead><tr><th>Besked</th><th>Oprettet</th><th>Til</th><th>Hvad</th><th>Status</th><th>Forsøg</th></tr></thead>
<tbody>
${messages.map(
  (message) => html`<tr>
<td data-label="Besked">${outboundApiId(message.id)}${libraryTag(view, message.libraryId)}</td>
<td data-label="Oprettet">${showInstant(message.createdAt, zone)}</td>
<td data-label="Til">${partyLink(message.to, names)}</td>
<td data-label="Hvad">${label(PURPOSE_TEXT, message.purpose)}</td>
<td data-label="Status">${statusTag(message.status)}</td>
<td data-label="Forsøg">${message.attempts}</td>
</tr>`,
)}
</tbody>
</table>`;
}

function failedJobsTable(jobs: readonly FailedJob[] | undefined, zone: string, csrfToken: string): Html {
  if (!jobs) return html`<p class="alert">Redis svarer ikke, så de fejlede jobs kan ikke vises.</p>`;
  if (jobs.length === 0) return html`<p class="muted">Ingen fejlede jobs.</p>`;
  return html`<table id="failed-jobs" class="cards-on-phone">
<thead><tr><th>Kø</th><th>Job</th><th>Fejlet</th><th>Fejl</th><th>Forsøg</th><th>Handling</th></tr></thead>
<tbody>
${jobs.map(
  (job) => html`<tr>
<td data-label="Kø">${queueName(job.queue)}</td>
<td data-label="Job"><a href="/admin/queues/queue/${encodeURIComponent(job.queue)}/${encodeURIComponent(job.id)}">${job.id}</a> <span class="muted" title="${job.name}">${jobName(job)}</span></td>
<td data-label="Fejlet">${job.finishedOn === undefined ? '' : showInstant(new Date(job.finishedOn).toISOString(), zone)}</td>
<td data-label="Fejl">Jobbet blev opgivet.${job.reason && details(job.reason)}</td>
<td data-label="Forsøg">${job.attempts}</td>
<td class="actions">${
    MESSAGE_QUEUES.has(job.queue)
      ? html`<span class="muted">se beskeden</span>`
      : actionButton(`/admin/failures/jobs/${encodeURIComponent(job.queue)}/${encodeURIComponent(job.id)}/retry`, 'Prøv igen', csrfToken)
  }</td>
</tr>`,
)}
</tbody>
</table>`;
}

/** `/admin/failures`: what did not reach patrons and why, what may have reached them twice, and who did what about it. */
export async function failuresPage(deps: FailuresDeps, page: { csrfToken: string; flash: string | undefined }, view: LibraryView = EVERY_LIBRARY): Promise<Html> {
  const library = view.library;
  const [givenUp, failed, uncertain, jobs, audit] = await Promise.all([
    failedInbound(deps.db, SHOWN, library),
    failedMessages(deps.db, SHOWN, library),
    uncertainMessages(deps.db, SHOWN, library),
    // The queues are the whole gateway's: a library's operator does not see its jobs (SPEC §12).
    view.ownLibraryOnly ? Promise.resolve(undefined) : failedJobs(deps),
    recentAudit(deps.db, SHOWN, library),
  ]);
  const zone = deps.config.timeZone;
  const names = await patronNamesByMobile(deps.db, [...givenUp.map((message) => message.fromNumber), ...[...failed, ...uncertain].map((message) => message.to)], library);
  const givenUpRows = await givenUpTable(givenUp, deps, page.csrfToken, names, view);
  const body = html`<section>
<h2>Opgivne FORNY ALLE</h2>
<p class="muted">Anmodninger, der ikke kunne udføres i tide. Det, der ikke var fornyet, da tiden var gået, fornyes ikke senere, for en fornyelse timer senere ville overraske låneren. <em>Prøv igen</em> forsøger at forny nu (med en ny frist).</p>
${givenUpRows}
</section>
<section>
<h2>Fejlede beskeder</h2>
<p class="muted">Beskeder, der ikke nåede frem. <em>Prøv igen</em> sender beskeden igen (en SMS venter dog på sendevinduet); <em>Annullér</em> opgiver den.</p>
${failedMessagesTable(failed, zone, page.csrfToken, names, view)}
</section>
<section>
<h2>Måske sendt to gange</h2>
<p class="muted">Et forsøg blev afbrudt midt i kaldet til Twilio og derefter gentaget, så låneren kan have fået beskeden to gange.</p>
${uncertainTable(uncertain, zone, names, view)}
</section>
${
  !view.ownLibraryOnly &&
  html`<section>
<h2>Fejlede jobs</h2>
<p class="muted">Jobs, som køerne har opgivet. En besked sendes igen med <em>Prøv igen</em> ved beskeden ovenfor, ikke ved dens job.</p>
${failedJobsTable(jobs, zone, page.csrfToken)}
</section>`
}
<section>
<h2>Handlingslog</h2>
${
  audit.length === 0
    ? html`<p class="muted">Ingen handlinger endnu.</p>`
    : html`<table id="audit-log" class="cards-on-phone">
<thead><tr><th>Tid</th><th>Operatør</th><th>Handling</th><th>Hvad</th><th>Detaljer</th></tr></thead>
<tbody>
${audit.map(
  (entry) =>
    html`<tr><td data-label="Tid">${showInstant(entry.at, zone)}${libraryTag(view, entry.libraryId ?? null)}</td><td data-label="Operatør">${entry.actor}</td><td data-label="Handling">${label(AUDIT_TEXT, entry.action)}</td><td data-label="Hvad">${entry.target}</td><td data-label="Detaljer">${entry.detail && details(entry.detail)}</td></tr>`,
)}
</tbody>
</table>`
}
</section>`;
  return layout({ title: 'Fejl', section: 'failures', ...(page.flash ? { flash: page.flash } : {}), updated: { at: deps.clock.now(), zone }, body });
}
