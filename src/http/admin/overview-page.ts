import { DateTime } from 'luxon';
import { dueUnsentSms, messagesPerHour, outboundTotalsBetween, renewAllTotalsBetween, type HourCount } from '../../../db/repositories/message-stats.js';
import { noticeCounts, type NoticeCount } from '../../../db/repositories/notices.js';
import { countSmsWaitingForWindow } from '../../../db/repositories/outbound.js';
import type { Deps } from '../../deps.js';
import type { LibrarySystem } from '../../library/library-system.js';
import type { Library } from '../../libraries.js';
import { OUTBOUND_STATUSES } from '../../domain/message-status.js';
import { NOTICE_KINDS } from '../../domain/notice.js';
import { readSmsBacklog, type SmsBacklog } from '../backlog.js';
import { checkLibrarySystem } from '../health.js';
import { formatTimeOfDay, nextSendTime } from '../../domain/send-window.js';
import { JOB_STATES, queueCounts, type QueueCounts } from '../queue-reads.js';
import { showCount, showInstant, showMoment, showShare } from './display.js';
import { html, jsonScript, type Html } from './html.js';
import { CHANNEL_TEXT, JOB_STATE_TEXT, KIND_PLURAL_TEXT, NOTICE_KIND_TEXT, STATUS_TEXT } from './labels.js';
import { layout } from './layout.js';
import { queueName } from './parts.js';
import { EVERY_LIBRARY, libraryQuery, type LibraryView } from './library-view.js';

type OverviewDeps = Pick<Deps, 'db' | 'queues' | 'redis' | 'clock' | 'config' | 'logger' | 'libraries' | 'smsRate'>;

/** The chart's data: one point per hour of the last 24, labelled with the library's hour. */
interface HourlySeries {
  readonly labels: readonly string[];
  readonly received: readonly number[];
  readonly sent: readonly number[];
}

/** The first of the 24 hours the chart shows (the current hour is the last). */
const firstChartHour = (now: Date) => DateTime.fromJSDate(now, { zone: 'utc' }).startOf('hour').minus({ hours: 23 });

function hourlySeries(now: Date, zone: string, counts: { received: readonly HourCount[]; sent: readonly HourCount[] }): HourlySeries {
  const first = firstChartHour(now);
  const hours = Array.from({ length: 24 }, (_, index) => first.plus({ hours: index }));
  const lookup = (rows: readonly HourCount[]) => {
    const byHour = new Map(rows.map((row) => [row.hour, row.count]));
    return hours.map((hour) => byHour.get(hour.toFormat("yyyy-LL-dd'T'HH")) ?? 0);
  };
  return { labels: hours.map((hour) => hour.setZone(zone).toFormat('HH')), received: lookup(counts.received), sent: lookup(counts.sent) };
}

function queueTable(counts: readonly QueueCounts[] | undefined): Html {
  if (!counts) return html`<p class="alert">Redis svarer ikke, så køernes tal kan ikke vises. Indkomne beskeder gemmes og sættes i kø, når Redis er tilbage.</p>`;
  // On a phone each queue is a card: its name, then each count named by its state.
  return html`<table class="numbers cards-on-phone" id="queues">
<thead><tr><th>Kø</th>${JOB_STATES.map((state) => html`<th>${JOB_STATE_TEXT[state]}</th>`)}</tr></thead>
<tbody>
${counts.map(
  ({ queue, counts: byState }) => html`<tr>
<th scope="row">${queueName(queue, `/admin/queues/queue/${encodeURIComponent(queue)}`)}</th>
${JOB_STATES.map((state) =>
  state === 'failed' && byState.failed > 0
    ? html`<td class="alert" data-label="${JOB_STATE_TEXT[state]}"><a class="alert" href="/admin/failures" title="Se de fejlede jobs under Fejl">${showCount(byState.failed)}</a></td>`
    : html`<td data-label="${JOB_STATE_TEXT[state]}">${showCount(byState[state])}</td>`,
)}
</tr>`,
)}
</tbody>
</table>`;
}

const DOWN_TEXT: Record<string, string> = {
  'down: login refused': 'svarer ikke (login afvist)',
  'down: not answering': 'svarer ikke',
  'down: failing': 'svarer ikke (fejl)',
};

/** How long the overview shows one look at the library system: as long as the metrics' figures may be old (SPEC §7). */
export const LIBRARY_LOOK_REUSED_MS = 15_000;
const lastLooks = new WeakMap<LibrarySystem, { readonly at: number; readonly look: ReturnType<typeof checkLibrarySystem> }>();

/**
 * Whether the library system answers, asked at most once per LIBRARY_LOOK_REUSED_MS however often
 * the overview is loaded: in SIP2 mode each look is an SC Status sent to the library's own system.
 */
function lookAtLibrarySystem(library: LibrarySystem): ReturnType<typeof checkLibrarySystem> {
  const now = performance.now();
  const last = lastLooks.get(library);
  if (last && now - last.at < LIBRARY_LOOK_REUSED_MS) return last.look;
  const look = checkLibrarySystem(library);
  lastLooks.set(library, { at: now, look });
  return look;
}

/** One line per library on where its loans are renewed and whether that answers now (the detail is in the log). */
async function librarySystemLines(libraries: readonly Library[], several: boolean): Promise<Html> {
  const lines = await Promise.all(libraries.map((library) => librarySystemLine(library, several)));
  return html`${lines}`;
}

async function librarySystemLine(library: Library, several: boolean): Promise<Html> {
  const system = library.system;
  const whose = several ? html`${library.settings.name} (${library.id}): ` : '';
  const kind = system.kind === 'sip2' ? 'SIP2' : system.kind.toUpperCase();
  const id = several ? `library-system-${library.id}` : 'library-system';
  if (system.kind === 'embedded') return html`<p id="${id}">${whose}Bibliotekssystem: indbygget</p>`;
  const { result } = await lookAtLibrarySystem(system);
  return result === 'ok'
    ? html`<p id="${id}">${whose}Bibliotekssystem: ${kind} (${system.description}) <strong>svarer</strong></p>`
    : html`<p id="${id}" class="alert">${whose}Bibliotekssystem: ${kind} (${system.description}) <strong>${DOWN_TEXT[result] ?? 'svarer ikke'}</strong>. FORNY ALLE venter og prøves igen; lånerne får svar, når systemet er tilbage.</p>`;
}

/** A count that opens the list behind it; zero links nowhere. */
const countLink = (count: number, href: string): Html => (count > 0 ? html`<a href="${href}">${showCount(count)}</a>` : html`${showCount(count)}`);

/**
 * Notices from the library system by kind and, per channel, by the status of the message each
 * wrote; "ikke skrevet" counts notices that wrote none on that channel (no address, no opt-in, STOP).
 */
function noticeTable(counts: readonly NoticeCount[]): Html {
  if (counts.length === 0) return html`<p class="muted">Ingen meddelelser fra bibliotekssystemet endnu.</p>`;
  const statuses = [...OUTBOUND_STATUSES, 'none'] as const;
  const statusText = (status: (typeof statuses)[number]) => (status === 'none' ? 'ikke skrevet' : STATUS_TEXT[status]);
  const rows = NOTICE_KINDS.flatMap((kind) => (['sms', 'email'] as const).map((channel) => ({ kind, channel, of: counts.filter((row) => row.kind === kind && row.channel === channel) }))).filter(
    (row) => row.of.length > 0,
  );
  return html`<table class="numbers cards-on-phone" id="notices">
<thead><tr><th>Art</th><th>Kanal</th>${statuses.map((status) => html`<th>${statusText(status)}</th>`)}</tr></thead>
<tbody>
${rows.map(
  (row) => html`<tr><th scope="row">${NOTICE_KIND_TEXT[row.kind]}</th><td data-label="Kanal">${CHANNEL_TEXT[row.channel]}</td>${statuses.map((status) => {
    const count = row.of.filter((entry) => entry.status === status).reduce((sum, entry) => sum + entry.count, 0); // every library's
    return html`<td data-label="${statusText(status)}"${count > 0 && (status === 'failed' || status === 'undelivered') ? html` class="alert"` : ''}>${showCount(count)}</td>`;
  })}</tr>`,
)}
</tbody>
</table>`;
}

/** A rate as people read it: `2`, `0,5`, `0,02` SMS a second. */
const showRate = (perSecond: number): string => new Intl.NumberFormat('da-DK', { maximumFractionDigits: perSecond < 1 ? 2 : 1 }).format(perSecond);

/** When what is due now will be gone: `ca. 11 min (klokken 08:56)`, the clock time rounded up to the minute. */
function backlogEta(backlog: SmsBacklog, zone: string): Html {
  if (backlog.clearsInSeconds === null || backlog.clearsAt === null) return html`<p id="sms-backlog-eta">Ingen kø: intet skal sendes nu.</p>`;
  const minutes = Math.max(1, Math.ceil(backlog.clearsInSeconds / 60));
  const at = DateTime.fromJSDate(backlog.clearsAt).setZone(zone);
  const clock = (at.startOf('minute').equals(at) ? at : at.startOf('minute').plus({ minutes: 1 })).toFormat('HH:mm');
  const source = backlog.rate.source === 'recent' ? 'sendt det seneste minut' : 'den indstillede hastighed; intet sendt det seneste minut';
  return html`<p id="sms-backlog-eta">${showCount(backlog.dueNow)} SMS skal sendes nu: væk om <strong>ca. ${minutes} min (klokken ${clock})</strong> med ${showRate(backlog.rate.perSecond)} SMS i sekundet (${source}).</p>`;
}

/**
 * What is waiting to leave, per library and kind (the morning's backlog right after 08:45): due now,
 * and waiting for the window. On a phone each row is a card, each count named.
 */
function backlogSection(backlog: SmsBacklog, view: LibraryView, gatewayName: string, zone: string): Html {
  const nameOf = (library: string | null) => (library === null ? `${gatewayName} (fælles svar)` : view.nameOf(library));
  const table =
    backlog.rows.length === 0
      ? html`<p class="muted">Ingen SMS venter på at blive sendt.</p>`
      : html`<table class="numbers cards-on-phone" id="sms-backlog">
<thead><tr><th>Bibliotek</th><th>Art</th><th>Skal sendes nu</th><th>Venter på sendevinduet</th></tr></thead>
<tbody>
${backlog.rows.map(
  (row) =>
    html`<tr data-library="${row.library ?? ''}" data-kind="${row.kind}"><th scope="row">${nameOf(row.library)}</th><td data-label="Art">${KIND_PLURAL_TEXT[row.kind]}</td><td data-label="Skal sendes nu">${showCount(row.dueNow)}</td><td data-label="Venter på sendevinduet">${showCount(row.waitingForWindow)}</td></tr>`,
)}
</tbody>
</table>`;
  return html`<section id="sms-backlog-section">
<h2>Kø af SMS</h2>
${backlogEta(backlog, zone)}
${table}
</section>`;
}

/** `/admin`: are the queues draining, what waits for the window, how today went. */
export async function overviewPage(deps: OverviewDeps, view: LibraryView = EVERY_LIBRARY): Promise<Html> {
  const { db, config } = deps;
  // One library's figures for its operator or the gateway's ?library=; the queues are the gateway's own (SPEC §12).
  const library = view.library;
  const libraries = library === undefined ? deps.libraries.all : deps.libraries.all.filter((candidate) => candidate.id === library);
  const zone = config.timeZone;
  const now = deps.clock.now();
  const todayStart = DateTime.fromJSDate(now, { zone }).startOf('day');
  const [from, to] = [todayStart.toJSDate(), todayStart.plus({ days: 1 }).toJSDate()];
  const [systems, queues, waiting, due, totals, renewAlls, perHour, notices, backlog] = await Promise.all([
    librarySystemLines(libraries, deps.libraries.several),
    view.ownLibraryOnly ? Promise.resolve(undefined) : queueCounts(deps),
    countSmsWaitingForWindow(db, now, library),
    dueUnsentSms(db, now, library),
    outboundTotalsBetween(db, from, to, library),
    renewAllTotalsBetween(db, from, to, library),
    messagesPerHour(db, firstChartHour(now).toJSDate(), library),
    noticeCounts(db, library),
    readSmsBacklog(deps, library),
  ]);
  const filter = libraryQuery(view);
  const also = (href: string) => (filter === '' ? href : `${href}${href.includes('?') ? '&' : '?'}${filter}`);

  const sendWindow = libraries[0]?.settings.sendWindow ?? config.defaultSendWindow;
  const opens = nextSendTime(now, sendWindow, zone);
  const window = `${formatTimeOfDay(sendWindow.start)}–${formatTimeOfDay(sendWindow.end)}`;
  const series = hourlySeries(now, zone, perHour);
  const channels = (['sms', 'email'] as const).map((channel) => totals.find((row) => row.channel === channel) ?? { channel, sent: 0, delivered: 0, failed: 0 });

  const body = html`${systems}
${
  !view.ownLibraryOnly &&
  html`<section>
<h2>Køer</h2>
${queueTable(queues)}
</section>`
}
${backlogSection(backlog, view, config.gatewayName, zone)}
<div class="cards">
<section class="card">
<h2>Sendevinduet (${window})</h2>
<p class="big"><a id="waiting-for-window" href="${also('/admin/messages?direction=out&status=scheduled')}">${showCount(waiting)}</a></p>
<p>SMS venter på, at sendevinduet åbner.</p>
<p>${opens.getTime() === now.getTime() ? html`Vinduet er <strong>åbent nu</strong>.` : html`Vinduet åbner ${showMoment(opens, zone)}.`}</p>
${due.count > 0 && html`<p class="alert">${showCount(due.count)} SMS skulle være sendt, men er ikke sendt endnu (den ældste siden ${showInstant(due.oldestSendAfter, zone)}).</p>`}
</section>
<section class="card">
<h2>Udgående beskeder i dag</h2>
<table class="numbers">
<thead><tr><th></th><th>Sendt</th><th>Leveret</th><th>Fejlet</th></tr></thead>
<tbody>
${channels.map(
  (row) =>
    html`<tr><th scope="row">${CHANNEL_TEXT[row.channel]}</th><td>${countLink(row.sent, also(`/admin/messages?direction=out&channel=${row.channel}&status=sent`))}</td><td>${countLink(row.delivered, also(`/admin/messages?direction=out&channel=${row.channel}&status=delivered`))}</td>${
      row.failed > 0 ? html`<td class="alert"><a class="alert" href="${also('/admin/failures')}">${showCount(row.failed)}</a></td>` : html`<td>0</td>`
    }</tr>`,
)}
</tbody>
</table>
</section>
<section class="card">
<h2>FORNY ALLE i dag</h2>
<table class="numbers" id="renew-all-today">
<tbody>
<tr><th scope="row">Anmodninger fra lånere</th><td><a href="${also('/admin/renewals')}">${showCount(renewAlls.requests)}</a></td></tr>
<tr><th scope="row">Lån vurderet i alt</th><td>${showCount(renewAlls.loans)}</td></tr>
<tr><th scope="row">Heraf fornyet</th><td>${showCount(renewAlls.renewed)} <span class="muted">(${showShare(renewAlls.renewed, renewAlls.loans)})</span></td></tr>
</tbody>
</table>
</section>
</div>
<section>
<h2>Meddelelser fra bibliotekssystemet</h2>
${noticeTable(notices)}
</section>
<section>
<h2>Beskeder pr. time, seneste døgn</h2>
<div class="chart">
<canvas id="hourly-chart" role="img" aria-label="Modtagne og sendte beskeder pr. time det seneste døgn">
Modtaget ${showCount(series.received.reduce((a, b) => a + b, 0))}, sendt ${showCount(series.sent.reduce((a, b) => a + b, 0))} det seneste døgn.
</canvas>
</div>
${jsonScript('hourly-data', series)}
</section>`;
  return layout({ title: 'Overblik', section: 'overview', scripts: ['chart.umd.js', 'overview-chart.js'], updated: { at: now, zone }, body });
}
