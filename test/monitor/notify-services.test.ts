import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.js';
import { notifySettings } from '../../src/monitor/notify/options.js';
import { serviceRequest } from '../../src/monitor/notify/services.js';
import type { NotificationConfigInput, ServerInput } from '../../src/monitor/types.js';
import { validateNotificationConfig, validateServer } from '../../src/monitor/validate.js';
import { startApi } from './api-helpers.js';
import { DATABASES, waitFor } from './helpers.js';
import {
  startDiscord,
  startGotify,
  startNtfy,
  startPagerDuty,
  startSlack,
  startTeams,
  startTelegram,
  type ServiceReceiver,
} from './service-receivers.js';
import { startTarget, type Target } from './target.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const FAST = { pollInterval: 20, retrySchedule: [150], timeout: 2000, lease: 3000 };
const PUBLIC_URL = 'https://ops.example.com/monitor/';
const BOT_TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0';
const ROUTING_KEY = 'R0123456789abcdef0123456789ABCDE';
const GOTIFY_TOKEN = 'AbCdEf.GhIjKl1';
const NTFY_TOKEN = 'tk_ntfy0123456789abcdef';

async function addConfig(monitor: Monitor, body: Record<string, unknown>) {
  const checked = validateNotificationConfig(body);
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return monitor.store.notifications.create(checked.value as NotificationConfigInput);
}

async function check(monitor: Monitor, target: Target, id: number, failing: boolean) {
  if (failing) target.failing.add('/billing');
  else target.failing.delete('/billing');
  await monitor.runNow([id]);
}

async function receivers() {
  const all = {
    slack: await startSlack(),
    discord: await startDiscord(),
    teams: await startTeams(),
    telegram: await startTelegram(BOT_TOKEN),
    ntfy: await startNtfy('ops-alerts', NTFY_TOKEN),
    pagerduty: await startPagerDuty(ROUTING_KEY),
    gotify: await startGotify(GOTIFY_TOKEN),
  };
  for (const r of Object.values(all)) cleanups.push(() => r.close());
  return all;
}

describe.each(DATABASES)('chat and paging channels on %s', (_name, makeDb) => {
  it("each service gets its documented payload: what happened, since when, the dashboard's link; PagerDuty resolves the outage it triggered", async () => {
    const db = await makeDb();
    cleanups.push(() => db.drop());
    const target = await startTarget();
    cleanups.push(() => target.close());
    const r = await receivers();
    const monitor = await createMonitor({
      database: db.url,
      logger: false,
      schedule: false,
      notifications: { ...FAST, publicUrl: PUBLIC_URL },
    });
    cleanups.push(() => monitor.close());
    const checked = validateServer({
      name: 'Billing <API> & co',
      protocol: 'http',
      host: '127.0.0.1',
      port: target.port,
      path: '/billing',
      failure_threshold: 1,
    });
    if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
    const server = await monitor.store.servers.create(checked.value);
    const s = server.id;
    await addConfig(monitor, { server: s, notification_type: 'slack', recipient: r.slack.url });
    await addConfig(monitor, { server: s, notification_type: 'discord', recipient: r.discord.url });
    await addConfig(monitor, { server: s, notification_type: 'teams', recipient: r.teams.url });
    await addConfig(monitor, {
      server: s,
      notification_type: 'telegram',
      recipient: '-1001234567890',
      secret: BOT_TOKEN,
      base_url: r.telegram.url,
    });
    await addConfig(monitor, { server: s, notification_type: 'ntfy', recipient: 'ops-alerts', secret: NTFY_TOKEN, base_url: r.ntfy.url });
    await addConfig(monitor, { server: s, notification_type: 'pagerduty', secret: ROUTING_KEY, base_url: r.pagerduty.url });
    await addConfig(monitor, { server: s, notification_type: 'gotify', recipient: r.gotify.url, secret: GOTIFY_TOKEN });
    const every = Object.values(r) as ServiceReceiver[];
    const seen = (n: number) => every.every((x) => x.requests.length === n);

    await check(monitor, target, s, false);
    await check(monitor, target, s, true); // down
    await waitFor(() => seen(1), 5000, 'the down notices');
    await check(monitor, target, s, false); // up
    await waitFor(() => seen(2), 5000, 'the up notices');
    await check(monitor, target, s, true); // a second outage
    await waitFor(() => seen(3), 5000, 'the second down notices');

    for (const x of every) expect(x.requests.map((q) => q.problems)).toEqual([[], [], []]);
    await waitFor(() => monitor.stats().notifications.delivered === 21, 5000, 'the deliveries recorded');
    expect(monitor.stats().notifications).toMatchObject({ attempts: 21, delivered: 21, failed: 0 });

    const [slackDown, slackUp] = r.slack.requests.map((q) => q.json!);
    expect(slackDown!.text).toMatch(
      /^DOWN: Billing <API> & co: expected status 200-399, got 503\nDown since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
    );
    expect(slackDown!.text).toContain(`Dashboard: ${PUBLIC_URL}`);
    expect(JSON.stringify(slackDown!.blocks)).toContain('Billing &lt;API&gt; &amp; co');
    expect(JSON.stringify(slackDown!.blocks)).toContain(PUBLIC_URL);
    expect(slackUp!.text).toMatch(/^UP: Billing <API> & co is back up after \d+ s down\nBack up at .* UTC, down since .* UTC/);

    const discordDown = r.discord.requests[0]!.json!;
    expect(discordDown).toMatchObject({ content: expect.stringMatching(/^DOWN: Billing/), allowed_mentions: { parse: [] } });
    expect((discordDown.embeds as Array<Record<string, unknown>>)[0]).toMatchObject({ url: PUBLIC_URL, color: 0xd93f0b });

    const card = (
      (r.teams.requests[0]!.json!.attachments as unknown[])[0] as { content: { body: Array<{ text?: string }>; actions: unknown[] } }
    ).content;
    expect(card.body[0]!.text).toMatch(/^DOWN: Billing/);
    expect(card.body[1]!.text).toMatch(/^Down since /);
    expect(card.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Open the dashboard', url: PUBLIC_URL }]);

    const tg = r.telegram.requests[0]!.json!;
    expect(tg).toMatchObject({ chat_id: -1001234567890, parse_mode: 'HTML' });
    expect(tg.text).toMatch(/^<b>DOWN: Billing &lt;API&gt; &amp; co: expected status 200-399, got 503<\/b>\nDown since /);
    expect(tg.text).toContain(`<a href="${PUBLIC_URL}">Open the dashboard</a>`);

    const [ntfyDown, ntfyUp] = r.ntfy.requests;
    expect(ntfyDown!.headers).toMatchObject({
      priority: '4',
      tags: 'rotating_light',
      click: PUBLIC_URL,
      authorization: `Bearer ${NTFY_TOKEN}`,
    });
    expect(ntfyDown!.headers.title).toBe('DOWN: Billing <API> & co: expected status 200-399, got 503');
    expect(ntfyDown!.text).toMatch(/^Down since /);
    expect(ntfyUp!.headers).toMatchObject({ priority: '3', tags: 'white_check_mark' });

    const events = r.pagerduty.requests.map((q) => q.json!);
    expect(events.map((e) => e.event_action)).toEqual(['trigger', 'resolve', 'trigger']);
    expect(events[0]).toMatchObject({
      routing_key: ROUTING_KEY,
      payload: { severity: 'critical', source: `http://127.0.0.1:${target.port}/billing`, component: 'Billing <API> & co' },
      links: [{ href: PUBLIC_URL, text: 'Open the dashboard' }],
    });
    // One outage, one alert: the recovery resolves the key its trigger opened; the next outage opens another.
    expect(events[1]!.dedup_key).toBe(events[0]!.dedup_key);
    expect(events[2]!.dedup_key).not.toBe(events[0]!.dedup_key);

    const gotifyDown = r.gotify.requests[0]!;
    expect(gotifyDown.query.get('token')).toBe(GOTIFY_TOKEN);
    expect(gotifyDown.json).toMatchObject({ title: expect.stringMatching(/^DOWN: Billing/), priority: 8 });
    expect(gotifyDown.json!.extras).toMatchObject({ 'client::notification': { click: { url: PUBLIC_URL } } });
    expect(r.gotify.requests[1]!.json).toMatchObject({ priority: 4 });
  });

  it("a service's refusal is the delivery's error, in the service's words, and the token stays out of it", async () => {
    const db = await makeDb();
    cleanups.push(() => db.drop());
    const target = await startTarget();
    cleanups.push(() => target.close());
    const telegram = await startTelegram(BOT_TOKEN);
    cleanups.push(() => telegram.close());
    const monitor = await createMonitor({ database: db.url, logger: false, schedule: false, notifications: { ...FAST, retryFor: 100 } });
    cleanups.push(() => monitor.close());
    const checked = validateServer({
      name: 'Billing',
      protocol: 'http',
      host: '127.0.0.1',
      port: target.port,
      path: '/billing',
      failure_threshold: 1,
    });
    if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
    const server = await monitor.store.servers.create(checked.value);
    const wrong = '987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0';
    const config = await addConfig(monitor, {
      server: server.id,
      notification_type: 'telegram',
      recipient: '@ops_channel',
      secret: wrong,
      base_url: telegram.url,
    });
    await check(monitor, target, server.id, true);
    await waitFor(async () => (await monitor.store.notifications.lastDelivery(config.id)) !== undefined, 5000, 'an attempt');
    const last = await monitor.store.notifications.lastDelivery(config.id);
    expect(last).toMatchObject({ ok: false, status_code: 401, error: 'HTTP 401: Unauthorized' });
    expect(JSON.stringify(last)).not.toContain(wrong);
  });

  it('the API checks each type (DRF field errors) and never returns a secret', async () => {
    const db = await makeDb();
    cleanups.push(() => db.drop());
    const api = await startApi(db);
    cleanups.push(() => api.shutdown());
    const token = await api.login();
    const server = await api.monitor.store.servers.create(
      (validateServer({ name: 'A', protocol: 'tcp', host: '127.0.0.1', port: 1 }) as { ok: true; value: ServerInput }).value,
    );
    const post = (body: Record<string, unknown>) =>
      request(api.url)
        .post('/api/notification-configs/')
        .set('authorization', `Bearer ${token}`)
        .send({ server: server.id, ...body });

    const cases: Array<[Record<string, unknown>, Record<string, string[]>]> = [
      [
        { notification_type: 'telegram', recipient: '-100123' },
        { secret: ['This field is required for telegram configs (the bot token).'] },
      ],
      [
        { notification_type: 'telegram', recipient: 'not a chat', secret: BOT_TOKEN },
        { recipient: [expect.stringMatching(/Telegram chat id/) as never] },
      ],
      [{ notification_type: 'pagerduty' }, { secret: ['This field is required for pagerduty configs (the integration key).'] }],
      [{ notification_type: 'pagerduty', secret: 'short' }, { secret: [expect.stringMatching(/32-character integration key/) as never] }],
      [
        { notification_type: 'gotify', recipient: 'gotify.example.com' },
        { recipient: ['Enter a valid http(s) URL.'], secret: [expect.stringMatching(/application token/) as never] },
      ],
      [{ notification_type: 'ntfy', recipient: 'bad topic!' }, { recipient: [expect.stringMatching(/ntfy topic/) as never] }],
      [{ notification_type: 'ntfy', recipient: 'ok', base_url: 'ftp://x' }, { base_url: ['Enter a valid http(s) URL.'] }],
      [
        { notification_type: 'slack', recipient: 'https://hooks.slack.com/services/T/B/X', base_url: 'https://x' },
        { base_url: ['Not used by slack configs: the recipient is the URL.'] },
      ],
      [{ notification_type: 'discord', recipient: 'discord' }, { recipient: ['Enter a valid http(s) URL.'] }],
      [{ notification_type: 'carrier-pigeon', recipient: 'x' }, { notification_type: ['"carrier-pigeon" is not a valid choice.'] }],
    ];
    for (const [body, errors] of cases) {
      const res = await post(body);
      expect({ body, status: res.status, errors: res.body as unknown }).toEqual({ body, status: 400, errors });
    }

    const created = await post({
      notification_type: 'telegram',
      recipient: '@ops_channel',
      secret: BOT_TOKEN,
      base_url: 'http://127.0.0.1:9/',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      notification_type: 'telegram',
      recipient: '@ops_channel',
      base_url: 'http://127.0.0.1:9',
      has_secret: true,
    });
    expect(JSON.stringify(created.body)).not.toContain(BOT_TOKEN);
    const id = (created.body as { id: number }).id;
    // PATCH without the secret keeps it; the read-back never shows it.
    const patched = await request(api.url)
      .patch(`/api/notification-configs/${id}/`)
      .set('authorization', `Bearer ${token}`)
      .send({ recipient: '-100999' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ recipient: '-100999', has_secret: true });
    const read = await request(api.url).get(`/api/notification-configs/${id}/`).set('authorization', `Bearer ${token}`);
    expect(JSON.stringify(read.body)).not.toContain(BOT_TOKEN);
    expect(await api.monitor.store.notifications.secretOf(id)).toBe(BOT_TOKEN);
  });
});

describe('publicUrl', () => {
  it('comes from MONITOR_PUBLIC_URL and is checked', () => {
    expect(notifySettings({}, { MONITOR_PUBLIC_URL: 'https://ops.example.com/monitor/' }).publicUrl).toBe(
      'https://ops.example.com/monitor/',
    );
    expect(() => notifySettings({}, { MONITOR_PUBLIC_URL: 'ops.example.com' })).toThrow(/MONITOR_PUBLIC_URL must be an http\(s\) URL/);
    expect(() => notifySettings({ publicUrl: 'https://user:pw@ops.example.com/' }, {})).toThrow(/publicUrl/);
    expect(notifySettings({}, {}).publicUrl).toBeUndefined();
  });
});

describe('the network alert on a paging service', () => {
  it('triggers once per loss and resolves with the same dedup_key when the network is back', () => {
    const config = { notification_type: 'pagerduty' as const, recipient: '', base_url: 'http://127.0.0.1:9' };
    const since = '2026-12-06T08:00:00.000Z';
    const lost = serviceRequest(
      config,
      ROUTING_KEY,
      { type: 'monitor.network_lost', timestamp: since, since, canary: '10.0.0.1:53' },
      PUBLIC_URL,
    );
    const back = serviceRequest(
      config,
      ROUTING_KEY,
      { type: 'monitor.network_back', timestamp: '2026-12-06T08:03:00.000Z', since, lost_seconds: 180, canary: '10.0.0.1:53' },
      PUBLIC_URL,
    );
    expect(lost.url).toBe('http://127.0.0.1:9/v2/enqueue');
    const [l, b] = [JSON.parse(lost.body) as Record<string, unknown>, JSON.parse(back.body) as Record<string, unknown>];
    expect(l).toMatchObject({
      event_action: 'trigger',
      payload: {
        summary: 'The monitor cannot reach the network: results are unknown until it can',
        source: '10.0.0.1:53',
        severity: 'critical',
      },
    });
    expect(b).toEqual({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: l.dedup_key });
    expect(l.dedup_key).toBe(`lifeline-network-${Date.parse(since)}`);
  });
});
