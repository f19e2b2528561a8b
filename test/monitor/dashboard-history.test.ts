import { chromium, type Browser, type Page } from 'playwright-core';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryBucket } from '../../src/monitor/store/history.js';
import { chromiumPath } from '../helpers/chromium.js';
import { ADMIN, startApi, type ApiHarness } from './api-helpers.js';
import { serverInput, sqliteDatabase, type TestDatabase } from './helpers.js';

// The server view in a real Chromium: range buttons that redraw the chart from the history
// API, the heartbeat bar of the last 50 checks with their errors, a server in maintenance.
const CSP_VIOLATION = /Content Security Policy|Refused to (?:apply|load|execute|connect|frame)/i;
const HOUR = 3_600_000;

describe('the dashboard server view', () => {
  let db: TestDatabase;
  let api: ApiHarness;
  let browser: Browser;
  let serverId: number;
  const consoleLines: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    db = sqliteDatabase();
    api = await startApi(db);
    const { store } = api.monitor;
    // Port 1 refuses: never checked here (schedule off); its results are written below at known times.
    serverId = (await store.servers.create(serverInput({ name: 'flaky', protocol: 'tcp', host: '127.0.0.1', port: 1 }))).id;
    await store.servers.create(serverInput({ name: 'under-maintenance', protocol: 'tcp', host: '127.0.0.1', port: 1 }));
    const now = Date.now();
    // 60 checks in the last 30 minutes, every fifth failing with its own error.
    await store.db('monitor_ping_results').insert(
      Array.from({ length: 60 }, (_, i) => ({
        server_id: serverId,
        status: i % 5 === 4 ? 'failure' : 'success',
        response_time: i % 5 === 4 ? null : 10 + i,
        status_code: null,
        error_message: i % 5 === 4 ? `connection refused #${i}` : null,
        check_timestamp: now - (60 - i) * 30_000,
      })),
    );
    // Three days ago, rolled up: the 7-day chart starts there, the 24-hour one does not.
    const old = Math.floor((now - 3 * 24 * HOUR) / HOUR) * HOUR;
    await store
      .db('monitor_rollups')
      .insert({ server_id: serverId, hour: old, count: 60, failures: 6, avg_response_ms: 40, p95_response_ms: 90 });
    await store.settings.set('rollup_watermark', String(Math.floor((now - 2 * HOUR) / HOUR) * HOUR));
    const maintained = (await store.servers.all()).find((s) => s.name === 'under-maintenance')!;
    await store.maintenance.create({
      title: 'upgrade',
      servers: [maintained.id],
      starts_at: new Date(now - HOUR).toISOString(),
      ends_at: new Date(now + HOUR).toISOString(),
      cron: null,
      duration_minutes: null,
      timezone: null,
    });
    browser = await chromium.launch({
      executablePath: chromiumPath(),
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await api?.shutdown();
    await db?.drop();
  });

  async function openDashboard(): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${api.url}/monitor/`);
    await page.fill('#login-username', ADMIN.username);
    await page.fill('#login-password', ADMIN.password);
    await page.click('#login-form button[type="submit"]');
    await page.waitForSelector('#servers tbody tr[data-server-id]');
    return page;
  }

  const history = async (range: string) => {
    const token = await api.login();
    const res = await request(api.url).get(`/api/servers/${serverId}/history/?range=${range}`).set('Authorization', `Bearer ${token}`);
    return (res.body as { buckets: HistoryBucket[] }).buckets;
  };

  it('shows a server in a maintenance window as maintenance', async () => {
    const page = await openDashboard();
    const row = page.locator('#servers tbody tr', { has: page.locator('.name', { hasText: 'under-maintenance' }) });
    await expect.poll(() => row.locator('.badge').textContent()).toBe('maintenance');
    expect(await row.getAttribute('data-status')).toBe('maintenance');
    await page.context().close();
  });

  it('draws the last 50 checks as ticks with the error on hover, and redraws the chart for each range', async () => {
    const page = await openDashboard();
    await page.click(`#servers tbody tr[data-server-id="${serverId}"] .name`);
    const dialog = page.locator('#detail-dialog');
    await dialog.waitFor({ state: 'visible' });

    const ticks = dialog.locator('.heartbeat .tick');
    await expect.poll(() => ticks.count()).toBe(50);
    expect(await dialog.locator('.heartbeat .tick-failure').count()).toBe(10);
    // Oldest left: the 50 newest of the 60 are checks #10…#59; #59 failed.
    expect(await ticks.last().getAttribute('title')).toMatch(/failure: connection refused #59$/);
    expect(await ticks.first().getAttribute('class')).toBe('tick tick-success');
    await ticks.last().hover();

    const chart = dialog.locator('.detail-chart');
    expect(await dialog.getAttribute('data-range')).toBe('1h');
    const livePoints = Number(await chart.getAttribute('data-points'));
    expect(livePoints).toBeGreaterThan(0);

    for (const range of ['7d', '24h', '90d']) {
      const buckets = await history(range);
      await dialog.locator(`[data-range="${range}"]`).click();
      await expect.poll(() => chart.getAttribute('data-points')).toBe(String(buckets.length));
      // Scaled to the data there is: the axis starts at the first bucket, not the range's start.
      expect(await chart.getAttribute('data-from')).toBe(buckets[0]!.start);
      expect(await dialog.locator(`[data-range="${range}"]`).getAttribute('aria-pressed')).toBe('true');
    }
    expect((await history('7d')).length).not.toBe((await history('24h')).length);
    await dialog.locator('[data-range="1h"]').click();
    await expect.poll(() => chart.getAttribute('data-points')).toBe(String(livePoints));
    await page.context().close();
  });

  it('logged no CSP violation and no page error', () => {
    expect(consoleLines.filter((line) => CSP_VIOLATION.test(line))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
