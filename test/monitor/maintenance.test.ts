import { afterEach, describe, expect, it } from 'vitest';
import { maintain } from '../../src/monitor/maintenance.js';
import { openStore } from '../../src/monitor/store/index.js';
import { validateServer } from '../../src/monitor/validate.js';
import { DATABASES } from './helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each(DATABASES)('maintenance on %s', (_kind, make) => {
  it('rolls up every finished hour once, then prunes raw results after the retention and rollups after 90 days', async () => {
    const db = await make();
    cleanups.push(() => db.drop());
    const store = await openStore({ database: db.url });
    cleanups.push(() => store.close());
    const checked = validateServer({ name: 'kept', protocol: 'tcp', host: '127.0.0.1', port: 9 });
    if (!checked.ok) throw new Error('invalid');
    const server = await store.servers.create(checked.value);
    const now = Date.now();
    const thisHour = Math.floor(now / HOUR) * HOUR;
    const old = thisHour - 10 * DAY;
    const recent = thisHour - 2 * HOUR;
    const rows = [old, old + 60_000, recent, recent + 60_000, recent + 120_000, thisHour].map((t, i) => ({
      server_id: server.id,
      status: i === 3 ? 'timeout' : 'success',
      response_time: i === 3 ? null : 10 * (i + 1),
      status_code: null,
      error_message: null,
      check_timestamp: t,
    }));
    await store.db('monitor_ping_results').insert(rows);
    await store.db('monitor_rollups').insert({ server_id: server.id, hour: thisHour - 100 * DAY, count: 1, failures: 0 });

    const reports = [];
    for (let i = 0; i < 20; i++) {
      const report = await maintain(store, { retentionDays: 7, rollupRetentionDays: 90 }, now);
      reports.push(report);
      if (report.hoursRolledUp === 0) break;
    }
    // 10 days of hours, at most 24 per run: caught up in small steps, the current hour left open.
    expect(reports.every((r) => r.hoursRolledUp <= 24)).toBe(true);
    expect(reports.reduce((n, r) => n + r.hoursRolledUp, 0)).toBe((thisHour - old) / HOUR - (now - thisHour < 2 * 60_000 ? 1 : 0));
    expect(reports.reduce((n, r) => n + r.resultsPruned, 0)).toBe(2);
    expect(reports[0]!.rollupsPruned).toBe(1);

    const rollups = await store.history.rollups(server.id, 0);
    expect(rollups.map((r) => [r.hour, r.count, r.failures, r.avg_response_ms])).toEqual([
      [new Date(old).toISOString(), 2, 0, 15],
      [new Date(recent).toISOString(), 3, 1, 40],
    ]);
    const raw = await store.results.list({ serverIds: [server.id] });
    expect(raw.count).toBe(4);
  });
});
