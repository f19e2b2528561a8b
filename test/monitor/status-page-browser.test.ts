import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../helpers/chromium.js';
import { ADMIN, startApi, type ApiHarness } from './api-helpers.js';
import { serverInput, sqliteDatabase, type TestDatabase } from './helpers.js';
import { startTarget, type Target } from './target.js';

const CSP_VIOLATION = /Content Security Policy|Refused to (?:apply|load|execute|connect|frame)/i;

// The public status page in a real Chromium: whole without JavaScript, live with it, and
// nothing the strict CSP refuses.
describe('public status page in a real browser', () => {
  let db: TestDatabase;
  let api: ApiHarness;
  let target: Target;
  let browser: Browser;
  let web: number;

  beforeAll(async () => {
    const executablePath = chromiumPath();
    db = sqliteDatabase();
    target = await startTarget();
    api = await startApi(db);
    const { store } = api.monitor;
    web = (await store.servers.create(serverInput({ name: 'web-internal', port: target.port, path: '/web' }))).id;
    const db2 = (await store.servers.create(serverInput({ name: 'db-internal', port: target.port, path: '/db' }))).id;
    await store.statusPages.create({
      slug: 'acme',
      title: 'Acme <Status>',
      description: 'Everything we run',
      servers: [web, db2],
      display_names: { [web]: 'Website', [db2]: 'Database' },
    });
    await api.monitor.runNow();
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  });
  afterAll(async () => {
    await browser?.close();
    await api?.shutdown();
    await target?.close();
    await db?.drop();
  });

  it('reads without JavaScript', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const res = await page.goto(`${api.url}/status/acme`);
    expect(res?.status()).toBe(200);
    expect(await page.textContent('h1')).toBe('Acme <Status>');
    expect(await page.textContent('#overall-text')).toBe('All systems operational');
    const rows = page.locator('#servers > li');
    expect(await rows.count()).toBe(2);
    expect(await rows.nth(0).locator('.name').textContent()).toBe('Website');
    expect(await rows.nth(0).locator('.status').textContent()).toBe('Operational');
    expect(await rows.nth(0).locator('.days > li').count()).toBe(90);
    // The stylesheet applied (a day bar has the operational colour from the CSS file).
    const colour = await page.evaluate(
      "getComputedStyle(document.querySelector('#servers > li:first-child .days > li:last-child')).backgroundColor",
    );
    expect(colour).toBe('rgb(31, 157, 85)');
    await context.close();
  });

  it('follows status changes and incidents live, without a CSP violation', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const lines: string[] = [];
    page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
    // Every CSP violation the page reports, from before its first script.
    await page.addInitScript(
      "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
    );
    await page.goto(`${api.url}/status/acme`);
    await page.waitForSelector('body[data-live="true"]');
    expect(await page.isVisible('#live')).toBe(true);

    target.failing.add('/web');
    await api.monitor.runNow([web]);
    const row = page.locator(`#servers > li[data-server-id="${web}"]`);
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('outage');
    expect(await row.locator('.status').textContent()).toBe('Outage');
    await expect.poll(() => page.getAttribute('#overall', 'data-status')).toBe('outage');
    await expect.poll(() => page.textContent('#open-incidents h3')).toBe('Website is down');

    target.failing.delete('/web');
    await api.monitor.runNow([web]);
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('operational');
    await expect.poll(() => page.locator('#open-incidents article').count()).toBe(0);
    expect(await page.locator('#past-incidents article[data-state="resolved"] h3').textContent()).toBe('Website is down');

    expect(await page.evaluate('window.__csp')).toEqual([]);
    expect(lines.filter((l) => CSP_VIOLATION.test(l) || l.startsWith('pageerror') || l.startsWith('error'))).toEqual([]);
    await context.close();
  });

  it("lets an admin manage pages and incidents in the dashboard, with the API's field errors", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const lines: string[] = [];
    page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
    await page.goto(`${api.url}/monitor/`);
    await page.fill('#login-username', ADMIN.username);
    await page.fill('#login-password', ADMIN.password);
    await page.click('#login-form button[type="submit"]');
    await page.waitForSelector('#page-list tbody tr[data-slug="acme"]');
    expect(await page.getAttribute('#page-list tr[data-slug="acme"] a', 'href')).toBe('../status/acme');

    await page.click('#add-page');
    await page.fill('#page-slug', 'Bad Slug');
    await page.fill('#page-servers', `${web}, 999999`);
    await page.fill('#page-names', `${web}=Public web`);
    await page.click('#page-form button[type="submit"]');
    await expect.poll(() => page.textContent('#page-form [data-error-for="slug"]')).toMatch(/^Enter a valid "slug"/);
    expect(await page.textContent('#page-form [data-error-for="title"]')).toBe('This field is required.');
    await page.fill('#page-slug', 'public');
    await page.fill('#page-title', 'Public');
    await page.click('#page-form button[type="submit"]');
    await expect.poll(() => page.textContent('#page-form [data-error-for="servers"]')).toBe('Invalid pk "999999" - object does not exist.');
    await page.fill('#page-servers', String(web));
    await page.click('#page-form button[type="submit"]');
    await page.waitForSelector('#page-list tr[data-slug="public"]');
    expect((await api.monitor.store.statusPages.get('public'))?.display_names).toEqual({ [web]: 'Public web' });

    await page.click('#add-incident');
    await page.fill('#incident-servers', String(web));
    await page.click('#incident-form button[type="submit"]');
    await expect.poll(() => page.textContent('#incident-form [data-error-for="title"]')).toBe('This field is required.');
    await page.fill('#incident-title', 'Planned database move');
    await page.fill('#incident-message', 'Moving the database.');
    await page.click('#incident-form button[type="submit"]');
    const row = page.locator('#incident-list tr', { hasText: 'Planned database move' });
    await row.waitFor();
    await row.locator('button[data-action="update"]').click();
    await page.click('#update-form button[type="submit"]');
    await expect.poll(() => page.textContent('#update-form [data-error-for="message"]')).toBe('This field is required.');
    await page.selectOption('#update-state', 'resolved');
    await page.fill('#update-message', 'Done.');
    await page.click('#update-form button[type="submit"]');
    await expect.poll(() => row.getAttribute('data-state')).toBe('resolved');
    expect(lines.filter((l) => CSP_VIOLATION.test(l) || l.startsWith('pageerror'))).toEqual([]);
    await context.close();
  });
});
