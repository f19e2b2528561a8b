import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { suppressedBy } from '../../src/monitor/dependencies.js';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.js';
import type { NotificationConfigInput, ServerInput } from '../../src/monitor/types.js';
import { validateNotificationConfig, validateServer } from '../../src/monitor/validate.js';
import { startApi } from './api-helpers.js';
import { DATABASES, waitFor } from './helpers.js';
import { startWebhookReceiver, type WebhookReceiver } from './receivers.js';
import { startTarget, type Target } from './target.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const FAST = { pollInterval: 20, retrySchedule: [150], timeout: 2000, lease: 3000 };

function input(fields: Record<string, unknown>): ServerInput {
  const checked = validateServer({ protocol: 'http', host: '127.0.0.1', failure_threshold: 1, ...fields });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.value;
}

async function hook(monitor: Monitor, server: number, receiver: WebhookReceiver) {
  const checked = validateNotificationConfig({
    server,
    notification_type: 'webhook',
    recipient: `${receiver.url}?server=${server}`,
    secret: SECRET,
  });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return monitor.store.notifications.create(checked.value as NotificationConfigInput);
}

/** What the receiver got: `event name` per message, in order. */
const seen = (receiver: WebhookReceiver) =>
  receiver.requests.map((r) => `${String(r.body.type)} ${String((r.body.server as { name: string }).name)}`);

describe.each(DATABASES)('dependencies (%s)', (_name, make) => {
  it('depends_on takes existing ids and refuses itself and cycles (400); a removed parent leaves its children', async () => {
    const db = await make();
    cleanups.push(() => db.drop());
    const api = await startApi(db);
    cleanups.push(() => api.shutdown());
    const token = await api.login();
    const call = (method: 'post' | 'patch', path: string, body: object) =>
      request(api.url)[method](path).set('authorization', `Bearer ${token}`).send(body);
    const add = async (name: string, depends_on: number[] = []) => {
      const res = await call('post', '/api/servers/', { name, protocol: 'tcp', host: '127.0.0.1', port: 1, depends_on });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body as { id: number; depends_on: number[] };
    };
    const router = await add('router');
    const lb = await add('load balancer', [router.id]);
    const app = await add('app', [lb.id]);
    expect(app.depends_on).toEqual([lb.id]);

    expect(
      (await call('post', '/api/servers/', { name: 'x', protocol: 'tcp', host: '127.0.0.1', port: 1, depends_on: [9999] })).body,
    ).toEqual({
      depends_on: ['Invalid pk "9999" - object does not exist.'],
    });
    expect((await call('patch', `/api/servers/${app.id}/`, { depends_on: [app.id] })).body).toEqual({
      depends_on: ['A server cannot depend on itself.'],
    });
    expect((await call('patch', `/api/servers/${app.id}/`, { depends_on: ['x'] })).body).toEqual({
      depends_on: ['Incorrect type. Expected pk value, received str.'],
    });
    const cycle = await call('patch', `/api/servers/${router.id}/`, { depends_on: [app.id] });
    expect(cycle.status).toBe(400);
    expect(cycle.body).toEqual({
      depends_on: [`This would make a cycle of dependencies: ${router.id} → ${app.id} → ${lb.id} → ${router.id}.`],
    });
    expect((await api.monitor.store.servers.get(router.id))!.depends_on).toEqual([]);

    // A PATCH that leaves depends_on out keeps it.
    expect((await call('patch', `/api/servers/${app.id}/`, { name: 'app 2' })).body).toMatchObject({ depends_on: [lb.id] });
    expect((await request(api.url).delete(`/api/servers/${lb.id}/`).set('authorization', `Bearer ${token}`)).status).toBe(204);
    expect((await api.monitor.store.servers.get(app.id))!.depends_on).toEqual([]);
  });

  it("holds a child's notifications while its parent is down (checks and records go on), and resumes them after", async () => {
    const db = await make();
    cleanups.push(() => db.drop());
    const target: Target = await startTarget();
    cleanups.push(() => target.close());
    const receiver = await startWebhookReceiver(SECRET);
    cleanups.push(() => receiver.close());
    const monitor = await createMonitor({ database: db.url, logger: false, schedule: false, notifications: FAST });
    cleanups.push(() => monitor.close());
    const { servers } = monitor.store;
    const router = await servers.create(input({ name: 'router', port: target.port, path: '/router' }));
    const web = await servers.create(input({ name: 'web', port: target.port, path: '/web', depends_on: [router.id] }));
    const api = await servers.create(input({ name: 'api', port: target.port, path: '/api', depends_on: [router.id] }));
    for (const s of [router, web, api]) await hook(monitor, s.id, receiver);
    await monitor.runNow();

    // The router fails, then everything behind it.
    target.failing.add('/router');
    await monitor.runNow([router.id]);
    target.failing.add('/web');
    target.failing.add('/api');
    await monitor.runNow([web.id, api.id]);
    await monitor.runNow([web.id, api.id]);
    await waitFor(() => receiver.requests.length >= 1, 5000, 'the router alert');
    expect(await suppressedBy(monitor.store.db, web.id)).toBe(router.id);
    expect(await suppressedBy(monitor.store.db, router.id)).toBeUndefined();
    // Checked and recorded as usual: the children are down, with their failures stored.
    expect((await monitor.store.results.status(web.id))!.status).toBe('down');
    const failures = await monitor.store.results.list({ serverIds: [web.id, api.id], status: ['failure'] });
    expect(failures.count).toBe(4);

    // web comes back while the router is still down: its down was never sent, so no up either.
    target.failing.delete('/web');
    await monitor.runNow([web.id]);
    // The router comes back; api is still down: its held down goes out now, naming when the outage began.
    target.failing.delete('/router');
    await monitor.runNow([router.id]);
    await monitor.runNow([api.id]);
    await waitFor(() => receiver.requests.length >= 3, 5000, 'the router up and the api down');
    target.failing.delete('/api');
    await monitor.runNow([api.id]);
    await waitFor(() => receiver.requests.length >= 4, 5000, 'the api up');
    await monitor.runNow();
    await new Promise((r) => setTimeout(r, 300));

    expect(seen(receiver)).toEqual(['server.down router', 'server.up router', 'server.down api', 'server.up api']);
    const apiDown = receiver.requests[2]!.body;
    const apiStatus = await monitor.store.history.changesSince(0, [api.id]);
    const wentDown = apiStatus.find((c) => c.status === 'down')!.at;
    expect(Date.parse(String(apiDown.down_since))).toBe(wentDown);
    expect(Date.parse(String(apiDown.timestamp))).toBeGreaterThan(wentDown);
  });
});
