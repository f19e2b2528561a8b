import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerStatus } from '../../src/monitor/types.js';
import { maintenanceNow, upcomingMaintenance } from '../../src/monitor/windows/index.js';
import { ADMIN, READER, startApi, type ApiHarness } from './api-helpers.js';
import { DATABASES, type TestDatabase } from './helpers.js';
import { startTarget, type Target } from './target.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  api: ApiHarness;
  token: string;
  target: Target;
  /** Two servers on the same failing path, with a webhook config each: `inWindow` gets a window, `outside` not. */
  inWindow: number;
  outside: number;
}

async function setup(open: () => Promise<TestDatabase>): Promise<Setup> {
  const db = await open();
  cleanups.push(() => db.drop());
  const target = await startTarget();
  cleanups.push(() => target.close());
  target.failing.add('/down');
  // The outbox is written by this process; nothing is sent (the receiver would be loopback port 9).
  const api = await startApi(db, { notifications: { send: false } });
  cleanups.push(() => api.shutdown());
  const token = await api.login(ADMIN);
  const ids: number[] = [];
  for (const name of ['in-window', 'outside']) {
    const res = await request(api.url)
      .post('/api/servers/')
      .set('Authorization', `Bearer ${token}`)
      .send({ name, host: '127.0.0.1', port: target.port, path: '/down', protocol: 'http', failure_threshold: 1, timeout: 2 });
    expect(res.status).toBe(201);
    const id = (res.body as { id: number }).id;
    ids.push(id);
    const config = await request(api.url)
      .post('/api/notification-configs/')
      .set('Authorization', `Bearer ${token}`)
      .send({ server: id, notification_type: 'webhook', recipient: 'http://127.0.0.1:9/hook' });
    expect(config.status).toBe(201);
  }
  return { api, token, target, inWindow: ids[0]!, outside: ids[1]! };
}

async function statusOf(s: Setup, id: number): Promise<ServerStatus> {
  const res = await request(s.api.url).get(`/api/server-status/?server_id=${id}`).set('Authorization', `Bearer ${s.token}`);
  expect(res.status).toBe(200);
  return (res.body as { results: ServerStatus[] }).results[0]!;
}

const outboxOf = async (s: Setup, id: number) =>
  (await s.api.monitor.store.outbox.list()).filter((m) => m.server === id).map((m) => m.event);

/** Waits until the clock has moved past `ms` after now (uptime weighs time). */
async function elapse(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) await new Promise((r) => setTimeout(r, until - Date.now()));
}

/** The current hour of a zone, for a cron that starts at the top of it. */
function hourIn(zone: string, at = new Date()): number {
  return Number(new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' }).format(at));
}

describe.each(DATABASES)('maintenance windows on %s', (_name, open) => {
  it('a fixed window: checks stored, no notification, status maintenance, left out of uptime; the real state shows when it ends', async () => {
    const s = await setup(open);
    const now = Date.now();
    const created = await request(s.api.url)
      .post('/api/maintenance/')
      .set('Authorization', `Bearer ${s.token}`)
      .send({
        title: 'Database upgrade',
        servers: [s.inWindow],
        starts_at: new Date(now - 3_600_000).toISOString(),
        ends_at: new Date(now + 3_600_000).toISOString(),
      });
    expect(created.status).toBe(201);
    const window = created.body as { id: number; active: boolean; servers: number[] };
    expect(window).toMatchObject({ title: 'Database upgrade', servers: [s.inWindow], active: true, cron: null });

    await s.api.monitor.runNow([s.inWindow, s.outside]);
    await elapse(50);
    const reports = await s.api.monitor.runNow([s.inWindow, s.outside]);
    const byId = new Map(reports.map((r) => [r.server.id, r]));
    // The state machine goes on underneath; the outbox has nothing for the server in its window.
    expect(byId.get(s.inWindow)!.status.status).toBe('down');
    expect(await outboxOf(s, s.inWindow)).toEqual([]);
    expect(await outboxOf(s, s.outside)).toEqual(['server.down']);
    // Its checks are stored.
    const pings = await request(s.api.url).get(`/api/ping-results/?server_id=${s.inWindow}`).set('Authorization', `Bearer ${s.token}`);
    expect((pings.body as { count: number }).count).toBe(2);
    // It reads `maintenance` (and filters as such); the other `down`.
    const inWindow = await statusOf(s, s.inWindow);
    const outside = await statusOf(s, s.outside);
    expect(inWindow.status).toBe('maintenance');
    expect(outside.status).toBe('down');
    const filtered = await request(s.api.url).get('/api/server-status/?status=maintenance').set('Authorization', `Bearer ${s.token}`);
    expect((filtered.body as { results: ServerStatus[] }).results.map((r) => r.server)).toEqual([s.inWindow]);
    const server = await request(s.api.url).get(`/api/servers/${s.inWindow}/`).set('Authorization', `Bearer ${s.token}`);
    expect((server.body as { current_status: ServerStatus }).current_status.status).toBe('maintenance');
    // Same history, but the window's time is left out: the down time counts only outside it.
    expect(inWindow.uptime['24h']).toBe(100);
    expect(outside.uptime['24h']).toBeLessThan(100);
    // The seam for incidents and status pages.
    expect([...(await maintenanceNow(s.api.monitor.store, [s.inWindow, s.outside])).keys()]).toEqual([s.inWindow]);
    expect((await upcomingMaintenance(s.api.monitor.store, [s.outside])).length).toBe(0);
    expect((await upcomingMaintenance(s.api.monitor.store, [s.inWindow]))[0]).toMatchObject({ window: window.id, servers: [s.inWindow] });

    // The window ends: the real state shows, and the time after it counts again.
    const ended = await request(s.api.url)
      .patch(`/api/maintenance/${window.id}/`)
      .set('Authorization', `Bearer ${s.token}`)
      .send({ ends_at: new Date(Date.now()).toISOString() });
    expect(ended.status).toBe(200);
    expect((ended.body as { active: boolean }).active).toBe(false);
    await elapse(50);
    const [after] = await s.api.monitor.runNow([s.inWindow]);
    expect(after!.status.status).toBe('down');
    expect(after!.status.uptime['24h']).toBeLessThan(100);
    expect((await statusOf(s, s.inWindow)).status).toBe('down');
  });

  it('a cron window in a time zone covers the hour of that zone, not of UTC', async () => {
    const s = await setup(open);
    const zone = 'Asia/Kolkata'; // UTC+05:30: the same cron read in UTC would be hours away
    const cron = `0 ${hourIn(zone)} * * *`;
    const res = await request(s.api.url)
      .post('/api/maintenance/')
      .set('Authorization', `Bearer ${s.token}`)
      .send({ title: 'Nightly backup', servers: [s.inWindow], cron, duration_minutes: 120, timezone: zone });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ cron, duration_minutes: 120, timezone: zone, starts_at: null, active: true });
    const utc = await request(s.api.url)
      .post('/api/maintenance/')
      .set('Authorization', `Bearer ${s.token}`)
      .send({ title: 'Same cron in UTC', servers: [s.outside], cron, duration_minutes: 120, timezone: 'UTC' });
    expect(utc.status).toBe(201);
    expect((utc.body as { active: boolean }).active).toBe(false);

    await s.api.monitor.runNow([s.inWindow, s.outside]);
    expect(await outboxOf(s, s.inWindow)).toEqual([]);
    expect(await outboxOf(s, s.outside)).toEqual(['server.down']);
    expect((await statusOf(s, s.inWindow)).status).toBe('maintenance');
    expect((await statusOf(s, s.outside)).status).toBe('down');
  });
});

describe('the maintenance API', () => {
  it('validates DRF-style, lets only admins write, and answers 404 for a window that is gone', async () => {
    const s = await setup(DATABASES[0][1]);
    const post = (body: unknown, token = s.token) =>
      request(s.api.url)
        .post('/api/maintenance/')
        .set('Authorization', `Bearer ${token}`)
        .send(body as object);
    const start = '2030-01-01T10:00:00Z';
    const end = '2030-01-01T14:00:00+02:00'; // 12:00 UTC

    expect((await post({})).body).toEqual({
      title: ['This field is required.'],
      servers: ['This field is required.'],
      non_field_errors: ['Give either starts_at and ends_at, or cron, duration_minutes and timezone.'],
    });
    const both = await post({ title: 't', servers: [s.inWindow], starts_at: start, ends_at: end, cron: '0 3 * * *' });
    expect(both.status).toBe(400);
    expect(Object.keys(both.body as object)).toEqual(['non_field_errors']);
    const bad = await post({ title: ' ', servers: [], starts_at: '2030-01-01 10:00', ends_at: start });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      title: ['This field may not be blank.'],
      servers: ['This list may not be empty.'],
      starts_at: [expect.stringContaining('Datetime has wrong format')],
    });
    expect((await post({ title: 't', servers: [s.inWindow], starts_at: start, ends_at: '2030-01-01T09:00:00Z' })).body).toEqual({
      ends_at: ['Must be after starts_at.'],
    });
    expect((await post({ title: 't', servers: [999_999], starts_at: start, ends_at: end })).body).toEqual({
      servers: ['Invalid pk "999999" - object does not exist.'],
    });
    expect((await post({ title: 't', servers: [2 ** 40], starts_at: start, ends_at: end })).status).toBe(400);
    const cron = await post({ title: 't', servers: [s.inWindow], cron: '61 * * *', duration_minutes: 0, timezone: 'Mars/Olympus' });
    expect(cron.status).toBe(400);
    expect(Object.keys(cron.body as object).sort()).toEqual(['cron', 'duration_minutes', 'timezone']);
    expect((await post({ title: 't', servers: [s.inWindow], cron: '*/5 * * * * *', duration_minutes: 5 })).body).toHaveProperty('cron');

    const reader = await s.api.login(READER);
    expect((await post({ title: 't', servers: [s.inWindow], starts_at: start, ends_at: end }, reader)).status).toBe(403);

    // A cron window without a zone runs in UTC; a PATCH with a fixed period turns it into one.
    const made = await post({ title: 'weekly', servers: [s.inWindow], cron: '0 3 * * 0', duration_minutes: 30 });
    expect(made.status).toBe(201);
    const id = (made.body as { id: number }).id;
    expect(made.body).toMatchObject({ timezone: 'UTC', next: { starts_at: expect.stringMatching(/T03:00:00\.000Z$/) } });
    const switched = await request(s.api.url)
      .patch(`/api/maintenance/${id}/`)
      .set('Authorization', `Bearer ${s.token}`)
      .send({ starts_at: start, ends_at: end });
    expect(switched.body).toMatchObject({
      cron: null,
      timezone: null,
      duration_minutes: null,
      starts_at: '2030-01-01T10:00:00.000Z',
      ends_at: '2030-01-01T12:00:00.000Z',
    });
    const list = await request(s.api.url).get(`/api/maintenance/?server_id=${s.inWindow}`).set('Authorization', `Bearer ${reader}`);
    expect(list.body).toMatchObject({ count: 1, results: [{ id, title: 'weekly' }] });
    expect((await request(s.api.url).delete(`/api/maintenance/${id}/`).set('Authorization', `Bearer ${reader}`)).status).toBe(403);
    expect((await request(s.api.url).delete(`/api/maintenance/${id}/`).set('Authorization', `Bearer ${s.token}`)).status).toBe(204);
    expect((await request(s.api.url).get(`/api/maintenance/${id}/`).set('Authorization', `Bearer ${s.token}`)).status).toBe(404);
    expect((await request(s.api.url).put('/api/maintenance/abc/').set('Authorization', `Bearer ${s.token}`).send({})).status).toBe(404);
  });
});
