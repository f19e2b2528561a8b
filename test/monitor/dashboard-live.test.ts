import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NotificationConfigInput } from '../../src/monitor/types.js';
import { validateNotificationConfig } from '../../src/monitor/validate.js';
import { chromiumPath } from '../helpers/chromium.js';
import { ADMIN, startApi, type ApiHarness } from './api-helpers.js';
import { serverInput, sqliteDatabase, waitFor, type TestDatabase } from './helpers.js';
import { SseClient } from './live-helpers.js';
import { startWebhookReceiver, type WebhookReceiver } from './receivers.js';
import { startTarget, type Target } from './target.js';

// The dashboard's live updates in a real Chromium: the page follows the SSE stream
// (no polling), reconnects with the id of the last event it saw, and shows how the
// notifications' deliveries went. Access tokens live 4 s, less than the stream's
// `retry: 5000`: a reconnect after a drop always finds its token expired. The server
// ends each stream when its token expires, so the page renews and reopens every 4 s.
const ACCESS_SECONDS = 4;
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const STREAM = '/api/events/status/';

/** A request of the stream as the server saw it. */
interface StreamRequest {
  at: number;
  browser: boolean;
  header: string | undefined;
  query: string | null;
  token: string | null;
  res: ServerResponse;
  status?: number;
  closedAt?: number;
}

describe('monitor dashboard live updates in a real browser', () => {
  let db: TestDatabase;
  let api: ApiHarness;
  let target: Target;
  let hook: WebhookReceiver;
  let browser: Browser;
  let context: BrowserContext | undefined;
  const streams: StreamRequest[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const executablePath = chromiumPath();
    db = sqliteDatabase();
    api = await startApi(db, { tokenLifetimes: { access: ACCESS_SECONDS }, notifications: { retrySchedule: [60_000], pollInterval: 50 } });
    target = await startTarget();
    hook = await startWebhookReceiver(SECRET, { answers: [500] });
    api.running.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== STREAM) return;
      const entry: StreamRequest = {
        at: Date.now(),
        browser: /Chrome/.test(req.headers['user-agent'] ?? ''),
        header: req.headers['last-event-id'] as string | undefined,
        query: url.searchParams.get('last_event_id'),
        token: url.searchParams.get('token'),
        res,
      };
      streams.push(entry);
      res.once('close', () => {
        entry.status = res.statusCode;
        entry.closedAt = Date.now();
      });
    });
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
    await target?.close();
    await hook?.close();
    await db?.drop();
  });

  /** A logged-in admin tab, its stream open; `requests` lists every URL it asks for, in order. */
  async function open(): Promise<{ page: Page; requests: string[] }> {
    context = await browser.newContext();
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (req) => requests.push(new URL(req.url()).pathname));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${api.url}/monitor/`);
    await page.fill('#login-username', ADMIN.username);
    await page.fill('#login-password', ADMIN.password);
    await page.click('#login-form button[type="submit"]');
    await page.waitForSelector('#servers tbody tr[data-server-id]');
    await page.waitForSelector('body[data-live="open"]');
    return { page, requests };
  }

  const row = (page: Page, name: string) => page.locator('#servers tbody tr', { has: page.locator('.name', { hasText: name }) });
  /** The number of checks in the row's sparkline (its tooltip: "Last hour: N checks, ..."). */
  const checksShown = async (page: Page, name: string) =>
    Number(/(\d+) checks/.exec((await row(page, name).locator('.sparkline').getAttribute('title')) ?? '')?.[1] ?? 0);
  const polls = (requests: string[]) => requests.filter((path) => path === '/api/servers/' || path === '/api/ping-results/');

  it('updates a row within a second of a check completing on the server, without polling', async () => {
    const created = await api.monitor.store.servers.create(serverInput({ name: 'flappy', port: target.port, path: '/flappy' }));
    await api.monitor.runNow([created.id]);
    const { page, requests } = await open();
    const flappy = row(page, 'flappy');
    expect(await flappy.getAttribute('data-status')).toBe('up');
    expect(await checksShown(page, 'flappy')).toBe(1);
    const before = requests.length;

    // A state change: a ping and a status event.
    target.failing.add('/flappy');
    await api.monitor.runNow([created.id]);
    let started = Date.now();
    await page.waitForSelector('#servers tr[data-status="down"] .name:text-is("flappy")', { timeout: 2000 });
    const toStatus = Date.now() - started;
    expect(await flappy.locator('.badge').textContent()).toBe('down');
    expect(await flappy.locator('.message').textContent()).not.toBe('');
    expect(await flappy.locator('.response-time').textContent()).toBe('failure');
    expect(await flappy.locator('.last-check').textContent()).toMatch(/^\d s ago$/);
    expect(await checksShown(page, 'flappy')).toBe(2);
    expect(await page.textContent('#summary')).toBe('1 server: 1 down');

    // A check that changes nothing: a ping only, which still moves the response time and the sparkline.
    target.failing.delete('/flappy');
    await api.monitor.runNow([created.id]);
    await page.waitForSelector('#servers tr[data-status="up"] .name:text-is("flappy")', { timeout: 2000 });
    await api.monitor.runNow([created.id]);
    started = Date.now();
    await expect.poll(() => checksShown(page, 'flappy'), { timeout: 2000, interval: 20 }).toBe(4);
    const toPing = Date.now() - started;
    expect(await flappy.locator('.response-time').textContent()).toMatch(/^\d+ ms$/);
    expect(await page.textContent('#refreshed')).toMatch(/^Live · updated /);

    // Everything came from the stream: not one list was read again.
    expect(polls(requests.slice(before))).toEqual([]);
    expect(toStatus).toBeLessThan(1500);
    expect(toPing).toBeLessThan(1500);
    console.log(`dashboard live: status on the page ${toStatus} ms, ping ${toPing} ms after the check was stored`);
  }, 30_000);

  it('reconnects after the connection drops, with the id of the last event seen, and gets the events it missed', async () => {
    const flappy = (await api.monitor.store.servers.list({ query: 'flappy' })).results[0]!;
    const { page, requests } = await open();
    // A second client of the same stream, to know the ids of the events.
    const watcher = await SseClient.open(`${api.url}${STREAM}`, { Authorization: `Bearer ${await api.login()}` });
    try {
      await watcher.waitForEvents(2);
      const shown = (await checksShown(page, 'flappy')) + 1;
      await api.monitor.runNow([flappy.id]);
      const [ping] = await watcher.waitForEvents(3).then((events) => events.slice(2));
      const lastSeen = ping!.id!;
      await expect.poll(() => checksShown(page, 'flappy')).toBe(shown); // the page has it too

      // The network drops: the server loses the page's stream.
      const before = requests.length;
      const dropAt = Date.now();
      // (Between a stream ended at its token's expiry and the next, none is open: wait for one.)
      const current = () => streams.filter((s) => s.browser && s.status === undefined);
      await waitFor(() => current().length === 1, 5000, 'the page to have one stream open');
      current()[0]!.res.destroy();
      await page.waitForSelector('body[data-live="connecting"]');
      expect(await page.getAttribute('#refreshed', 'class')).toContain('problem');

      // Missed while away: down (a ping and a status), then a ping.
      target.failing.add('/flappy');
      await api.monitor.runNow([flappy.id]);
      await api.monitor.runNow([flappy.id]);
      await page.waitForSelector('body[data-live="open"]', { timeout: 15_000 });
      await page.waitForSelector('#servers tr[data-status="down"] .name:text-is("flappy")', { timeout: 2000 });
      await expect.poll(() => checksShown(page, 'flappy'), { timeout: 2000 }).toBe(shown + 2);
      expect(await page.getAttribute('#refreshed', 'class')).not.toContain('problem');

      // EventSource's own reconnect sent Last-Event-ID with the token it started with, expired by
      // then (401); the page renewed it and opened a new stream with ?last_event_id=.
      // (Streams opened later, each at the previous one's expiry, are 200s too.)
      const after = streams.filter((s) => s.browser && s.at >= dropAt);
      expect(after.map((s) => s.status ?? 200).slice(0, 2)).toEqual([401, 200]);
      expect(after.slice(2).every((s) => (s.status ?? 200) === 200)).toBe(true);
      expect(after[0]!.header).toBe(lastSeen);
      expect(after[1]!.query).toBe(lastSeen);
      expect(after[1]!.token).not.toBe(after[0]!.token);
      // Replayed, not reloaded: no list was read.
      expect(polls(requests.slice(before))).toEqual([]);

      // And it is live again.
      target.failing.delete('/flappy');
      await api.monitor.runNow([flappy.id]);
      await page.waitForSelector('#servers tr[data-status="up"] .name:text-is("flappy")', { timeout: 2000 });
    } finally {
      watcher.close();
    }
  }, 45_000);

  it('renews its token and reopens the stream at once when the server ends it at the token expiry', async () => {
    const flappy = (await api.monitor.store.servers.list({ query: 'flappy' })).results[0]!;
    const { page, requests } = await open();
    const before = requests.length;
    const current = () => streams.filter((s) => s.browser && s.status === undefined);
    await waitFor(() => current().length === 1, 5000, 'the page to have one stream open');
    const first = current()[0]!;

    // The server ends it (an `unauthorized` event, then the end) when its token expires, within ACCESS_SECONDS.
    await waitFor(() => first.closedAt !== undefined, (ACCESS_SECONDS + 2) * 1000, 'the stream to end at its token expiry');
    await waitFor(() => streams.some((s) => s.browser && s.at >= first.closedAt!), 8000, 'the page to open the next stream');
    const next = streams.filter((s) => s.browser && s.at >= first.closedAt!);
    const gap = next[0]!.at - first.closedAt!;
    console.log(`dashboard live: next stream ${gap} ms after the server ended one at its token expiry`);
    // At once, with a renewed token and the id it had, not after `retry:` with the expired one (a 401).
    expect(next[0]!.status ?? 200).toBe(200);
    expect(gap).toBeLessThan(1000);
    expect(next[0]!.token).not.toBe(first.token);
    expect(next[0]!.query).toMatch(/^\d+$/);

    // Still live, and nothing was read again.
    target.failing.add('/flappy');
    await api.monitor.runNow([flappy.id]);
    await page.waitForSelector('#servers tr[data-status="down"] .name:text-is("flappy")', { timeout: 2000 });
    target.failing.delete('/flappy');
    await api.monitor.runNow([flappy.id]);
    await page.waitForSelector('#servers tr[data-status="up"] .name:text-is("flappy")', { timeout: 2000 });
    expect(polls(requests.slice(before))).toEqual([]);
    expect(await page.getAttribute('body', 'data-live')).toBe('open');
  }, 30_000);

  it('shows the last delivery of a notification and its error, for a webhook whose receiver answers 500', async () => {
    const flappy = (await api.monitor.store.servers.list({ query: 'flappy' })).results[0]!;
    const checked = validateNotificationConfig({ server: flappy.id, notification_type: 'webhook', recipient: hook.url, secret: SECRET });
    if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
    const config = await api.monitor.store.notifications.create(checked.value as NotificationConfigInput);
    const { page } = await open();
    const cell = page.locator(`#notification-list tr[data-notification-id="${config.id}"] td.last-delivery`);
    expect(await cell.textContent()).toBe('none yet');

    // Down: the webhook goes out, the receiver answers 500, the next try is a minute away.
    target.failing.add('/flappy');
    await api.monitor.runNow([flappy.id]);
    await cell.locator('.badge').waitFor({ timeout: 15_000 });
    expect(await cell.locator('.badge').textContent()).toBe('failed');
    expect(await cell.locator('.delivery-error').textContent()).toBe(' HTTP 500');
    expect(await cell.locator('.delivery-when').textContent()).toMatch(/^ server\.down, attempt 1, /);
    expect(await cell.getAttribute('title')).toMatch(/^Failed \d{4}-.*: HTTP 500$/);
    expect(hook.requests.map((r) => r.answered)).toEqual([500]);
  }, 30_000);

  it("opens a browser WebSocket with ['bearer', token] (answered `bearer`); the token alone fails the handshake, never echoed", async () => {
    api.attachSockets(api.running.server);
    const token = await api.login();
    const answered: Array<string | undefined> = [];
    const onUpgrade = (_req: IncomingMessage, socket: import('node:stream').Duplex) => {
      // What the server wrote back in the 101, as the browser read it.
      const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean;
      socket.write = ((chunk: unknown, ...rest: unknown[]) => {
        const text = String(chunk);
        if (text.startsWith('HTTP/1.1 101')) answered.push(/^Sec-WebSocket-Protocol: (.*)$/im.exec(text)?.[1]?.trim());
        return write(chunk, ...rest);
      }) as typeof socket.write;
    };
    api.running.server.prependListener('upgrade', onUpgrade);
    context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${api.url}/monitor/`);
    const attempt = (protocols: string[]) =>
      page.evaluate(
        ({ url, protocols }) =>
          new Promise<{ opened: boolean; protocol: string; code: number; answer?: string }>((resolve) => {
            const ws = new WebSocket(url, protocols);
            ws.onopen = () => ws.send(JSON.stringify({ action: 'latest' }));
            ws.onmessage = (message) => {
              const answer = (JSON.parse(String(message.data)) as { type: string }).type;
              resolve({ opened: true, protocol: ws.protocol, code: 0, answer });
              ws.close();
            };
            ws.onclose = (event) => resolve({ opened: false, protocol: ws.protocol, code: event.code });
          }),
        { url: `${api.url.replace('http', 'ws')}/ws/status/`, protocols },
      );
    try {
      expect(await attempt(['bearer', token])).toEqual({ opened: true, protocol: 'bearer', code: 0, answer: 'latest' });
      // Chromium fails a handshake that answers none of the offered protocols (1006): the pair is the way.
      expect(await attempt([token])).toEqual({ opened: false, protocol: '', code: 1006 });
      expect(answered).toEqual(['bearer', undefined]);
    } finally {
      api.running.server.off('upgrade', onUpgrade);
    }
  }, 30_000);

  it('had no page error', () => {
    expect(pageErrors).toEqual([]);
  });
});
