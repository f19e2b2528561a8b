import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from './helpers/chromium.js';
import { startExampleApp, type ExampleApp } from './helpers/example-app.js';

const dir = mkdtempSync(join(tmpdir(), 'lifeline-page-'));

describe('example page in a real browser', () => {
  let app: ExampleApp;
  let browser: Browser;
  beforeAll(async () => {
    const executablePath = chromiumPath();
    app = await startExampleApp({ DATABASE_URL: join(dir, 'notes.db'), LOG_FILE: join(dir, 'backend.log') });
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the health status, the checks and the request count, and adds a note', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`${app.url}/`);
    await page.waitForSelector('#status[data-status="healthy"]', { timeout: 10_000 });
    expect(await page.textContent('#status')).toBe('healthy');
    expect(await page.textContent('tr[data-check="database"] td:nth-child(2)')).toBe('pass');
    expect(await page.textContent('tr[data-check="static_files"] td:nth-child(2)')).toBe('pass');
    const first = Number(await page.textContent('#request-count'));
    expect(first).toBeGreaterThan(0);
    // The page polls every 3 s: the count grows without a reload.
    await expect
      .poll(async () => Number(await page.textContent('#request-count')), { timeout: 8000, interval: 250 })
      .toBeGreaterThan(first);

    await page.fill('input[name="title"]', 'From the browser');
    await page.fill('textarea[name="body"]', 'typed by Playwright');
    await page.click('button[type="submit"]');
    await page.waitForSelector('#notes li:has-text("From the browser")');
    await page.click('button[type="submit"]'); // empty title: the browser's own validation stops it
    expect(await page.locator('#notes li').count()).toBe(1);
    if (process.env.LIFELINE_SCREENSHOT) await page.screenshot({ path: process.env.LIFELINE_SCREENSHOT, fullPage: true });
    expect(errors).toEqual([]);
  });

  it('says the backend is unreachable when it stops', async () => {
    const page = await browser.newPage();
    await page.goto(`${app.url}/`);
    await page.waitForSelector('#status[data-status="healthy"]');
    await app.stop();
    await page.waitForSelector('#status[data-status="unreachable"]', { timeout: 10_000 });
  });
});
