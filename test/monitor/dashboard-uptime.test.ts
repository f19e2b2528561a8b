// The dashboard's uptime follows the checks: a server that stays down loses uptime at
// every check (the API's figure), with no state change and so no status event; the page
// must show that figure, not the one of the moment it went down. Real Chromium, real API.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumPath } from '../helpers/chromium.js';
import { ADMIN, startApi, type ApiHarness } from './api-helpers.js';
import { serverInput, sqliteDatabase, waitFor, type TestDatabase } from './helpers.js';

describe('dashboard uptime of a server that went down, and its charts', () => {
  let db: TestDatabase;
  let api: ApiHarness;
  let target: HttpServer;
  let healthy = true;
  let browser: Browser;
  let serverId = 0;

  beforeAll(async () => {
    db = sqliteDatabase();
    api = await startApi(db);
    target = createServer((_req, res) => {
      res.statusCode = healthy ? 200 : 503;
      res.end();
    }).listen(0, '127.0.0.1');
    await new Promise((resolve) => target.once('listening', resolve));
    const port = (target.address() as AddressInfo).port;
    serverId = (await api.monitor.store.servers.create(serverInput({ name: 'flaky', port }))).id;
    await api.monitor.runNow();
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });
  afterAll(async () => {
    await browser?.close();
    await api?.shutdown();
    await new Promise((resolve) => target?.close(resolve));
    await db?.drop();
  });

  const apiUptime = async (token: string) => {
    const res = await request(api.url).get(`/api/servers/${serverId}/`).set('Authorization', `Bearer ${token}`);
    return (res.body as { current_status: { uptime: { '24h': number } } }).current_status.uptime['24h'];
  };
  const shown = (page: Page) => page.locator(`#servers tbody tr[data-server-id="${serverId}"] .uptime-24h`).textContent();
  const format = (value: number) => `${value.toFixed(value >= 99.995 || value === 0 ? 0 : 2)} %`;

  it("shows the API's uptime after checks that changed nothing (not the figure of the moment it went down), and scales its charts to the data", async () => {
    const token = await api.login();
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${api.url}/monitor/`);
      await page.fill('#login-username', ADMIN.username);
      await page.fill('#login-password', ADMIN.password);
      await page.click('#login-form button[type="submit"]');
      await page.waitForSelector(`#servers tbody tr[data-server-id="${serverId}"][data-status="up"]`);
      await page.waitForFunction(`document.body.dataset.live === 'open'`);
      expect(await shown(page)).toBe('100 %');

      // Up for a while, then down: the status event carries the uptime of that moment (about 100 %).
      const upSince = Date.now();
      await waitFor(() => Date.now() - upSince >= 1000, 2000, 'a second of uptime');
      healthy = false;
      await api.monitor.runNow();
      await page.waitForSelector(`#servers tbody tr[data-server-id="${serverId}"][data-status="down"]`);
      // Down as long again, and checked again: no state change, the uptime drops to about half.
      const downSince = Date.now();
      await waitFor(() => Date.now() - downSince >= 1500, 3000, 'time down');
      await api.monitor.runNow();
      const figure = await apiUptime(token);
      expect(figure).toBeLessThan(80);
      await expect.poll(() => shown(page), { timeout: 10_000 }).toBe(format(figure));

      // The charts' axes, as the page computes them: the data's span and values, not a fixed hour from 0.
      // A string, so the test runner does not rewrite the page's dynamic import.
      const axes = (await page.evaluate(`(async () => {
        const app = document.querySelector('script[type="module"]').src;
        const scale = await import(app.replace(/app\\.js$/, 'scale.js'));
        const now = Date.now();
        const back = (range) => range.map((s) => now / 1000 - s);
        return {
          onePoint: back(scale.timeRange([{ t: now - 30000 }], now, 3600)),
          twoMinutes: back(scale.timeRange([{ t: now - 120000 }, { t: now }], now, 3600)),
          hours: back(scale.timeRange([{ t: now - 7200000 }], now, 3600)),
          slowServer: scale.valueRange(200, 250),
        };
      })()`)) as { onePoint: number[]; twoMinutes: number[]; hours: number[]; slowServer: number[] };
      expect(axes.onePoint).toEqual([60, 0]);
      expect(axes.twoMinutes).toEqual([120, 0]);
      expect(axes.hours).toEqual([3600, 0]);
      expect(axes.slowServer[0]).toBeGreaterThan(150);
      expect(axes.slowServer[1]).toBeLessThan(300);
    } finally {
      await context.close();
    }
  }, 60_000);
});
