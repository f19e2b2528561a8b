import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.js';
import { newMessageId } from '../../src/monitor/notify/enqueue.js';
import { openStore } from '../../src/monitor/store/index.js';
import type { NotificationConfigInput } from '../../src/monitor/types.js';
import { validateNotificationConfig, validateServer } from '../../src/monitor/validate.js';
import { postgresDatabase, waitFor } from './helpers.js';
import { startWebhookReceiver } from './receivers.js';
import { startTarget } from './target.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const NOTIFY = { pollInterval: 25, retrySchedule: [200], timeout: 3000, lease: 5000 };

function config(server: number, recipient: string): NotificationConfigInput {
  const checked = validateNotificationConfig({ server, notification_type: 'webhook', recipient, secret: SECRET });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.value as NotificationConfigInput;
}

describe('notifications with several instances on one PostgreSQL', () => {
  it('deliver each state change once: two instances checking and sending the same servers', async () => {
    const db = await postgresDatabase();
    cleanups.push(() => db.drop());
    const target = await startTarget();
    cleanups.push(() => target.close());
    const hook = await startWebhookReceiver(SECRET, { delay: 30 });
    cleanups.push(() => hook.close());
    const store = await openStore({ database: db.url });
    const paths = ['/a', '/b', '/c', '/d'];
    for (const path of paths) {
      const checked = validateServer({
        name: path,
        protocol: 'http',
        host: '127.0.0.1',
        port: target.port,
        path,
        check_interval: 1,
        failure_threshold: 2,
      });
      if (!checked.ok) throw new Error('invalid');
      const { id } = await store.servers.create(checked.value);
      await store.notifications.create(config(id, `${hook.url}?${path}`));
    }
    await store.close();

    const one: Monitor = await createMonitor({ database: db.url, logger: false, notifications: NOTIFY });
    const two: Monitor = await createMonitor({ database: db.url, logger: false, notifications: NOTIFY });
    cleanups.push(() => two.close());
    cleanups.push(() => one.close());
    const checks = () => one.stats().started + two.stats().started;
    /** Waits until both instances together have checked every server `rounds` more times. */
    const moreChecks = async (rounds: number, what: string) => {
      const from = checks();
      await waitFor(() => checks() >= from + rounds * paths.length, 10_000, what);
    };
    const allAre = async (status: string) =>
      (await one.store.results.statuses()).filter((s) => s.status === status).length === paths.length;
    await waitFor(() => allAre('up'), 10_000, 'every server up');
    for (const path of paths) target.failing.add(path);
    await waitFor(() => hook.requests.length >= paths.length, 10_000, 'the down notices');
    await moreChecks(2, 'more failing checks, by both instances');
    // The outbox is written with each check: one notice per server, however many failing checks came after.
    expect(await one.store.outbox.list()).toHaveLength(paths.length);
    for (const path of paths) target.failing.delete(path);
    await waitFor(() => hook.requests.length >= 2 * paths.length, 10_000, 'the up notices');
    await moreChecks(2, 'more passing checks');
    await waitFor(async () => (await one.store.outbox.list({ state: 'delivered' })).length === 2 * paths.length, 10_000, 'all delivered');
    expect(await one.store.outbox.list()).toHaveLength(2 * paths.length);

    const got = hook.requests.map((r) => `${r.url.split('?')[1]} ${String(r.body.type)}`).sort();
    expect(got).toEqual(paths.flatMap((p) => [`${p} server.down`, `${p} server.up`]).sort());
    expect(new Set(hook.requests.map((r) => r.id)).size).toBe(hook.requests.length);
    expect(hook.requests.every((r) => r.verified && r.answered === 200)).toBe(true);
    // Both instances checked the servers, so the transitions were stored by either.
    expect(one.stats().started).toBeGreaterThan(0);
    expect(two.stats().started).toBeGreaterThan(0);
  }, 30_000);

  it('claim each outbox message once when both senders poll a full outbox at the same time', async () => {
    const db = await postgresDatabase();
    cleanups.push(() => db.drop());
    const hook = await startWebhookReceiver(SECRET, { delay: 20 });
    cleanups.push(() => hook.close());
    const store = await openStore({ database: db.url });
    cleanups.push(() => store.close());
    const checked = validateServer({ name: 'api', protocol: 'http', host: '127.0.0.1', port: 9, enabled: false });
    if (!checked.ok) throw new Error('invalid');
    const server = await store.servers.create(checked.value);
    const count = 60;
    const ids: number[] = [];
    for (let i = 0; i < count; i++) ids.push((await store.notifications.create(config(server.id, `${hook.url}?${i}`))).id);

    const one: Monitor = await createMonitor({ database: db.url, logger: false, schedule: false, notifications: NOTIFY });
    const two: Monitor = await createMonitor({ database: db.url, logger: false, schedule: false, notifications: NOTIFY });
    cleanups.push(() => two.close());
    cleanups.push(() => one.close());
    const at = Date.now();
    await store.outbox.enqueue(
      store.db,
      ids.map((id) => ({
        config: id,
        server: server.id,
        message_id: newMessageId(),
        event: 'server.down' as const,
        payload: { type: 'server.down' },
        at,
      })),
    );
    await waitFor(() => hook.processed.size === count, 15_000, 'every message');
    // Every message delivered in the outbox: no sender has anything left to send twice.
    await waitFor(async () => (await store.outbox.list({ state: 'delivered' })).length === count, 15_000, 'all delivered');

    expect(hook.requests).toHaveLength(count);
    expect(new Set(hook.requests.map((r) => r.url)).size).toBe(count);
    const [a, b] = [one.stats().notifications.delivered, two.stats().notifications.delivered];
    expect(a + b).toBe(count);
    // Both took part: the claims really raced.
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    const deliveries = (await store.db('monitor_notification_deliveries').count({ n: '*' })) as Array<{ n: string }>;
    expect(Number(deliveries[0]!.n)).toBe(count);
  }, 30_000);

  it('claims never hand one message to two senders, even when many claim at the same instant', async () => {
    const db = await postgresDatabase();
    cleanups.push(() => db.drop());
    const store = await openStore({ database: db.url });
    cleanups.push(() => store.close());
    const checked = validateServer({ name: 'api', protocol: 'http', host: '127.0.0.1', port: 9, enabled: false });
    if (!checked.ok) throw new Error('invalid');
    const server = await store.servers.create(checked.value);
    const configs: number[] = [];
    for (let i = 0; i < 200; i++) configs.push((await store.notifications.create(config(server.id, `http://127.0.0.1:9/${i}`))).id);
    const at = Date.now() - 1000;
    await store.outbox.enqueue(
      store.db,
      configs.map((id) => ({ config: id, server: server.id, message_id: newMessageId(), event: 'server.down' as const, payload: {}, at })),
    );
    const seen = new Map<number, string>();
    for (let round = 0; round < 10 && seen.size < configs.length; round++) {
      const claims = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.outbox.claim(`sender-${round}-${i}`, { limit: 5, lease: 60_000 }).then((rows) => ({ who: `sender-${round}-${i}`, rows })),
        ),
      );
      for (const { who, rows } of claims) {
        for (const row of rows) {
          expect(seen.get(row.id), `message ${row.id} claimed by ${seen.get(row.id)} and ${who}`).toBeUndefined();
          seen.set(row.id, who);
        }
      }
    }
    expect(seen.size).toBe(configs.length);
    // Claimed rows are not claimed again while their lease runs.
    expect(await store.outbox.claim('late', { limit: 50, lease: 60_000 })).toEqual([]);
  }, 30_000);
});
