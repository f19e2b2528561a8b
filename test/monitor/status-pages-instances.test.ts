import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.js';
import { postgresDatabase, serverInput, type TestDatabase } from './helpers.js';
import { startTarget, type Target } from './target.js';

// Two monitors on one PostgreSQL, both checking both servers of a page at once: each
// outage is one incident, with both servers, resolved when both are back.
describe('incidents across two instances on PostgreSQL', () => {
  let db: TestDatabase;
  let target: Target;
  let one: Monitor;
  let two: Monitor;

  beforeAll(async () => {
    db = await postgresDatabase();
    target = await startTarget();
    const options = { database: db.url, schedule: false, shared: true, logger: false, notifications: false } as const;
    one = await createMonitor(options);
    two = await createMonitor(options);
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await target?.close();
    await db?.drop();
  });

  it('opens one incident per outage, folding the servers that fail together', async () => {
    const { store } = one;
    const a = (await store.servers.create(serverInput({ name: 'a', port: target.port, path: '/a' }))).id;
    const b = (await store.servers.create(serverInput({ name: 'b', port: target.port, path: '/b' }))).id;
    await store.statusPages.create({ slug: 'shared', title: 'Shared', description: '', servers: [a, b], display_names: {} });
    // Each instance learns of the servers (no live layer here: a new monitor loads them).
    await two.close();
    two = await createMonitor({ database: db.url, schedule: false, shared: true, logger: false, notifications: false });
    await one.close();
    one = await createMonitor({ database: db.url, schedule: false, shared: true, logger: false, notifications: false });

    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      target.failing.add('/a');
      target.failing.add('/b');
      await Promise.all([one.runNow([a, b]), two.runNow([b, a])]);
      target.failing.clear();
      await Promise.all([one.runNow([a, b]), two.runNow([b, a])]);
    }
    const { results } = await one.store.incidents.list();
    expect(results).toHaveLength(rounds);
    for (const incident of results) {
      expect(incident.servers.sort()).toEqual([a, b].sort());
      expect(incident).toMatchObject({ automatic: true, state: 'resolved', status_page: 'shared' });
    }
  });
});
