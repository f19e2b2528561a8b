import { afterEach, describe, expect, it } from 'vitest';
import { createMonitor, type Monitor } from '../../src/monitor/monitor.js';
import { openStore } from '../../src/monitor/store/index.js';
import { validateServer } from '../../src/monitor/validate.js';
import { postgresDatabase, waitFor } from './helpers.js';
import { startTarget } from './target.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('several instances on one PostgreSQL', () => {
  it('run each slot of each server once between them, keep one count of failures, and take over when one stops', async () => {
    const db = await postgresDatabase();
    cleanups.push(() => db.drop());
    const target = await startTarget();
    cleanups.push(() => target.close());
    const store = await openStore({ database: db.url });
    const paths = ['/a', '/b', '/c', '/d', '/e'];
    const ids: number[] = [];
    for (const path of paths) {
      const checked = validateServer({
        name: path,
        protocol: 'http',
        host: '127.0.0.1',
        port: target.port,
        path,
        check_interval: 1,
        failure_threshold: 3,
      });
      if (!checked.ok) throw new Error('invalid');
      ids.push((await store.servers.create(checked.value)).id);
    }
    await store.close();
    target.failing.add('/e');

    const one: Monitor = await createMonitor({ database: db.url, logger: false });
    const two: Monitor = await createMonitor({ database: db.url, logger: false });
    cleanups.push(() => two.close());
    cleanups.push(() => one.close());
    // Every server checked at least three times (the failing one: down at the third, by whichever instance).
    await waitFor(() => paths.every((path) => (target.arrivals.get(path) ?? []).length >= 3), 10_000, 'three checks of every server');
    await waitFor(async () => (await one.store.results.status(ids[4]!))?.status === 'down', 10_000, 'the failing server down');
    // Both instances won some slots (which one wins a slot is a race: wait until each has).
    const won = (m: Monitor) => m.stats().started - m.stats().claimsLost;
    await waitFor(() => won(one) > 0 && won(two) > 0, 10_000, 'slots won by each instance');

    for (const path of paths) {
      const times = target.arrivals.get(path) ?? [];
      expect(times.length, path).toBeGreaterThanOrEqual(3);
      // One check per slot: never two within the same second.
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, `${path} ${times.join(',')}`).toBeGreaterThan(700);
    }
    // Both instances checked, and both lost claims to the other.
    expect(one.stats().claimsLost + two.stats().claimsLost).toBeGreaterThan(0);
    expect(one.stats().claimsLost).toBeLessThan(one.stats().started);
    expect(two.stats().claimsLost).toBeLessThan(two.stats().started);
    // The failure count runs on across instances: down after the third failure whichever instance saw it.
    // Counted up to the last stored check (a later one may be running or not yet stored).
    const failing = (await one.store.results.status(ids[4]!))!;
    const failures = (target.arrivals.get('/e') ?? []).filter((t) => t <= Date.parse(failing.last_check!) + 300).length;
    expect(failing, JSON.stringify(target.arrivals.get('/e'))).toMatchObject({ status: 'down', consecutive_failures: failures });

    // One instance stops: the other takes every slot from the next one.
    await one.close();
    const before = new Map(paths.map((p) => [p, target.arrivals.get(p)!.length]));
    await waitFor(
      () => paths.every((path) => target.arrivals.get(path)!.length - before.get(path)! >= 2),
      5000,
      'two more checks of every server by the other',
    );
  }, 20_000);
});
