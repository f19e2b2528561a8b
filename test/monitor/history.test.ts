import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { HistoryBucket } from '../../src/monitor/store/history.js';
import { ADMIN, startApi } from './api-helpers.js';
import { DATABASES } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const floor = (t: number, size: number) => Math.floor(t / size) * size;

interface History {
  range: string;
  bucket_seconds: number;
  buckets: HistoryBucket[];
}

describe.each(DATABASES)('GET /api/servers/:id/history/ on %s', (_name, open) => {
  it('buckets raw results after the rollup watermark and hourly rollups before it', async () => {
    const db = await open();
    cleanups.push(() => db.drop());
    const api = await startApi(db);
    cleanups.push(() => api.shutdown());
    const token = await api.login(ADMIN);
    const created = await request(api.url)
      .post('/api/servers/')
      .set('Authorization', `Bearer ${token}`)
      .send({ name: 'h', host: '127.0.0.1', port: 9, protocol: 'tcp' });
    const id = (created.body as { id: number }).id;
    const { db: knex, settings } = api.monitor.store;

    const now = Date.now();
    const recent = now - 30 * MINUTE;
    const threeHours = now - 3 * HOUR;
    const ping = (at: number, status: string, ms: number | null) => ({
      server_id: id,
      status,
      response_time: ms,
      status_code: null,
      error_message: status === 'success' ? null : 'refused',
      check_timestamp: at,
    });
    await knex('monitor_ping_results').insert([
      ping(recent, 'success', 100),
      ping(recent + 1000, 'success', 300),
      ping(recent + 2000, 'failure', null),
      // Before the watermark: its hour's rollup stands for it in hour buckets.
      ping(threeHours, 'success', 50),
    ]);
    const old = floor(now - 10 * DAY, HOUR);
    await knex('monitor_rollups').insert([
      { server_id: id, hour: old, count: 10, failures: 1, avg_response_ms: 200, p95_response_ms: 400 },
      { server_id: id, hour: old + HOUR, count: 10, failures: 0, avg_response_ms: 100, p95_response_ms: 500 },
      { server_id: id, hour: floor(threeHours, HOUR), count: 4, failures: 2, avg_response_ms: 80, p95_response_ms: 90 },
    ]);
    await settings.set('rollup_watermark', String(floor(now, HOUR) - 2 * HOUR));

    const get = async (query: string) => {
      const res = await request(api.url).get(`/api/servers/${id}/history/${query}`).set('Authorization', `Bearer ${token}`);
      expect(res.status).toBe(200);
      return res.body as History;
    };
    const at = (h: History, t: number) => h.buckets.find((b) => b.start === new Date(floor(t, h.bucket_seconds * 1000)).toISOString());

    // 24 h (the default): 15-minute buckets from raw results only, from the first one with checks.
    const day = await get('');
    expect(day.range).toBe('24h');
    expect(day.bucket_seconds).toBe(900);
    expect(day.buckets[0]!.start).toBe(new Date(floor(threeHours, 15 * MINUTE)).toISOString());
    expect(day.buckets[0]).toEqual({ start: day.buckets[0]!.start, checks: 1, uptime: 100, avg_response_time: 50, p95_response_time: 50 });
    expect(at(day, recent)).toMatchObject({ checks: 3, uptime: 66.667, avg_response_time: 200, p95_response_time: 300 });
    expect(day.buckets.at(-1)!.start).toBe(new Date(floor(now, 15 * MINUTE)).toISOString());
    expect(day.buckets.filter((b) => b.checks === 0).every((b) => b.uptime === null && b.avg_response_time === null)).toBe(true);

    // 7 days: hourly; the hour before the watermark comes from its rollup, not from the raw row.
    const week = await get('?range=7d');
    expect(week.bucket_seconds).toBe(3600);
    expect(at(week, threeHours)).toMatchObject({ checks: 4, uptime: 50, avg_response_time: 80, p95_response_time: 90 });
    expect(at(week, recent)).toMatchObject({ checks: 3, uptime: 66.667 });

    // 90 days: daily; two rollup hours merge (mean weighted by successful checks, p95 the highest).
    const quarter = await get('?range=90d');
    expect(quarter.bucket_seconds).toBe(86_400);
    expect(quarter.buckets[0]).toMatchObject({
      start: new Date(floor(old, DAY)).toISOString(),
      checks: 20,
      uptime: 95,
      avg_response_time: 147.368,
      p95_response_time: 500,
    });
    expect(quarter.buckets).toHaveLength((floor(now, DAY) - floor(old, DAY)) / DAY + 1);
    expect((await get('?range=30d')).bucket_seconds).toBe(21_600);

    const bad = await request(api.url).get(`/api/servers/${id}/history/?range=1y`).set('Authorization', `Bearer ${token}`);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ range: ['"1y" is not a valid choice.'] });
    expect(
      (
        await request(api.url)
          .get(`/api/servers/${id + 1000}/history/`)
          .set('Authorization', `Bearer ${token}`)
      ).status,
    ).toBe(404);
    expect((await request(api.url).get(`/api/servers/${id}/history/`)).status).toBe(401);
  });
});
