import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.js';
import type { PingEvent, StatusEvent } from '../../src/monitor/events.js';
import { openStore } from '../../src/monitor/store/index.js';
import type { Server, ServerInput } from '../../src/monitor/types.js';
import { validateServer } from '../../src/monitor/validate.js';
import { DATABASES, sqliteDatabase, waitFor, type TestDatabase } from './helpers.js';
import { startTarget, type Target } from './target.js';

function input(port: number, fields: Record<string, unknown>): ServerInput {
  const checked = validateServer({ name: 'target', protocol: 'http', host: '127.0.0.1', port, ...fields });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return checked.value;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(make: () => Promise<TestDatabase> = async () => sqliteDatabase()): Promise<{ db: TestDatabase; target: Target }> {
  const db = await make();
  cleanups.push(() => db.drop());
  const target = await startTarget();
  cleanups.push(() => target.close());
  return { db, target };
}

async function start(db: TestDatabase, options: Parameters<typeof createMonitor>[0] = {}): Promise<Monitor> {
  const monitor = await createMonitor({ database: db.url, logger: false, ...options });
  cleanups.push(() => monitor.close());
  return monitor;
}

describe.each(DATABASES)('monitor on %s', (_kind, make) => {
  it('checks a server, stores the result, and announces pings and state changes after they are committed', async () => {
    const { db, target } = await setup(make);
    const monitor = await start(db, { schedule: false });
    const server = await monitor.store.servers.create(input(target.port, { name: 'api', path: '/api', failure_threshold: 2 }));
    const pings: PingEvent[] = [];
    const changes: StatusEvent[] = [];
    monitor.events.on('ping', (e) => pings.push(e));
    monitor.events.on('status', (e) => changes.push(e));

    const [first] = await monitor.runNow();
    expect(first!.ping).toMatchObject({ server: server.id, status: 'success', status_code: 200 });
    expect(first!.status).toMatchObject({ status: 'up', consecutive_successes: 1 });
    // The status carries its stored id, also for a server added while the monitor runs.
    expect(first!.status.id).toBeGreaterThan(0);
    expect(first!.status.id).toBe((await monitor.store.results.status(server.id))!.id);
    // The event came after the commit: the stored row is there with the same id.
    expect(pings).toHaveLength(1);
    const stored = await monitor.store.results.list({ serverIds: [server.id] });
    expect(stored.results[0]).toEqual(pings[0]!.ping);
    expect(changes.map((c) => [c.previous, c.status.status])).toEqual([['pending', 'up']]);
    expect(changes[0]!.server.name).toBe('api');

    target.failing.add('/api');
    await monitor.runNow([server.id]);
    expect((await monitor.store.results.status(server.id))?.status).toBe('pending');
    await monitor.runNow([server.id]);
    const down = await monitor.store.results.status(server.id);
    expect(down).toMatchObject({ status: 'down', consecutive_failures: 2, message: 'expected status 200-399, got 503' });
    expect(changes.map((c) => c.status.status)).toEqual(['up', 'pending', 'down']);
    expect(pings.map((p) => p.ping.status)).toEqual(['success', 'failure', 'failure']);
    const history = await monitor.store.history.changesSince(0, [server.id]);
    expect(history.map((c) => c.status)).toEqual(['pending', 'up', 'pending', 'down']);
  });
});

describe('scheduling against real targets', () => {
  it('starts each check on its fixed-rate grid (no cumulative drift), a hanging target delays no one, results go in batches', async () => {
    const { db, target } = await setup();
    const store = await openStore({ database: db.url });
    const fast: Server[] = [];
    // Half of them answer after 600 ms: a schedule counted from the end of the previous check would slip by that much each time.
    const paths = ['/fast0', '/fast1', '/fast2', '/slow0', '/slow1', '/slow2'];
    for (const path of paths) fast.push(await store.servers.create(input(target.port, { name: path, path, check_interval: 1 })));
    await store.servers.create(input(target.port, { name: 'hang', path: '/hang', check_interval: 1, timeout: 0.95 }));
    await store.close();

    const monitor = await start(db);
    let inserts = 0;
    monitor.store.db.on('query', (q: { sql: string }) => {
      if (/^insert into [`"]monitor_ping_results/i.test(q.sql)) inserts++;
    });
    // Watch until every server has had five slots (four intervals to measure drift over).
    await waitFor(
      () => [...paths, '/hang'].every((path) => (target.arrivals.get(path) ?? []).length >= 5),
      10_000,
      'five checks of every server',
    );
    const late: number[] = [];
    const firsts: number[] = [];
    for (const path of paths) {
      const times = target.arrivals.get(path) ?? [];
      expect(times.length, `checks of ${path}`).toBeGreaterThanOrEqual(4);
      firsts.push(times[0]! % 1000);
      // Each start is measured against the first one plus k intervals: lateness would add up if it drifted.
      times.forEach((t, k) => late.push(t - times[0]! - k * 1000));
    }
    expect(Math.max(...late.map(Math.abs)), `offsets ${late.join(',')}`).toBeLessThan(200);
    // The hanging target was checked on its own schedule as well, once per slot.
    expect((target.arrivals.get('/hang') ?? []).length).toBeGreaterThanOrEqual(4);
    // Phases spread the servers over the second instead of starting them together.
    expect(new Set(firsts.map((f) => Math.floor(f / 50))).size).toBeGreaterThan(1);
    const stats = monitor.stats();
    expect(stats.started).toBeGreaterThanOrEqual(28);
    expect(inserts).toBeGreaterThan(0);
    expect(inserts).toBeLessThanOrEqual(stats.started);
    expect(inserts).toBeLessThan(stats.started / 2);
  }, 15_000);

  it('never runs more checks at once than `concurrency`', async () => {
    const { db, target } = await setup();
    const monitor = await start(db, { concurrency: 3 });
    for (let i = 0; i < 10; i++)
      await monitor.store.servers.create(input(target.port, { name: `slow ${i}`, path: `/slow${i}`, check_interval: 1 }));
    await waitFor(() => monitor.stats().started >= 12, 8000, '12 checks');
    expect(target.maxInFlight).toBe(3);
  }, 15_000);

  it('after a restart, checks each server at last_check + interval: no burst', async () => {
    const { db, target } = await setup();
    const first = await start(db, { schedule: false, flushInterval: 10 });
    const ids: number[] = [];
    for (let i = 0; i < 8; i++)
      ids.push((await first.store.servers.create(input(target.port, { name: `s${i}`, path: `/r${i}`, check_interval: 3 }))).id);
    // Checks at different moments, as a running monitor would have done them.
    for (const id of ids) {
      await first.runNow([id]);
      await new Promise((r) => setTimeout(r, 150)); // the scenario: checks made at different moments
    }
    const lastCheck = new Map((await first.store.results.statuses()).map((s) => [s.server, Date.parse(s.last_check!)]));
    await first.close();
    for (const list of target.arrivals.values()) list.length = 0;

    const restarted = Date.now();
    await start(db);
    await waitFor(() => ids.every((_, i) => (target.arrivals.get(`/r${i}`) ?? []).length >= 1), 5000, 'the first check of every server');
    for (const [i, id] of ids.entries()) {
      const times = target.arrivals.get(`/r${i}`) ?? [];
      expect(times.length, `checks of /r${i}`).toBeGreaterThanOrEqual(1);
      // The first slot of last_check + n × interval that is not in the past.
      const last = lastCheck.get(id)!;
      const due = last + Math.max(1, Math.ceil((restarted - last) / 3000)) * 3000;
      expect(Math.abs(times[0]! - due), `server ${i}`).toBeLessThan(250);
    }
    // No burst: the first checks after the restart are spread as they were before it.
    const firstChecks = ids.map((_, i) => target.arrivals.get(`/r${i}`)![0]!);
    expect(Math.max(...firstChecks) - Math.min(...firstChecks)).toBeGreaterThan(700);
  }, 15_000);

  it('leaves the time the monitor was not running out of the uptime', async () => {
    const { db, target } = await setup();
    const store = await openStore({ database: db.url });
    const server = await store.servers.create(input(target.port, { name: 'gap', path: '/gap' }));
    const H = 3_600_000;
    const now = Date.now();
    // A first monitor ran from -10 h to -6 h; the server went down at -8 h and nobody watched after -6 h.
    await store
      .db('monitor_status_changes')
      .where({ server_id: server.id })
      .update({ at: now - 10 * H, status: 'up' });
    await store.db('monitor_status_changes').insert({ server_id: server.id, status: 'down', at: now - 8 * H });
    await store
      .db('monitor_server_status')
      .where({ server_id: server.id })
      .update({ status: 'down', consecutive_failures: 5, last_check: now - 6 * H });
    await store.db('monitor_runs').insert({ instance: 'earlier', started_at: now - 10 * H, last_seen_at: now - 6 * H });
    await store.close();

    const monitor = await start(db, { schedule: false });
    const [report] = await monitor.runNow([server.id]);
    expect(report!.status.status).toBe('up');
    // Known: 4 h, of which 2 h down. Counting the gap as down would give 20 %.
    expect(report!.status.uptime['24h']).toBeCloseTo(50, 0);
    expect(report!.status.uptime_percentage).toBe(report!.status.uptime['24h']);
    expect((await monitor.store.results.status(server.id))?.uptime['30d']).toBeCloseTo(50, 0);
  });

  it('follows servers added, disabled and removed through the store', async () => {
    const { db, target } = await setup();
    const monitor = await start(db);
    const server = await monitor.store.servers.create(input(target.port, { name: 'x', path: '/x', check_interval: 1 }));
    await waitFor(() => (target.arrivals.get('/x') ?? []).length >= 1, 3000, 'first check');
    // A witness on the same 1 s interval: two of its checks mean a slot of every 1 s server has passed.
    await monitor.store.servers.create(input(target.port, { name: 'w', path: '/w', check_interval: 1 }));
    const twoSlots = async (what: string) => {
      await waitFor(() => (target.arrivals.get('/w') ?? []).length >= 1, 3000, 'the witness checked');
      const from = target.arrivals.get('/w')!.length;
      await waitFor(() => target.arrivals.get('/w')!.length >= from + 2, 3000, what);
    };
    await monitor.store.servers.update(server.id, { ...input(target.port, { name: 'x', path: '/x', check_interval: 1 }), enabled: false });
    await twoSlots('one slot after the disabling'); // a check of x already running may still land meanwhile
    const count = target.arrivals.get('/x')!.length;
    await twoSlots('two slots more');
    expect(target.arrivals.get('/x')!.length).toBe(count);
    const other = await monitor.store.servers.create(input(target.port, { name: 'y', path: '/y', check_interval: 1 }));
    await waitFor(() => (target.arrivals.get('/y') ?? []).length >= 1, 3000, 'first check of y');
    await monitor.store.servers.remove(other.id);
    await twoSlots('one slot after the removal');
    const yCount = target.arrivals.get('/y')!.length;
    await twoSlots('two slots more');
    expect(target.arrivals.get('/y')!.length).toBe(yCount);
    expect(monitor.stats().servers).toBe(2); // x (disabled) and the witness
  }, 15_000);

  it('closes promptly while a check hangs, storing no cancelled result', async () => {
    const { db, target } = await setup();
    const monitor = await createMonitor({ database: db.url, logger: false });
    const server = await monitor.store.servers.create(input(target.port, { name: 'hang', path: '/hang', check_interval: 10, timeout: 8 }));
    const running = monitor.runNow([server.id]);
    await waitFor(() => (target.arrivals.get('/hang') ?? []).length === 1, 3000, 'the hanging check');
    const started = Date.now();
    await monitor.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await running).toEqual([]);
    const store = await openStore({ database: db.url });
    expect((await store.results.list()).count).toBe(0);
    await store.close();
  });

  it('stops with one line naming a bad MONITOR_ environment variable', async () => {
    const { db } = await setup();
    process.env.MONITOR_CONCURRENCY = 'lots';
    try {
      await expect(createMonitor({ database: db.url, logger: false })).rejects.toThrow(
        /^MONITOR_CONCURRENCY must be an integer 1-100000, got "lots"$/,
      );
    } finally {
      delete process.env.MONITOR_CONCURRENCY;
    }
  });

  it('rejects bad options with a TypeError naming them', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ concurrency: 0 }, /monitor: expected `concurrency` to be an integer 1-100000, got 0/],
      [{ retentionDays: 'week' }, /`retentionDays`/],
      [{ ca: 'pem' }, /`ca` to be an array of PEM strings/],
      [{ concurency: 5 }, /unknown option `concurency`/],
      [{ database: 42 }, /expected `database` to be a URL, a SQLite file name or a knex instance/],
    ];
    for (const [options, message] of cases) await expect(createMonitor({ logger: false, ...options } as never)).rejects.toThrow(message);
  });
});
