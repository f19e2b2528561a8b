// Races between a write that names a server and the server's removal: a field error
// (400) for the API, never a 500; a batch of check results that loses its server
// meanwhile is stored without it. Real databases, the delete run for real at the
// moment that matters.
import pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type MonitorStore } from '../../src/monitor/store/index.js';
import type { ServerStatus } from '../../src/monitor/types.js';
import { startApi, type ApiHarness } from './api-helpers.js';
import { DATABASES, postgresDatabase, serverInput, waitFor, type TestDatabase } from './helpers.js';

describe.each(DATABASES)('a server removed while a notification config names it, on %s', (_kind, make) => {
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

  /**
   * The route checks the server exists (`servers.get`), then writes: the server is
   * removed between the two, as another admin's DELETE would.
   */
  function removeAfterCheck(id: number): () => void {
    const servers = api.monitor.store.servers;
    const original = servers.get.bind(servers);
    servers.get = async (wanted: number) => {
      const found = await original(wanted);
      if (wanted === id) await servers.remove(id);
      return found;
    };
    return () => {
      servers.get = original;
    };
  }

  it('create answers 400 {server: […]} (not 500) and stores nothing', async () => {
    const server = await api.monitor.store.servers.create(serverInput({ name: 'doomed', port: 9 }));
    const restore = removeAfterCheck(server.id);
    try {
      const res = await request(api.url)
        .post('/api/notification-configs/')
        .set('Authorization', `Bearer ${token}`)
        .send({ server: server.id, notification_type: 'email', recipient: 'ops@example.com' });
      expect({ status: res.status, body: res.body as unknown }).toEqual({
        status: 400,
        body: { server: [`Invalid pk "${server.id}" - object does not exist.`] },
      });
    } finally {
      restore();
    }
    expect(await api.monitor.store.notifications.list({ serverIds: [server.id] })).toEqual([]);
  });

  it('PUT and PATCH moving a config to a server removed meanwhile answer 400', async () => {
    const kept = await api.monitor.store.servers.create(serverInput({ name: 'kept', port: 9 }));
    const config = await api.monitor.store.notifications.create({
      server: kept.id,
      notification_type: 'email',
      recipient: 'ops@example.com',
      enabled: true,
      notify_on_failure: true,
      notify_on_recovery: true,
    });
    for (const method of ['put', 'patch'] as const) {
      const doomed = await api.monitor.store.servers.create(serverInput({ name: 'doomed', port: 9 }));
      const restore = removeAfterCheck(doomed.id);
      try {
        const agent = request(api.url);
        const res = await agent[method](`/api/notification-configs/${config.id}/`)
          .set('Authorization', `Bearer ${token}`)
          .send({ server: doomed.id, notification_type: 'email', recipient: 'ops@example.com' });
        expect({ status: res.status, body: res.body as unknown }, method).toEqual({
          status: 400,
          body: { server: [`Invalid pk "${doomed.id}" - object does not exist.`] },
        });
      } finally {
        restore();
      }
    }
    expect((await api.monitor.store.notifications.get(config.id))?.server).toBe(kept.id);
  });
});

describe('a server deleted in a concurrent transaction while its check results are written (PostgreSQL)', () => {
  // SQLite has one writer at a time: a delete cannot fall between the batch's read and its inserts there.
  let database: TestDatabase;
  let store: MonitorStore;
  beforeAll(async () => {
    database = await postgresDatabase();
    store = await openStore({ database: database.url });
  });
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const status = (server: number): ServerStatus => {
    const now = new Date().toISOString();
    return {
      id: 0,
      server,
      status: 'up',
      uptime_percentage: 100,
      uptime: { '24h': 100, '7d': 100, '30d': 100 },
      last_check: now,
      consecutive_failures: 0,
      consecutive_successes: 1,
      message: 'OK',
      last_change: now,
      cert_expires_at: null,
    };
  };

  it('stores the batch without the deleted server, instead of failing it on the foreign key', async () => {
    const doomed = await store.servers.create(serverInput({ name: 'doomed', port: 9 }));
    const kept = await store.servers.create(serverInput({ name: 'kept', port: 9 }));
    const other = new pg.Client(database.url);
    await other.connect();
    try {
      // The delete has run, not committed: the batch's read still sees the server.
      await other.query('begin');
      await other.query('delete from monitor_servers where id = $1', [doomed.id]);
      const { rows } = (await other.query('select pg_backend_pid() as pid')) as { rows: Array<{ pid: number }> };
      const deleter = rows[0]!.pid;
      const ping = (server: number) => ({
        server,
        status: 'success' as const,
        response_time: 3,
        status_code: 200,
        error_message: null,
        check_timestamp: new Date().toISOString(),
      });
      const writing = store.results.record([
        { ping: ping(doomed.id), status: status(doomed.id) },
        { ping: ping(kept.id), status: status(kept.id) },
      ]);
      const outcome = writing.then(
        (stored) => ({ stored }),
        (error: unknown) => ({ error: String(error) }),
      );
      // The batch is waiting on the delete's row lock: commit the delete now.
      const probe = new pg.Client(database.url);
      await probe.connect();
      try {
        await waitFor(
          async () =>
            (
              (await probe.query('select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [deleter])) as {
                rows: Array<{ n: number }>;
              }
            ).rows[0]!.n > 0,
          10_000,
          'the batch to wait on the delete',
        );
      } finally {
        await probe.end();
      }
      await other.query('commit');
      const result = await outcome;
      expect(result).not.toHaveProperty('error');
      expect('stored' in result && result.stored.map((s) => s.ping.server)).toEqual([kept.id]);
    } finally {
      await other.end();
    }
    expect((await store.results.list({ serverIds: [doomed.id, kept.id] })).results.map((p) => p.server)).toEqual([kept.id]);
  });
});
