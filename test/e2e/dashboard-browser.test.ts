import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { EVERY_RULE_TODAY, KAREN, OTHER_PATRON, everyRuleLibrary } from '../fixtures/every-rule.js';
import { insertInbound } from '../../db/repositories/inbound.js';
import { insertNotices } from '../../db/repositories/notices.js';
import { insertOutbound } from '../../db/repositories/outbound.js';
import { giveUpRenewAll } from '../../src/renewals/renew-all.js';
import { showParty } from '../../src/http/admin/display.js';
import { QUEUE_TEXT } from '../../src/http/admin/labels.js';
import { QUEUE } from '../../src/queue/queues.js';
import { launchChromium } from '../helpers/chromium.js';
import { eventually, Harness, newMessageSid } from '../helpers/harness.js';

/** A number no patron has. */
const NOBODY = '+4561009999';
const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;
/** The README's picture; rewritten only when asked (`FORNY_DOCS_SCREENSHOT=1`), so a test run leaves the tree clean. */
const DOCS_SCREENSHOT = new URL('../../docs/dashboard-overview.png', import.meta.url).pathname;

/**
 * What an operator on a phone cannot read, as plain JavaScript run in the page (a string: the test's
 * compiler would add helpers the page does not have). Every word shown must be on the screen and on
 * one line (a word broken in two, or past the edge of a box that scrolls, is not read); no box may
 * scroll or clip sideways; a cell shown as a card's line is labelled with its whole data-label.
 */
const PHONE_CHECK = `(() => {
  const width = innerWidth;
  const main = document.querySelector('main');
  const problems = [];
  const where = (element) => '<' + element.tagName.toLowerCase() + (element.className ? ' class="' + element.className + '"' : '') + '>';
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('script, canvas') || parent.getClientRects().length === 0) continue;
    for (const word of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      const rects = [...range.getClientRects()].filter((rect) => rect.width > 0);
      if (rects.some((rect) => rect.left < -0.5 || rect.right > width + 0.5)) problems.push('"' + word[0] + '" is off the screen in ' + where(parent));
      else if (rects.length > 1 && word[0].length <= 24 && !/[-–/]/.test(word[0])) problems.push('"' + word[0] + '" is broken across lines in ' + where(parent));
    }
  }
  for (const element of main.querySelectorAll('*')) {
    if (/auto|scroll|hidden|clip/.test(getComputedStyle(element).overflowX) && element.scrollWidth > element.clientWidth + 1) {
      problems.push(where(element) + ' scrolls sideways (' + element.scrollWidth + ' px in ' + element.clientWidth + ')');
    }
  }
  for (const cell of main.querySelectorAll('td[data-label]')) {
    if (cell.getClientRects().length === 0 || getComputedStyle(cell).display !== 'block') continue;
    const content = getComputedStyle(cell, '::before').content;
    if (content !== '"' + cell.getAttribute('data-label') + ': "') problems.push(where(cell) + ' labelled ' + content + ', not "' + cell.getAttribute('data-label') + '"');
  }
  return { scrollWidth: document.scrollingElement.scrollWidth, problems };
})()`;

/**
 * Bull Board's page links a Google Fonts stylesheet; forny's CSP blocks it on purpose (operators'
 * browsers need not call Google), Chromium logs that as an error, and the board uses system fonts.
 */
const BLOCKED_GOOGLE_FONTS = /^Loading the stylesheet 'https:\/\/fonts\.googleapis\.com\/.*' violates the following Content Security Policy directive/;

/**
 * The dashboard as an operator uses it: headless Chromium (Debian's when installed, else the one
 * `npm ci` brought, see test/helpers/chromium.ts), logged in with basic auth.
 */
describe('dashboard in headless Chromium', function () {
  this.timeout(60_000);
  let h: Harness;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    h = await Harness.start({ workers: true, fixture: everyRuleLibrary(), now: `${EVERY_RULE_TODAY}T10:00:00+01:00` });
    browser = await launchChromium();
    context = await browser.newContext({ httpCredentials: { username: 'operator', password: 'correct-horse-battery' }, viewport: { width: 1280, height: 800 }, locale: 'da-DK' });
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await h?.stop();
  });

  beforeEach(async () => {
    problems = [];
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  });
  afterEach(async () => {
    await page.close();
    expect(problems, 'console and page errors').to.deep.equal([]);
  });

  const open = (path: string) => page.goto(`${h.baseUrl}${path}`, { waitUntil: 'load' });
  const shoot = (name: string) => page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });

  it('logs in and shows the queues and the chart of the last 24 hours', async () => {
    await h.text(KAREN, 'HBK FORNY ALLE');
    await eventually(async () => (await h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'sent' }).first()) !== undefined, 10_000, 'the reply to be sent');
    await open('/admin');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Overblik');
    // Each queue by its Danish name, the technical one small beside it.
    for (const queue of Object.values(QUEUE)) {
      const link = page.getByRole('link', { name: QUEUE_TEXT[queue], exact: true });
      expect(await link.isVisible(), queue).to.equal(true);
      expect(await page.getByRole('row').filter({ has: link }).locator('code.queue-name').textContent(), queue).to.equal(queue);
    }
    // Drawn by Chart.js from the page's data: two datasets, and the bars of this hour.
    const chart = await page.waitForFunction(() => {
      const drawn = (globalThis as unknown as { Chart?: { getChart(id: string): { data: { datasets: { data: number[] }[] } } | undefined } }).Chart?.getChart('hourly-chart');
      return drawn?.data.datasets.map((dataset) => dataset.data.at(-1));
    });
    expect(await chart.jsonValue()).to.deep.equal([1, 1]);
    await shoot('overview');
  });

  it("finds the reply a number got and the reason each of its loans was or was not renewed", async () => {
    const reply = h.twilio.messagesTo(KAREN)[0]?.body ?? '';
    await open('/admin/messages');
    await page.getByLabel('Nummer eller e-mail').fill('61 00 00 01');
    await page.getByRole('button', { name: 'Søg' }).click();
    await page.getByRole('link', { name: `hele samtalen med ${showParty(KAREN)}` }).click();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(`Samtale med ${showParty(KAREN)}`);
    expect(await page.getByText(reply, { exact: true }).isVisible()).to.equal(true);
    const reserved = await h.deps.db('renewal_results as r').join('loans as l', 'l.id', 'r.loan_id').join('items as i', 'i.id', 'l.item_id').join('titles as t', 't.id', 'i.title_id').where('r.reason', 'on_reserve').first<{ title: string } | undefined>('t.title');
    if (!reserved) throw new Error('the fixture has no loan on reserve');
    const reservedTitle = reserved.title;
    expect(await page.getByRole('row').filter({ hasText: reservedTitle }).textContent()).to.contain('reserveret af en anden låner');
    await shoot('conversation');

    await page.getByRole('link', { name: 'Åbn fornyelsen' }).click();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(`FORNY ALLE fra ${showParty(KAREN)}`);
    const reasons = await page.locator('table.renewals tbody tr td:nth-child(5)').allTextContents();
    expect(reasons).to.include.members(['reserveret af en anden låner', 'fornyet det højeste antal gange', 'fjernlån skal fornys rettidigt', 'kan først fornys 7 dage før afleveringsfristen', 'materialet kan ikke fornys (udlånsbegrænsning)']);
    await shoot('renewal');
  });

  it('retries a message Twilio refused and sees it sent', async () => {
    h.twilio.failNext({ kind: 'http', status: 400, code: 21211, message: 'The To number is not a valid phone number.' });
    await h.text(OTHER_PATRON, 'HJÆLP');
    const failed = await eventually(() => h.deps.db('outbound_messages').where({ to_address: OTHER_PATRON, status: 'failed' }).first(), 10_000, 'the reply to fail');
    await open('/admin/failures');
    const row = page.locator(`#out-${failed.id}`);
    expect(await row.textContent()).to.contain('Ugyldigt telefonnummer');
    await shoot('failures');

    await row.getByRole('button', { name: 'Prøv igen' }).click();
    expect(await page.getByRole('status').textContent()).to.equal(`Besked out-${failed.id} er sat i kø og sendes igen.`);
    await eventually(async () => (await h.deps.db('outbound_messages').where({ id: failed.id }).first())?.status === 'sent', 10_000, 'the message to be sent');
    await open(`/admin/conversations/${encodeURIComponent(OTHER_PATRON)}`);
    expect(await page.locator('article.message.out').last().textContent()).to.contain('sendt');
    await open('/admin/failures');
    expect(await page.locator(`#out-${failed.id}`).count()).to.equal(0);
    expect(await page.locator('#audit-log').textContent()).to.contain('sendte en besked igen');
    await shoot('failures-after-retry');
  });

  it('fits a phone (390 px) and a desk (1280 px) on every page, in Danish only', async () => {
    // Something on every page: a failed SMS with Twilio's English words, a superseded reply with a
    // stored English reason, and a long text that must wrap by words.
    h.twilio.failNext({ kind: 'http', status: 400, code: 21211, message: 'The To number is not a valid phone number.' });
    await h.text(OTHER_PATRON, 'HJÆLP');
    await eventually(() => h.deps.db('outbound_messages').where({ to_address: OTHER_PATRON, status: 'failed' }).first(), 10_000, 'the reply to fail');
    await h.text(OTHER_PATRON, `Hej biblioteket, jeg har et spørgsmål om mine lån og om hvornår bøgerne skal afleveres, for jeg rejser væk i tre uger fra næste mandag ${'og kommer først hjem igen sidst på måneden '.repeat(3)}`);
    const folded = await eventually(() => h.deps.db('outbound_messages').where({ to_address: KAREN, purpose: 'renew-all' }).first(), 10_000, 'a reply to Karen');
    await h.deps.db('outbound_messages').where({ id: folded.id }).update({ status: 'superseded', superseded_reason: 'folded_into_later_reply' });
    const sid = (await h.deps.db('inbound_messages').where({ from_number: KAREN, command: 'renew-all' }).first())?.message_sid ?? '';
    const pages = ['/admin', '/admin/messages', `/admin/conversations/${encodeURIComponent(KAREN)}`, `/admin/conversations/${encodeURIComponent(OTHER_PATRON)}`, '/admin/renewals', `/admin/renewals/${sid}`, '/admin/failures'];
    const english = ['folded into a later renew-all reply', 'patron opted out of SMS', 'The To number is not a valid phone number', 'superseded', 'failed', 'delivered'];

    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      for (const path of pages) {
        await open(path);
        const size = await page.evaluate(() => {
          const browser = globalThis as unknown as { document: { documentElement: { scrollWidth: number } }; innerWidth: number };
          return { document: browser.document.documentElement.scrollWidth, window: browser.innerWidth };
        });
        expect(size.document, `${path} at ${width} px`).to.be.at.most(size.window);
        const text = await page.locator('body').innerText();
        for (const words of english) expect(text, `${path} at ${width} px`).not.to.contain(words);
        expect(text, path).to.match(/opdateret kl\. \d\d:\d\d:\d\d/);
        if (width === 390) await shoot(`phone${path.replace(/[^a-z0-9]+/gi, '-')}`);
      }
    }
    // The provider's words are there for whoever asks.
    await open('/admin/failures');
    await page.getByText('vis detaljer').first().click();
    expect(await page.locator('body').innerText()).to.contain('The To number is not a valid phone number');
    // The superseded reply's reason, in Danish, on Karen's conversation.
    await open(`/admin/conversations/${encodeURIComponent(KAREN)}`);
    expect(await page.locator('body').innerText()).to.contain('lagt sammen med et senere svar på FORNY ALLE');
  });

  it('reads on a 390 × 844 phone: every row a card, each value named, nothing off the screen or cut', async () => {
    // Every kind of row: Karen's renew-all (renewed and refused loans), a failed SMS with Twilio's
    // words, a failed job, a renew-all given up, a number no patron has.
    if (!(await h.deps.db('inbound_messages').where({ from_number: KAREN, command: 'renew-all' }).first())) {
      await h.text(KAREN, 'HBK FORNY ALLE');
      await eventually(() => h.deps.db('outbound_messages').where({ to_address: KAREN, status: 'sent' }).first(), 10_000, 'the reply to be sent');
    }
    // The failure goes to the next send: nothing else may be on its way.
    await eventually(async () => (await h.deps.db('outbound_messages').whereIn('status', ['scheduled', 'queued']).first()) === undefined, 10_000, 'the replies to leave');
    h.twilio.failNext({ kind: 'http', status: 400, code: 21211, message: 'The To number is not a valid phone number.' });
    await h.text(OTHER_PATRON, 'HJÆLP');
    await eventually(() => h.deps.db('outbound_messages').where({ to_address: OTHER_PATRON, status: 'failed' }).first(), 10_000, 'the reply to fail');
    await h.text(NOBODY, 'HBK FORNY ALLE');
    const { message: stuck } = await insertInbound(h.deps.db, { messageSid: newMessageSid(), accountSid: null, fromNumber: KAREN, toNumber: '1910', body: 'HBK FORNY ALLE', command: 'renew-all', status: 'received', libraryId: 'default' }, h.clock.now());
    await giveUpRenewAll(h.deps, stuck.id, 'every_try_failed');
    await h.deps.queues.renewAll.add('renew-all', { inboundId: 999_998 }, { jobId: 'in-999998', attempts: 1 });
    await eventually(async () => (await h.deps.queues.renewAll.getJob('in-999998'))?.isFailed(), 10_000, 'a job to fail');
    await eventually(() => h.twilio.messagesTo(NOBODY)[0], 10_000, 'the unknown-number answer');
    // A notice from the library system that wrote nothing: the overview's table of notices has a row.
    const karen = await h.deps.db('patrons').where({ mobile: KAREN }).first();
    if (!karen) throw new Error('the fixture has no Karen');
    const notice = { kind: 'reminder', cardNumber: karen.card_number, patronId: karen.id, contentHash: 'phone', loans: [], smsMessageId: null, emailMessageId: null, libraryId: 'default' } as const;
    if (!(await h.deps.db('notices').where({ id: 'phone-notice' }).first())) await insertNotices(h.deps.db, [{ ...notice, id: 'phone-notice' }], h.clock.now());
    // A reminder waiting for tomorrow's window: the overview's "Kø af SMS" has a row.
    const tomorrow = new Date(h.clock.now().getTime() + 24 * 3600_000);
    await insertOutbound(h.deps.db, { channel: 'sms', kind: 'reminder', purpose: 'reminder', patronId: karen.id, inboundId: null, to: KAREN, from: '1910', body: 'Påmindelse', sendAfter: tomorrow, dedupeKey: 'phone-backlog', libraryId: 'default' }, h.clock.now());
    const sid = (await h.deps.db('inbound_messages').where({ from_number: KAREN, command: 'renew-all', status: 'processed' }).first())?.message_sid ?? '';

    await page.setViewportSize({ width: 390, height: 844 });
    const pages: Record<string, string> = {
      overview: '/admin',
      renewals: '/admin/renewals',
      renewal: `/admin/renewals/${sid}`,
      conversation: `/admin/conversations/${encodeURIComponent(KAREN)}`,
      failures: '/admin/failures',
      messages: '/admin/messages',
    };
    const labelsOf = async (selector: string) => page.locator(selector).evaluateAll((cells: { getAttribute(name: string): string | null }[]) => cells.map((cell) => cell.getAttribute('data-label')));
    const found: Record<string, string[]> = {};
    for (const [name, path] of Object.entries(pages)) {
      await open(path);
      const seen = await page.evaluate<{ scrollWidth: number; problems: string[] }>(PHONE_CHECK);
      await page.screenshot({ path: `${SCREENSHOTS}phone-390-${name}.png`, fullPage: true });
      if (seen.scrollWidth > 390) seen.problems.unshift(`the page is ${seen.scrollWidth} px wide`);
      found[name] = seen.problems;
    }
    // Every page at once, so a failure shows all that is wrong.
    const unreadable = Object.entries(found).flatMap(([name, problems]) => problems.map((problem) => `${name}: ${problem}`));
    expect(unreadable.length, `what cannot be read at 390 px:\n${unreadable.join('\n')}\n`).to.equal(0);

    // The key values, each under its own name, on the screen.
    await open('/admin');
    for (const queue of Object.values(QUEUE)) {
      const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: QUEUE_TEXT[queue], exact: true }) });
      expect(await labelsOf(`#queues tr:has(a[href$="/${queue}"]) td`), queue).to.deep.equal(['venter', 'i gang', 'udskudt', 'fejlet', 'fuldført']);
      expect(await row.isVisible(), queue).to.equal(true);
    }
    expect(await labelsOf('#sms-backlog tbody tr:first-child td')).to.deep.equal(['Art', 'Skal sendes nu', 'Venter på sendevinduet']);
    expect(await labelsOf('#notices tbody tr:first-child td')).to.deep.equal(['Kanal', 'planlagt', 'i kø', 'sendt', 'leveret', 'ikke leveret', 'fejlet', 'bortfaldet', 'ikke skrevet']);
    await open(pages.renewals ?? '');
    expect(await labelsOf('tbody tr:first-child td[data-label]')).to.include.members(['Resultat', 'Svar']);
    await open(pages.renewal ?? '');
    const refused = page.locator('table.renewals tr.refused').first();
    expect(await refused.locator('td[data-label="Begrundelse"]').isVisible()).to.equal(true);
    expect(await refused.locator('td[data-label="Ny afleveringsfrist"]').isVisible(), 'an empty cell takes no room').to.equal(false);
  });

  it('opens Bull Board on every queue', async () => {
    await open('/admin/queues');
    await page.getByRole('link', { name: 'send-sms' }).first().waitFor();
    await page.getByRole('link', { name: 'renew-all' }).first().click();
    await page.getByText('in-1').first().waitFor();
    await shoot('bull-board');
    // Bull Board's own layout fits a phone too; its way back to /admin is in its top-right menu.
    for (const width of [390, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      const size = await page.evaluate(() => {
        const browser = globalThis as unknown as { document: { documentElement: { scrollWidth: number } }; innerWidth: number };
        return { document: browser.document.documentElement.scrollWidth, window: browser.innerWidth };
      });
      expect(size.document, `Bull Board at ${width} px`).to.be.at.most(size.window);
    }
    problems = problems.filter((problem) => !BLOCKED_GOOGLE_FONTS.test(problem.replace(/^console error: /, '')));
  });

  it('shows the overview as the README pictures it', async function () {
    await open('/admin');
    await page.waitForFunction(() => (globalThis as unknown as { Chart?: { getChart(id: string): unknown } }).Chart?.getChart('hourly-chart') !== undefined);
    await shoot('overview-after');
    if (process.env.FORNY_DOCS_SCREENSHOT === '1') await page.screenshot({ path: DOCS_SCREENSHOT, fullPage: true });
  });
});
