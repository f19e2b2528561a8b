import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor, type MonitorOptions } from '../../src/monitor/monitor.js';
import { notifySettings } from '../../src/monitor/notify/options.js';
import { openStore } from '../../src/monitor/store/index.js';
import { formatDuration } from '../../src/monitor/notify/message.js';
import { validateNotificationConfig, validateServer } from '../../src/monitor/validate.js';
import type { NotificationConfigInput } from '../../src/monitor/types.js';
import { sqliteDatabase, waitFor } from './helpers.js';
import { startSmsApi, startSmtp, startWebhookReceiver } from './receivers.js';
import { startTarget, type Target } from './target.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const FAST = { pollInterval: 20, retrySchedule: [150], timeout: 2000, lease: 3000 };

async function setup(options: Partial<MonitorOptions> = {}, server: Record<string, unknown> = {}) {
  const db = sqliteDatabase();
  cleanups.push(() => db.drop());
  const target = await startTarget();
  cleanups.push(() => target.close());
  const monitor = await createMonitor({ database: db.url, logger: false, schedule: false, notifications: FAST, ...options });
  cleanups.push(() => monitor.close());
  const checked = validateServer({
    name: 'Billing API',
    protocol: 'http',
    host: '127.0.0.1',
    port: target.port,
    path: '/billing',
    failure_threshold: 2,
    ...server,
  });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  const created = await monitor.store.servers.create(checked.value);
  return { monitor, target, server: created, db };
}

async function addConfig(monitor: Monitor, body: Record<string, unknown>) {
  const checked = validateNotificationConfig(body);
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return monitor.store.notifications.create(checked.value as NotificationConfigInput);
}

/** Runs `n` checks of the server, one after the other. */
async function check(monitor: Monitor, target: Target, id: number, n: number, failing: boolean) {
  if (failing) target.failing.add('/billing');
  else target.failing.delete('/billing');
  for (let i = 0; i < n; i++) await monitor.runNow([id]);
}

describe('notifications', () => {
  it('go out on transitions only, by webhook, email and SMS: down after the threshold, up with the outage length', async () => {
    const smtp = await startSmtp();
    cleanups.push(() => smtp.close());
    const sms = await startSmsApi('AC123', 'tok');
    cleanups.push(() => sms.close());
    const hook = await startWebhookReceiver(SECRET);
    cleanups.push(() => hook.close());
    const { monitor, target, server } = await setup({
      notifications: {
        ...FAST,
        smtpUrl: smtp.url,
        mailFrom: 'Monitor <monitor@example.com>',
        sms: { url: sms.url, accountSid: 'AC123', authToken: 'tok', from: '+15005550006' },
      },
    });
    const webhook = await addConfig(monitor, { server: server.id, notification_type: 'webhook', recipient: hook.url, secret: SECRET });
    const email = await addConfig(monitor, { server: server.id, notification_type: 'email', recipient: 'ops@example.com' });
    await addConfig(monitor, { server: server.id, notification_type: 'sms', recipient: '+14155550123' });

    await check(monitor, target, server.id, 3, false);
    await check(monitor, target, server.id, 1, true); // below the threshold: pending, nothing sent
    // Notices are written in the transaction that stores the check (runNow resolves after it): none means none will go.
    expect(await monitor.store.outbox.list()).toEqual([]);
    await check(monitor, target, server.id, 1, true); // second failure: down
    await waitFor(() => hook.requests.length === 1 && smtp.mails.length === 1 && sms.messages.length === 1, 5000, 'the down notices');
    await check(monitor, target, server.id, 3, true); // still down: no notice per check
    expect(await monitor.store.outbox.list()).toHaveLength(3);
    await sleep(1100); // the scenario: an outage of over a second, which the up notice reports
    await check(monitor, target, server.id, 1, false); // back up
    await waitFor(() => hook.requests.length === 2 && smtp.mails.length === 2 && sms.messages.length === 2, 5000, 'the up notices');
    await check(monitor, target, server.id, 3, false);
    // Six notices written, every one delivered: nothing is left that could still arrive.
    await waitFor(async () => (await monitor.store.outbox.list({ state: 'delivered' })).length === 6, 5000, 'six deliveries');
    expect(await monitor.store.outbox.list()).toHaveLength(6);

    expect(hook.requests.map((r) => r.body.type)).toEqual(['server.down', 'server.up']);
    expect(hook.requests.every((r) => r.verified)).toBe(true);
    const [down, up] = hook.requests.map((r) => r.body);
    expect(down).toMatchObject({
      server: { id: server.id, name: 'Billing API' },
      status: { status: 'down' },
      ping: { status: 'failure', status_code: 503 },
    });
    expect(up).toMatchObject({ status: { status: 'up' }, ping: { status: 'success', status_code: 200 } });
    expect(Date.parse(String(up!.timestamp))).toBeGreaterThan(Date.parse(String(down!.timestamp)));
    expect(up!.downtime_seconds).toBeGreaterThanOrEqual(1);
    expect(up!.downtime_seconds).toBeLessThan(10);

    expect(smtp.mails.map((m) => [m.user, m.to, m.from])).toEqual([
      ['monitor', ['ops@example.com'], 'monitor@example.com'],
      ['monitor', ['ops@example.com'], 'monitor@example.com'],
    ]);
    expect(smtp.mails[0]!.subject).toBe('DOWN: Billing API: expected status 200-399, got 503');
    expect(smtp.mails[1]!.subject).toMatch(/^UP: Billing API is back up after \d+ s down$/);
    expect(smtp.mails[1]!.text).toMatch(/Down for: \d+ s/);
    expect(sms.messages.map((m) => [m.to, m.from])).toEqual([
      ['+14155550123', '+15005550006'],
      ['+14155550123', '+15005550006'],
    ]);
    expect(sms.messages[0]!.body).toMatch(/^DOWN: Billing API/);
    expect(sms.messages[1]!.body).toMatch(/^UP: Billing API is back up after/);
    expect(sms.rejected).toBe(0);

    const last = await monitor.store.notifications.lastDelivery(email.id);
    expect(last).toMatchObject({ config: email.id, event: 'server.up', attempt: 1, ok: true, error: null });
    expect((await monitor.store.notifications.lastDelivery(webhook.id))?.status_code).toBe(200);
    expect(await monitor.store.outbox.list({ state: 'pending' })).toEqual([]);
    expect(monitor.stats().notifications).toMatchObject({ attempts: 6, delivered: 6, failed: 0 });
  });

  it('retries a failed webhook with the same webhook-id, a fresh timestamp and a valid signature, and shows the last error', async () => {
    const hook = await startWebhookReceiver(SECRET, { answers: [500, 500, 200] });
    cleanups.push(() => hook.close());
    const { monitor, target, server } = await setup({}, { failure_threshold: 1 });
    const config = await addConfig(monitor, { server: server.id, notification_type: 'webhook', recipient: hook.url, secret: SECRET });

    await check(monitor, target, server.id, 1, true);
    await waitFor(async () => (await monitor.store.notifications.lastDelivery(config.id))?.ok === false, 5000, 'a failed attempt');
    expect(await monitor.store.notifications.lastDelivery(config.id)).toMatchObject({
      ok: false,
      status_code: 500,
      error: 'HTTP 500',
      attempt: 1,
    });
    await waitFor(() => hook.processed.size === 1, 5000, 'the delivery');
    // Delivered in the outbox: no further attempt can come.
    await waitFor(async () => (await monitor.store.outbox.list({ config: config.id }))[0]?.state === 'delivered', 5000, 'delivered');

    expect(hook.requests.map((r) => r.answered)).toEqual([500, 500, 200]);
    expect(new Set(hook.requests.map((r) => r.id)).size).toBe(1);
    expect(hook.requests[0]!.id).toMatch(/^msg_/);
    expect(hook.requests.every((r) => r.verified)).toBe(true);
    expect(hook.requests.map((r) => r.body)).toEqual([hook.requests[0]!.body, hook.requests[0]!.body, hook.requests[0]!.body]);
    const attempts = await monitor.store.notifications.deliveries(config.id);
    expect(attempts.map((a) => [a.attempt, a.ok, a.status_code])).toEqual([
      [3, true, 200],
      [2, false, 500],
      [1, false, 500],
    ]);
    const [message] = await monitor.store.outbox.list({ config: config.id });
    expect(message).toMatchObject({ state: 'delivered', attempts: 3, message_id: hook.requests[0]!.id });
  });

  it('a signature made with another secret does not verify (the receiver check can fail)', async () => {
    const other = `whsec_${randomBytes(24).toString('base64')}`;
    const hook = await startWebhookReceiver(other);
    cleanups.push(() => hook.close());
    const { monitor, target, server } = await setup({ notifications: { ...FAST, retrySchedule: [60_000] } }, { failure_threshold: 1 });
    const config = await addConfig(monitor, { server: server.id, notification_type: 'webhook', recipient: hook.url, secret: SECRET });
    await check(monitor, target, server.id, 1, true);
    await waitFor(() => hook.requests.length === 1, 5000, 'the attempt');
    expect(hook.requests[0]!.verified).toBe(false);
    await waitFor(async () => (await monitor.store.notifications.lastDelivery(config.id))?.status_code === 401, 5000, 'the 401');
  });

  it('disables the config when the receiver answers 410 Gone, and sends it nothing more', async () => {
    const hook = await startWebhookReceiver(SECRET, { answers: [410] });
    cleanups.push(() => hook.close());
    const { monitor, target, server } = await setup({}, { failure_threshold: 1 });
    const config = await addConfig(monitor, { server: server.id, notification_type: 'webhook', recipient: hook.url, secret: SECRET });

    await check(monitor, target, server.id, 1, true);
    await waitFor(async () => (await monitor.store.notifications.get(config.id))?.enabled === false, 5000, 'the config disabled');
    expect(await monitor.store.notifications.lastDelivery(config.id)).toMatchObject({ ok: false, status_code: 410, error: 'HTTP 410' });
    expect((await monitor.store.outbox.list({ config: config.id }))[0]).toMatchObject({ state: 'disabled', attempts: 1 });

    await check(monitor, target, server.id, 1, false);
    await check(monitor, target, server.id, 1, true);
    // A disabled config gets no new notices (written with the checks, already stored), and its one message is finished.
    expect(await monitor.store.outbox.list({ config: config.id })).toMatchObject([{ state: 'disabled' }]);
    expect(hook.requests).toHaveLength(1);
  });

  it('respects notify_on_failure and notify_on_recovery, and reminds while a server stays down', async () => {
    const hook = await startWebhookReceiver(SECRET);
    cleanups.push(() => hook.close());
    const { monitor, target, server } = await setup({ notifications: { ...FAST, reminderInterval: 400 } }, { failure_threshold: 1 });
    await addConfig(monitor, { server: server.id, notification_type: 'webhook', recipient: `${hook.url}?all`, secret: SECRET });
    await addConfig(monitor, {
      server: server.id,
      notification_type: 'webhook',
      recipient: `${hook.url}?recovery`,
      secret: SECRET,
      notify_on_failure: false,
    });
    await addConfig(monitor, {
      server: server.id,
      notification_type: 'webhook',
      recipient: `${hook.url}?failure`,
      secret: SECRET,
      notify_on_recovery: false,
    });

    await check(monitor, target, server.id, 1, true);
    for (let i = 0; i < 5; i++) {
      await sleep(200); // the scenario: a server down for about a second, against a 400 ms reminder interval
      await check(monitor, target, server.id, 1, true);
    }
    await check(monitor, target, server.id, 1, false);
    await waitFor(() => hook.requests.filter((r) => r.body.type === 'server.up').length === 2, 5000, 'the up notices');
    // Every notice delivered: the list below is final.
    await waitFor(async () => (await monitor.store.outbox.list({ state: 'pending' })).length === 0, 5000, 'no pending notice');
    const seen = (query: string) => hook.requests.filter((r) => r.url.endsWith(query));
    const kinds = (query: string) => seen(query).map((r) => `${r.body.type}${r.body.reminder ? ' (reminder)' : ''}`);
    // Down at once to the configs that want failures, reminders while it stays down, the recovery to those that want it.
    expect(kinds('?recovery')).toEqual(['server.up']);
    for (const query of ['?all', '?failure']) {
      const list = kinds(query);
      expect(list[0], query).toBe('server.down');
      expect(list.filter((k) => k === 'server.down (reminder)').length, query).toBeGreaterThanOrEqual(2);
      expect(
        list.slice(1, -1).every((k) => k === 'server.down (reminder)'),
        query,
      ).toBe(true);
      // Never more often than the interval (the payload's timestamp is when each was written).
      const times = seen(query)
        .filter((r) => r.body.type === 'server.down')
        .map((r) => Date.parse(String(r.body.timestamp)));
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, query).toBeGreaterThanOrEqual(400);
    }
    expect(kinds('?all').at(-1)).toBe('server.up');
    expect(kinds('?failure').at(-1)).toBe('server.down (reminder)');
    expect(hook.requests.every((r) => r.verified)).toBe(true);
  });

  it('logs every attempt and gives up once retryFor has passed since the event', async () => {
    const hook = await startWebhookReceiver(SECRET, { answers: [503] });
    cleanups.push(() => hook.close());
    const lines: Array<[string, string, Record<string, unknown>]> = [];
    const record = (level: string) => (message: string, meta?: Record<string, unknown>) => void lines.push([level, message, meta ?? {}]);
    const logger = { error: record('error'), warn: record('warn'), info: record('info'), debug: () => {} };
    const { monitor, target, server } = await setup(
      { logger, notifications: { ...FAST, retrySchedule: [100, 200], retryFor: 1000 } },
      { failure_threshold: 1 },
    );
    const config = await addConfig(monitor, { server: server.id, notification_type: 'webhook', recipient: hook.url, secret: SECRET });
    await check(monitor, target, server.id, 1, true);
    await waitFor(async () => (await monitor.store.outbox.list({ config: config.id }))[0]?.state === 'failed', 5000, 'giving up');
    await waitFor(() => lines.some(([level]) => level === 'error'), 5000, 'the give-up line');

    const attempts = lines.filter(([, message]) => message.startsWith('monitor: notification'));
    const n = attempts.length;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(hook.requests).toHaveLength(n);
    expect(attempts.map(([level, message]) => `${level} ${message}`)).toEqual([
      ...Array.from({ length: n - 1 }, () => 'warn monitor: notification attempt failed, will retry'),
      'error monitor: notification not delivered, retries exhausted, giving up',
    ]);
    expect(attempts.map(([, , meta]) => meta.attempt)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    // Waits of 100 then 200 ms (the last repeats); the last attempt is the one whose next would pass retryFor.
    const [message] = await monitor.store.outbox.list({ config: config.id });
    const times = (await monitor.store.notifications.deliveries(config.id, { limit: 50 })).map((d) => Date.parse(d.at)).reverse();
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(100);
    for (let i = 2; i < n; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(200);
    expect(times[n - 2]! + 200 - message!.created_at).toBeLessThanOrEqual(1000);
    expect(times[n - 1]! + 200 - message!.created_at).toBeGreaterThan(1000);
    expect(attempts[0]![2]).toMatchObject({
      config: config.id,
      type: 'webhook',
      event: 'server.down',
      status_code: 503,
      error: 'HTTP 503',
    });
    expect(JSON.stringify(lines)).not.toContain(SECRET.slice(6, 20));
    expect(JSON.stringify(lines)).not.toContain(hook.url);
    expect(monitor.stats().notifications).toMatchObject({ attempts: n, delivered: 0, failed: 1 });
  });

  it('close() cancels an attempt in flight at once and hands the message back, due again for the next sender', async () => {
    const hook = await startWebhookReceiver(SECRET, { answers: ['hold'] });
    cleanups.push(() => hook.close());
    const { monitor, target, server, db } = await setup(
      { notifications: { ...FAST, timeout: 10_000, lease: 20_000 } },
      { failure_threshold: 1 },
    );
    const config = await addConfig(monitor, { server: server.id, notification_type: 'webhook', recipient: hook.url, secret: SECRET });
    await check(monitor, target, server.id, 1, true);
    await waitFor(() => hook.requests.length === 1, 5000, 'the attempt');
    expect(await monitor.store.outbox.list()).toMatchObject([{ state: 'pending', attempts: 0 }]);
    const started = Date.now();
    await monitor.close();
    expect(Date.now() - started).toBeLessThan(2000);
    const reopened = await openStore({ database: db.url });
    cleanups.push(() => reopened.close());
    expect(await reopened.db('monitor_notification_outbox').select('state', 'attempts', 'claimed_until')).toEqual([
      { state: 'pending', attempts: 0, claimed_until: null },
    ]);
    expect(await reopened.notifications.lastDelivery(config.id)).toBeUndefined();
  });

  it('keeps a message pending while a channel is not configured, with the reason as the last error', async () => {
    const { monitor, target, server } = await setup({ notifications: { ...FAST, retrySchedule: [60_000] } }, { failure_threshold: 1 });
    const config = await addConfig(monitor, { server: server.id, notification_type: 'sms', recipient: '+14155550123' });
    await check(monitor, target, server.id, 1, true);
    await waitFor(async () => (await monitor.store.notifications.lastDelivery(config.id)) !== undefined, 5000, 'an attempt');
    expect(await monitor.store.notifications.lastDelivery(config.id)).toMatchObject({
      ok: false,
      error: 'SMS is not configured (SMS_API_URL)',
    });
    expect((await monitor.store.outbox.list({ config: config.id }))[0]).toMatchObject({ state: 'pending', attempts: 1 });
  });

  it('with notifications: false this process writes the outbox but sends nothing', async () => {
    const hook = await startWebhookReceiver(SECRET);
    cleanups.push(() => hook.close());
    const { monitor, target, server } = await setup({ notifications: false }, { failure_threshold: 1 });
    await addConfig(monitor, { server: server.id, notification_type: 'webhook', recipient: hook.url, secret: SECRET });
    await check(monitor, target, server.id, 1, true);
    expect(await monitor.store.outbox.list()).toMatchObject([{ event: 'server.down', state: 'pending', attempts: 0 }]);
    // No sender in this process: nothing tried, nothing received.
    expect(monitor.stats().notifications).toMatchObject({ attempts: 0 });
    expect(hook.requests).toHaveLength(0);
  });
});

describe('notification options', () => {
  it('throw at setup, naming the option or variable', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ retrySchedule: [] }, /expected `retrySchedule` to be a non-empty array of positive integers/],
      [{ retrySchedule: [5, -1] }, /`retrySchedule`/],
      [{ timeout: 0 }, /expected `timeout` to be an integer/],
      [{ lease: 500 }, /expected `lease` to be an integer 1000-3600000 \(ms\), got 500/],
      [{ concurrency: 0 }, /expected `concurrency` to be an integer 1-10000, got 0/],
      [{ concurrency: 8, destinationConcurrency: 9 }, /expected `destinationConcurrency` to be an integer 1-8, got 9/],
      [{ smtpUrl: 'http://mail' }, /expected `smtpUrl` to be an smtp:\/\/ or smtps:\/\/ URL/],
      [{ sms: { url: 'ftp://x', accountSid: 'a', authToken: 'b', from: 'c' } }, /expected `sms.url` to be an http\(s\) URL/],
      [
        { sms: { url: 'http://x', accountSid: 'a', authToken: '', from: 'c' } },
        /expected `sms.authToken` to be a non-empty string, got '\(hidden\)'/,
      ],
      [{ retries: 3 }, /unknown option `retries`/],
    ];
    for (const [options, message] of bad) expect(() => notifySettings(options as never, {}), JSON.stringify(options)).toThrow(message);
    expect(() => notifySettings({}, { SMTP_URL: 'mail.example.com' })).toThrow(/^SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL$/);
    expect(() => notifySettings({}, { SMS_API_URL: 'https://api.twilio.com', SMS_ACCOUNT_SID: 'AC1' })).toThrow(
      /^SMS_AUTH_TOKEN must be set when SMS_API_URL is$/,
    );
    expect(notifySettings({}, { SMTP_URL: 'smtps://u:p@mail:465', MONITOR_MAIL_FROM: 'm@x.io' })).toMatchObject({
      send: true,
      retrySchedule: [5000, 30_000, 120_000, 600_000, 3_600_000],
      retryFor: 86_400_000,
      timeout: 15_000,
      lease: 60_000,
      concurrency: 64,
      destinationConcurrency: 4,
      smtpUrl: 'smtps://u:p@mail:465',
      mailFrom: 'm@x.io',
    });
  });

  it('createMonitor rejects a bad notifications option before opening the database', async () => {
    await expect(createMonitor({ database: ':memory:', notifications: { pollInterval: -1 } })).rejects.toThrow(
      /^monitor: notifications: expected `pollInterval` to be an integer 1-3600000 \(ms\), got -1$/,
    );
  });

  it('formats outage lengths in words', () => {
    expect([0, 45_000, 192_000, 7_500_000, 97_200_000].map(formatDuration)).toEqual(['0 s', '45 s', '3 min 12 s', '2 h 5 min', '1 d 3 h']);
  });
});
