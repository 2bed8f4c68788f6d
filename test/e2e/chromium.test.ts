import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { launchChromium, npmChromium } from '../helpers/chromium.js';

/**
 * The browser `npm ci` brings (issue 20): on a machine without Debian's chromium the dashboard
 * tests run on it, so it is launched here even where /usr/bin/chromium exists and would be chosen.
 */
describe('the headless Chromium that comes with npm ci', function () {
  this.timeout(60_000);

  it('launches with the browser tests\' flags and renders a page, without Debian\'s chromium', async () => {
    const browser = await launchChromium({ path: await npmChromium(), source: 'npm' });
    try {
      expect(browser.version()).to.match(/^\d+\./);
      const page = await browser.newPage({ viewport: { width: 390, height: 800 } });
      await page.setContent('<!doctype html><meta charset="utf-8"><h1>Fornyelser</h1><p>Hent senest 8. december på Helsingør Bibliotek.</p>');
      expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Fornyelser');
      expect(await page.locator('p').innerText()).to.equal('Hent senest 8. december på Helsingør Bibliotek.');
      expect(await page.evaluate(() => (globalThis as unknown as { innerWidth: number }).innerWidth)).to.equal(390);
    } finally {
      await browser.close();
    }
  });

  it('is inflated once per package version into node_modules/.cache, with nothing half-written left', async () => {
    const [first, second] = await Promise.all([npmChromium(), npmChromium()]);
    expect(second).to.equal(first);
    expect(first).to.match(/node_modules\/\.cache\/forny-chromium\/[^/]+\/chromium$/);
    expect(readdirSync(dirname(first)).filter((name) => name.endsWith('.partial'))).to.deep.equal([]);
  });
});
