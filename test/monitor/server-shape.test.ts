// PulseGuard's Server: `status` is the current state string and `notifications` the ids of
// its notification configs, both read-only; `current_status` keeps the whole status.
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/monitor/store/index.js';
import type { ServerStatus } from '../../src/monitor/types.js';
import { startApi, type ApiHarness } from './api-helpers.js';
import { DATABASES, serverInput, type TestDatabase } from './helpers.js';

describe.each(DATABASES)('a server as the API shows it, on %s', (_kind, make) => {
  let database: TestDatabase;
  let api: ApiHarness;
  let token: string;
  beforeAll(async () => {
    database = await make();
    api = await startApi(database);
    token = await api.login();
  });
  afterAll(async () => {
    await api?.shutdown();
    await database?.drop();
  });

  const get = (path: string) => request(api.url).get(path).set('Authorization', `Bearer ${token}`);
  const config = (server: number) =>
    api.monitor.store.notifications.create({
      server,
      notification_type: 'email',
      recipient: 'ops@example.com',
      enabled: true,
      notify_on_failure: true,
      notify_on_recovery: true,
    });

  it('has the state as `status` and its configs as `notifications`, in the list and alone', async () => {
    const watched = await api.monitor.store.servers.create(serverInput({ name: 'watched', port: 9 }));
    const quiet = await api.monitor.store.servers.create(serverInput({ name: 'quiet', port: 9 }));
    const first = await config(watched.id);
    const second = await config(watched.id);

    const one = await get(`/api/servers/${watched.id}/`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ status: 'pending', notifications: [first.id, second.id], current_status: { status: 'pending' } });

    // The server goes down: `status` follows, as a PulseGuard client reads it.
    const now = new Date().toISOString();
    const down: ServerStatus = {
      id: 0,
      server: watched.id,
      status: 'down',
      uptime_percentage: 17,
      uptime: { '24h': 17, '7d': 17, '30d': 17 },
      last_check: now,
      consecutive_failures: 3,
      consecutive_successes: 0,
      message: 'connect ECONNREFUSED',
      last_change: now,
      cert_expires_at: null,
    };
    const ping = {
      server: watched.id,
      status: 'failure' as const,
      response_time: null,
      status_code: null,
      error_message: 'refused',
      check_timestamp: now,
    };
    await api.monitor.store.results.record([{ ping, status: down, change: { status: 'down', at: Date.now() } }]);

    const list = await get('/api/servers/?search=');
    expect(list.status).toBe(200);
    const byId = new Map((list.body as { results: Array<{ id: number }> }).results.map((s) => [s.id, s]));
    expect(byId.get(watched.id)).toMatchObject({
      status: 'down',
      notifications: [first.id, second.id],
      current_status: { status: 'down', uptime_percentage: 17 },
    });
    expect(byId.get(quiet.id)).toMatchObject({ status: 'pending', notifications: [] });
    expect((await get(`/api/servers/${watched.id}/`)).body).toMatchObject({ status: 'down', notifications: [first.id, second.id] });
  });

  it('ignores `status` and `notifications` on write, as a read-only DRF field', async () => {
    const created = await request(api.url)
      .post('/api/servers/')
      .set('Authorization', `Bearer ${token}`)
      .send({ name: 'new', protocol: 'tcp', host: '127.0.0.1', port: 9, status: 'up', notifications: [12345] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: 'pending', notifications: [] });
    const patched = await request(api.url)
      .patch(`/api/servers/${(created.body as { id: number }).id}/`)
      .set('Authorization', `Bearer ${token}`)
      .send({ status: 'down', notifications: [1] });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ status: 'pending', notifications: [] });
  });

  it('lists a page in the same few queries whatever its size (no query per server)', async () => {
    // A store of its own: the running monitor's checks, claims and health queries share its pool, not this one.
    const store = await openStore({ database: database.url });
    const queriesFor = async (limit: number) => {
      let n = 0;
      const count = () => n++;
      store.db.on('query', count);
      try {
        const page = await store.servers.list({ limit });
        expect(page.results.length).toBe(limit);
      } finally {
        store.db.off('query', count);
      }
      return n;
    };
    for (let i = 0; i < 30; i++) {
      const server = await api.monitor.store.servers.create(serverInput({ name: `bulk-${i}`, port: 9 }));
      await config(server.id);
    }
    try {
      const few = await queriesFor(2);
      expect(few).toBeLessThanOrEqual(4);
      expect(await queriesFor(30)).toBe(few);
    } finally {
      await store.close();
    }
  });
});
