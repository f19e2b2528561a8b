import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/monitor/auth/passwords.js';
import { chromiumPath } from '../helpers/chromium.js';
import { ADMIN, READER, startApi, type ApiHarness } from './api-helpers.js';
import { serverInput, sqliteDatabase, type TestDatabase } from './helpers.js';

// The users page and the password dialog in a real Chromium against the real API.
describe('dashboard users page', () => {
  let db: TestDatabase;
  let api: ApiHarness;
  let browser: Browser;
  let context: BrowserContext | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    db = sqliteDatabase();
    api = await startApi(db);
    await api.monitor.store.servers.create(serverInput({ name: 'database', protocol: 'tcp', host: '127.0.0.1', port: 1 }));
    browser = await chromium.launch({
      executablePath: chromiumPath(),
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
    await db?.drop();
    expect(pageErrors).toEqual([]);
  });

  async function login(user: { username: string; password: string }): Promise<Page> {
    context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${api.url}/monitor/`);
    await page.fill('#login-username', user.username);
    await page.fill('#login-password', user.password);
    await page.click('#login-form button[type="submit"]');
    await page.waitForSelector('#dashboard-view', { state: 'visible' });
    return page;
  }

  it('lets an admin add, edit and remove users, with the API field errors under the fields', async () => {
    const page = await login(ADMIN);
    await page.waitForSelector('#users', { state: 'visible' });
    await expect.poll(() => page.locator('#user-list tbody tr').count()).toBe(2);

    await page.click('#add-user');
    await page.fill('#user-username', 'has spaces');
    await page.fill('#user-password', 'short');
    await page.click('#user-form button[type="submit"]');
    const usernameError = page.locator('#user-form [data-error-for="username"]');
    await expect.poll(async () => (await usernameError.textContent()) ?? '').toMatch(/Enter a valid username/);
    expect(await page.locator('#user-form [data-error-for="password"]').textContent()).toMatch(/too short/);
    expect(await page.getAttribute('#user-username', 'aria-invalid')).toBe('true');

    await page.fill('#user-username', 'grace');
    await page.fill('#user-password', 'grace-password-1');
    await page.check('#user-staff');
    await page.click('#user-form button[type="submit"]');
    await page.waitForSelector('#user-dialog', { state: 'hidden' });
    const row = page.locator('#user-list tbody tr', { hasText: 'grace' });
    await row.waitFor();
    expect(await row.locator('td').nth(1).textContent()).toBe('admin');
    const grace = (await api.monitor.store.users.byUsername('grace'))!;
    expect(await verifyPassword('grace-password-1', grace.password_hash)).toBe(true);

    await row.locator('button[data-action="edit"]').click();
    await page.uncheck('#user-active');
    await page.click('#user-form button[type="submit"]');
    await page.waitForSelector('#user-dialog', { state: 'hidden' });
    await expect.poll(() => row.locator('td').nth(2).textContent()).toBe('no');
    // Editing without a password keeps it.
    expect((await api.monitor.store.users.byUsername('grace'))!.password_hash).toBe(grace.password_hash);

    // The last active admin stays: the refusal shows in the form.
    const me = page.locator('#user-list tbody tr', { hasText: /^admin/ }).first();
    await me.locator('button[data-action="edit"]').click();
    await page.uncheck('#user-staff');
    await page.click('#user-form button[type="submit"]');
    await expect
      .poll(async () => (await page.locator('#user-form [data-error-for="is_staff"]').textContent()) ?? '')
      .toMatch(/last active admin/);
    await page.click('#user-dialog [data-close]');

    page.once('dialog', (dialog) => void dialog.accept());
    await row.locator('button[data-action="delete"]').click();
    await expect.poll(() => row.count()).toBe(0);
    expect(await api.monitor.store.users.byUsername('grace')).toBeUndefined();
  });

  it('shows a read-only user no users page, and lets them change their password (wrong current one: field error)', async () => {
    const page = await login(READER);
    await page.waitForSelector('#servers tbody tr[data-server-id]');
    expect(await page.isVisible('#users')).toBe(false);
    await page.click('#change-password');
    await page.fill('#password-old', 'not-the-password');
    await page.fill('#password-new', 'reader-password-2');
    await page.click('#password-form button[type="submit"]');
    await expect
      .poll(async () => (await page.locator('#password-form [data-error-for="old_password"]').textContent()) ?? '')
      .toMatch(/old password was entered incorrectly/);
    await page.fill('#password-old', READER.password);
    await page.fill('#password-new', 'reader-password-2');
    await page.click('#password-form button[type="submit"]');
    await page.waitForSelector('#password-dialog', { state: 'hidden' });
    const stored = (await api.monitor.store.users.byUsername(READER.username))!;
    expect(await verifyPassword('reader-password-2', stored.password_hash)).toBe(true);
  });
});
