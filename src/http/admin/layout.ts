import { showUpdatedAt } from './display.js';
import { html, type Html } from './html.js';

export type Section = 'overview' | 'messages' | 'renewals' | 'failures';

const NAVIGATION: readonly { section: Section; href: string; text: string }[] = [
  { section: 'overview', href: '/admin', text: 'Overblik' },
  { section: 'messages', href: '/admin/messages', text: 'Beskeder' },
  { section: 'renewals', href: '/admin/renewals', text: 'Fornyelser' },
  { section: 'failures', href: '/admin/failures', text: 'Fejl' },
];

export interface Page {
  readonly title: string;
  readonly section?: Section;
  /** A one-line result of the action that led here. */
  readonly flash?: string;
  /** Page scripts under /admin/assets, loaded deferred (never inline: the CSP forbids it). */
  readonly scripts?: readonly string[];
  /**
   * When the page's numbers were read. A page that has it says so ("opdateret kl. 10:00:05") and
   * reloads itself every 30 s while nobody is typing in it (refresh.js).
   */
  readonly updated?: { readonly at: Date; readonly zone: string };
  readonly body: Html;
}

const REFRESH_SECONDS = 30;

/** The page shell every dashboard page shares: head, navigation, flash line. */
export function layout(page: Page): Html {
  return html`<!doctype html>
<html lang="da">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${page.title} · forny</title>
<link rel="icon" type="image/svg+xml" href="/admin/assets/favicon.svg">
<link rel="stylesheet" href="/admin/assets/admin.css">
${[...(page.scripts ?? []), ...(page.updated ? ['refresh.js'] : [])].map((script) => html`<script defer src="/admin/assets/${script}"></script>`)}
</head>
<body>
<header class="top">
<a class="brand" href="/admin">forny</a>
<nav aria-label="Dashboard">
${NAVIGATION.map((item) => html`<a href="${item.href}"${item.section === page.section ? html` aria-current="page"` : ''}>${item.text}</a>`)}
<a href="/admin/queues">Køer</a>
</nav>
</header>
<main>
<h1>${page.title}</h1>
${page.updated && html`<p class="updated muted" id="updated-at" data-refresh-seconds="${REFRESH_SECONDS}">${showUpdatedAt(page.updated.at, page.updated.zone)}; siden opdateres af sig selv hvert ${REFRESH_SECONDS}. sekund</p>`}
${page.flash && html`<p class="flash" role="status">${page.flash}</p>`}
${page.body}
</main>
</body>
</html>`;
}
