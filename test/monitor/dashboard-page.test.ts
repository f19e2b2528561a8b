import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../helpers/chromium.js';
import { ADMIN, READER, startApi, type ApiHarness } from './api-helpers.js';
import { serverInput, sqliteDatabase, type TestDatabase } from './helpers.js';

// The dashboard in a real Chromium against the real API on the same origin. Access tokens
// live 4 s here, so the page renews them many times during the run.
const ACCESS_SECONDS = 4;
const CSP_VIOLATION = /Content Security Policy|Refused to (?:apply|load|execute|connect|frame)/i;
const XSS_NAME = '<img src=x onerror="window.__xss=1">';

describe('monitor dashboard in a real browser', () => {
  let db: TestDatabase;
  let api: ApiHarness;
  let target: HttpServer;
  let browser: Browser;
  let context: BrowserContext | undefined;
  /** Every console line and page error of every page, checked for CSP violations at the end. */
  const consoleLines: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const executablePath = chromiumPath();
    db = sqliteDatabase();
    api = await startApi(db, { tokenLifetimes: { access: ACCESS_SECONDS } });
    target = createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1');
    await new Promise((resolve) => target.once('listening', resolve));
    const port = (target.address() as AddressInfo).port;
    const { store } = api.monitor;
    await store.servers.create(serverInput({ name: 'web', host: '127.0.0.1', port }));
    // Port 1 on the loopback refuses connections: a server that is down.
    await store.servers.create(serverInput({ name: 'database', protocol: 'tcp', host: '127.0.0.1', port: 1 }));
    await store.servers.create(serverInput({ name: XSS_NAME, host: '127.0.0.1', port }));
    for (let i = 0; i < 3; i++) await api.monitor.runNow();
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-sync'],
    });
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
    await api?.shutdown();
    await new Promise((resolve) => target?.close(resolve));
    await db?.drop();
  });

  /** A fresh tab (own sessionStorage) on the dashboard; `watch` false keeps its console out of the final check. */
  async function open(watch = true, { clock = false } = {}): Promise<Page> {
    context = await browser.newContext();
    const page = await context.newPage();
    // A fake clock (running at real speed) lets a test jump over the minute of the slow refresh.
    if (clock) await page.clock.install();
    if (watch) {
      page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
      page.on('pageerror', (error) => pageErrors.push(error.message));
    }
    await page.goto(`${api.url}/monitor/`);
    await page.waitForSelector('#login-form', { state: 'visible' });
    return page;
  }

  async function login(page: Page, user = ADMIN): Promise<void> {
    await page.fill('#login-username', user.username);
    await page.fill('#login-password', user.password);
    await page.click('#login-form button[type="submit"]');
    await page.waitForSelector('#dashboard-view', { state: 'visible' });
    await page.waitForSelector('#servers tbody tr[data-server-id]');
  }

  const row = (page: Page, name: string) => page.locator('#servers tbody tr', { has: page.locator('.name', { hasText: name }) });

  it('shows the API error when the password is wrong', async () => {
    const page = await open();
    await page.fill('#login-username', ADMIN.username);
    await page.fill('#login-password', 'not-the-password');
    await page.click('#login-form button[type="submit"]');
    await expect.poll(() => page.textContent('#login-error')).toBe('No active account found with the given credentials');
    expect(await page.isVisible('#dashboard-view')).toBe(false);

    // Blank fields: the API's messages, under each field.
    await page.fill('#login-username', '');
    await page.fill('#login-password', '');
    await page.click('#login-form button[type="submit"]');
    await expect.poll(() => page.textContent('#login-username-error')).toBe('This field may not be blank.');
    expect(await page.textContent('#login-password-error')).toBe('This field may not be blank.');
    expect(await page.textContent('#login-error')).toBe('');
  });

  it('shows the throttle message after too many failed logins', async () => {
    const page = await open();
    // Another username than the admin's: the throttle counts per IP and username.
    await page.fill('#login-username', 'mallory');
    await page.fill('#login-password', 'guess');
    for (let i = 0; i < 6; i++) {
      await page.click('#login-form button[type="submit"]');
      await page.waitForSelector('#login-error:not(:empty)');
      if ((await page.textContent('#login-error'))!.startsWith('Request was throttled')) break;
      await page.evaluate(`document.querySelector('#login-error').textContent = ''`);
    }
    expect(await page.textContent('#login-error')).toMatch(/^Request was throttled\. Expected available in \d+ seconds\.$/);
  });

  it('logs in and lists every server with status, uptime, last check, response time and a sparkline', async () => {
    const page = await open();
    await login(page);
    expect(await page.textContent('#whoami')).toBe(ADMIN.username);
    await expect.poll(() => page.locator('#servers tbody tr').count()).toBe(3);

    const web = row(page, 'web');
    expect(await web.getAttribute('data-status')).toBe('up');
    expect(await web.locator('.badge').textContent()).toBe('up');
    expect(await web.locator('.uptime-24h').textContent()).toMatch(/^\d+(\.\d+)? %$/);
    expect(await web.locator('.uptime-30d').textContent()).toMatch(/^\d+(\.\d+)? %$/);
    expect(await web.locator('.last-check').textContent()).toMatch(/ago$/);
    expect(await web.locator('.response-time').textContent()).toMatch(/^\d+ ms$/);
    expect(await web.locator('.sparkline canvas').count()).toBe(1);
    const box = await web.locator('.sparkline canvas').boundingBox();
    expect(box?.width).toBeGreaterThan(50);

    const database = row(page, 'database');
    expect(await database.getAttribute('data-status')).toBe('down');
    expect(await database.locator('.response-time').textContent()).toBe('failure');
    expect(await database.locator('.sparkline canvas').count()).toBe(1);
    expect(await page.textContent('#summary')).toBe('3 servers: 2 up, 1 down');

    // Data is text: a name that looks like HTML is shown as typed and runs nothing.
    expect(await row(page, XSS_NAME).locator('.name').textContent()).toBe(XSS_NAME);
    expect(await page.locator('#servers img').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
  });

  it("opens a server's last hour from its name: a chart and the latest results with their errors", async () => {
    const page = await open();
    await login(page);
    await row(page, 'database').locator('button.name').click();
    await page.waitForSelector('#detail-dialog', { state: 'visible' });
    expect(await page.textContent('#detail-title')).toBe('database');
    expect(await page.textContent('#detail-dialog .detail-target')).toBe('tcp://127.0.0.1:1');
    expect(await page.locator('#detail-dialog .detail-chart canvas').count()).toBe(1);
    const results = page.locator('#detail-dialog .detail-results tbody tr');
    expect(await results.count()).toBe(3);
    expect(await results.first().locator('td').nth(1).textContent()).toBe('failure');
    expect(await results.first().locator('td.error').textContent()).toBe('connection refused');
    await page.click('#detail-dialog [data-close]');
    await page.waitForSelector('#detail-dialog', { state: 'hidden' });
  });

  it('adds, renames and drops the rows of servers changed elsewhere at once (no refresh), and keeps the session', async () => {
    const page = await open(true, { clock: true });
    let renewals = 0;
    let listReads = 0;
    page.on('request', (req) => {
      if (req.url().endsWith('/api/auth/token/refresh/')) renewals++;
      if (new URL(req.url()).pathname === '/api/servers/') listReads++;
    });
    await login(page);
    const reads = listReads;
    const port = (target.address() as AddressInfo).port;
    // Not checked yet: the row comes from the stream's `server` event alone.
    const added = await api.monitor.store.servers.create(serverInput({ name: 'added-elsewhere', host: '127.0.0.1', port }));
    await row(page, 'added-elsewhere').waitFor({ timeout: 1000 });
    expect(await row(page, 'added-elsewhere').getAttribute('data-status')).toBe('pending');
    await api.monitor.runNow([added.id]);
    await expect.poll(() => row(page, 'added-elsewhere').getAttribute('data-status'), { timeout: 2000 }).toBe('up');
    await api.monitor.store.servers.update(added.id, serverInput({ name: 'renamed-elsewhere', host: '127.0.0.1', port }));
    await row(page, 'renamed-elsewhere').waitFor({ timeout: 1000 });
    expect(await row(page, 'added-elsewhere').count()).toBe(0);
    // All of it without reading the list again (a stream that reconnects may: it reads the list once if it gets a snapshot).
    expect(listReads).toBe(reads);
    // Past two access-token lifetimes: still logged in, still live.
    await page.waitForTimeout(ACCESS_SECONDS * 2000 + 500);
    expect(renewals).toBeGreaterThanOrEqual(1);
    expect(await page.isVisible('#dashboard-view')).toBe(true);
    expect(await page.getAttribute('#refreshed', 'class')).not.toContain('problem');
    await api.monitor.store.servers.remove(added.id);
    // Within a second: from the stream's event (the list is read again every 60 s at most).
    await expect.poll(() => row(page, 'renamed-elsewhere').count(), { timeout: 1000 }).toBe(0);
  }, 45_000);

  it('lets an admin add a server, showing the API field error next to a bad port', async () => {
    const page = await open();
    await login(page);
    await page.click('#add-server');
    await page.fill('#server-name', 'api.example');
    await page.selectOption('#server-protocol', 'https');
    await page.fill('#server-host', 'api.example.com');
    await page.fill('#server-port', '70000');
    await page.click('#server-form button[type="submit"]');
    const portError = page.locator('#server-port ~ [data-error-for="port"]');
    await expect.poll(() => portError.textContent()).toBe('Ensure this value is less than or equal to 65535.');
    expect(await page.getAttribute('#server-port', 'aria-invalid')).toBe('true');
    expect(await page.isVisible('#server-dialog')).toBe(true);

    await page.fill('#server-port', '443');
    await page.fill('#server-tags', 'prod, api');
    await page.click('#server-form button[type="submit"]');
    await page.waitForSelector('#server-dialog', { state: 'hidden' });
    await row(page, 'api.example').waitFor();
    expect(await row(page, 'api.example').locator('.target').textContent()).toBe('https://api.example.com:443/');
    const stored = (await api.monitor.store.servers.list({ query: 'api.example' })).results[0]!;
    expect(stored).toMatchObject({ protocol: 'https', host: 'api.example.com', port: 443, tags: ['prod', 'api'] });
  });

  it('lets an admin edit and delete a server', async () => {
    const port = (target.address() as AddressInfo).port;
    const created = await api.monitor.store.servers.create(serverInput({ name: 'to-edit', host: '127.0.0.1', port }));
    const page = await open();
    await login(page);
    await row(page, 'to-edit').waitFor();

    await row(page, 'to-edit').locator('button[data-action="edit"]').click();
    expect(await page.inputValue('#server-name')).toBe('to-edit');
    expect(await page.inputValue('#server-port')).toBe(String(port));
    await page.fill('#server-name', 'edited');
    await page.fill('#server-interval', '0');
    await page.click('#server-form button[type="submit"]');
    await expect
      .poll(() => page.locator('[data-error-for="check_interval"]').textContent())
      .toBe('Ensure this value is greater than or equal to 1.');
    await page.fill('#server-interval', '30');
    await page.click('#server-form button[type="submit"]');
    await page.waitForSelector('#server-dialog', { state: 'hidden' });
    await row(page, 'edited').waitFor();
    expect(await api.monitor.store.servers.get(created.id)).toMatchObject({ name: 'edited', check_interval: 30 });

    page.once('dialog', (dialog) => void dialog.accept());
    await row(page, 'edited').locator('button[data-action="delete"]').click();
    await expect.poll(() => row(page, 'edited').count()).toBe(0);
    expect(await api.monitor.store.servers.get(created.id)).toBeUndefined();
  }, 30_000);

  it('lets an admin add, edit and remove a notification config, with field errors', async () => {
    const page = await open();
    await login(page);
    await page.waitForSelector('#notifications', { state: 'visible' });
    await page.click('#add-notification');
    await page.selectOption('#notification-server', { label: 'web' });
    await page.selectOption('#notification-type', 'email');
    await page.fill('#notification-recipient', 'not an address');
    await page.click('#notification-form button[type="submit"]');
    const recipientError = page.locator('[data-error-for="recipient"]');
    await expect.poll(async () => (await recipientError.textContent()) ?? '').not.toBe('');
    expect(await page.getAttribute('#notification-recipient', 'aria-invalid')).toBe('true');

    await page.fill('#notification-recipient', 'ops@example.com');
    await page.click('#notification-form button[type="submit"]');
    await page.waitForSelector('#notification-dialog', { state: 'hidden' });
    const configRow = page.locator('#notification-list tbody tr', { hasText: 'ops@example.com' });
    await configRow.waitFor();
    expect(await configRow.locator('td').first().textContent()).toBe('web');

    await configRow.locator('button[data-action="edit"]').click();
    await page.uncheck('#notification-recovery');
    await page.click('#notification-form button[type="submit"]');
    await page.waitForSelector('#notification-dialog', { state: 'hidden' });
    await expect.poll(() => configRow.locator('td').nth(5).textContent()).toBe('no');

    page.once('dialog', (dialog) => void dialog.accept());
    await configRow.locator('button[data-action="delete"]').click();
    await expect.poll(() => configRow.count()).toBe(0);
    expect(await api.monitor.store.notifications.list()).toEqual([]);
  });

  it('shows a read-only user no edit controls', async () => {
    const page = await open();
    await login(page, READER);
    await expect.poll(() => page.locator('#servers tbody tr').count()).toBeGreaterThanOrEqual(3);
    expect(await page.isVisible('#add-server')).toBe(false);
    expect(await page.isVisible('#notifications')).toBe(false);
    expect(await page.isVisible('#server-actions-head')).toBe(false);
    expect(await page.locator('#servers button[data-action="edit"], #servers button[data-action="delete"]').count()).toBe(0);
    expect(await page.locator('#servers td.actions').count()).toBe(0);
    expect(await row(page, 'web').locator('.sparkline canvas').count()).toBe(1);
  });

  it('logs out, and ends the session when the API refuses its tokens', async () => {
    const page = await open();
    await login(page);
    await page.click('#logout');
    await page.waitForSelector('#login-view', { state: 'visible' });
    expect(await page.textContent('#notice')).toBe('You have logged out.');
    expect(await page.locator('#servers tbody tr').count()).toBe(0);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);

    // Tokens the API does not accept (another secret, or a deleted user): 401, then the login form.
    await login(page);
    await page.evaluate(
      `sessionStorage.setItem('monitor.session', JSON.stringify({ access: 'a.b.c', refresh: 'd.e.f', expiresAt: Date.now() + 60000 }))`,
    );
    await page.reload();
    await page.waitForSelector('#login-view', { state: 'visible' });
    expect(await page.textContent('#notice')).toBe('Your session has ended: log in again.');
  });

  it('keeps the session across a reload of the tab', async () => {
    const page = await open();
    await login(page);
    await page.reload();
    await page.waitForSelector('#servers tbody tr[data-server-id]');
    expect(await page.isVisible('#login-view')).toBe(false);
  });

  it('is what the API serves on the same origin, with the API on /api/', async () => {
    const res = await request(api.url).get('/monitor/').expect(200);
    expect(res.headers['content-security-policy']).toMatch(/connect-src 'self'/);
    const page = await open();
    const apiCalls: string[] = [];
    page.on('request', (req) => {
      if (req.resourceType() === 'fetch') apiCalls.push(req.url());
    });
    await login(page);
    expect(apiCalls.length).toBeGreaterThan(0);
    expect(apiCalls.every((url) => url.startsWith(`${api.url}/api/`))).toBe(true);
  });

  it('would see a CSP violation in the console (the check below can fail)', async () => {
    const page = await open(false);
    const seen: string[] = [];
    page.on('console', (message) => seen.push(message.text()));
    // An inline style attribute: the CSP refuses it and Chromium says so in the console.
    await page.evaluate(
      `{ const div = document.createElement('div'); div.setAttribute('style', 'color: red'); document.body.append(div); }`,
    );
    await expect.poll(() => seen.some((line) => CSP_VIOLATION.test(line))).toBe(true);
  });

  it('logged no CSP violation and no page error in any of the runs above', () => {
    expect(consoleLines.filter((line) => CSP_VIOLATION.test(line))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
